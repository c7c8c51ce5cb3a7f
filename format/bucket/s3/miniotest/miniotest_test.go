package miniotest_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }

func TestStartShared(t *testing.T) {
	a := miniotest.StartShared(t)
	b := miniotest.StartShared(t)
	if a != b {
		t.Errorf("StartShared returned two servers under Main")
	}
	b1, b2 := a.NewBucket(t, "Same Name!"), a.NewBucket(t, "Same Name!")
	if b1.Name() == b2.Name() || !strings.HasPrefix(b1.Name(), "same-name-") {
		t.Errorf("NewBucket names = %q, %q; want distinct, starting same-name-", b1.Name(), b2.Name())
	}
	if err := bucket.PutBytes(t.Context(), b1, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Stat(t.Context(), "k"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("a fresh bucket sees another's key: %v", err)
	}
}

func TestStopRestart(t *testing.T) {
	srv := miniotest.Start(t)
	b := srv.NewBucket(t, "stop")
	endpoint := srv.Endpoint
	if err := bucket.PutBytes(t.Context(), b, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if srv.Running() {
		t.Fatal("Running after Stop")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.Endpoint != endpoint || !srv.Running() {
		t.Errorf("after Restart: endpoint %s (was %s), running %v", srv.Endpoint, endpoint, srv.Running())
	}
	got, err := bucket.ReadAll(t.Context(), b, "k")
	if err != nil || string(got) != "v" {
		t.Errorf("Get after Stop and Restart = %q, %v", got, err)
	}
}

func TestBinaryMissing(t *testing.T) {
	t.Setenv("KMLOG_MINIO", "/nonexistent/minio")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := miniotest.Binary()
	if err == nil {
		t.Fatal("Binary found a minio where there is none")
	}
	for _, want := range []string{"/nonexistent/minio", miniotest.InstallHint} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Binary error %q does not mention %q", err, want)
		}
	}
}
