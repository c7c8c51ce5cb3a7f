package s3_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/buckettest"
	"github.com/kubemate/kmlog/format/bucket/s3"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }

func TestBucket(t *testing.T) {
	srv := miniotest.StartShared(t)
	buckettest.Run(t, func(t *testing.T) bucket.Bucket { return srv.NewBucket(t, t.Name()) })
}

func TestBucketPrefix(t *testing.T) {
	srv := miniotest.StartShared(t)
	name := srv.NewBucket(t, "prefix").Name()
	newPrefixed := func(t *testing.T, prefix string) *s3.Bucket {
		t.Helper()
		cfg := srv.Config(name)
		cfg.Prefix = prefix
		b, err := s3.New(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The suite passes inside a prefix...
	var n int
	buckettest.Run(t, func(t *testing.T) bucket.Bucket {
		n++
		return newPrefixed(t, "deploy"+strings.Repeat("x", n)+"/")
	})
	// ...and two prefixes in one bucket do not see each other.
	a, b := newPrefixed(t, "a/"), newPrefixed(t, "b/")
	if err := bucket.PutBytes(t.Context(), a, "k", []byte("in a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(t.Context(), "k"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("Stat through prefix b/ of a key put through a/ = %v, want ErrNotExist", err)
	}
	whole := newPrefixed(t, "")
	got, err := bucket.ReadAll(t.Context(), whole, "a/k")
	if err != nil || string(got) != "in a" {
		t.Errorf("Get(a/k) without prefix = %q, %v", got, err)
	}
}

// TestRestart checks that miniotest's Kill and Restart keep the data and
// the address, as tests of crash safety rely on.
func TestRestart(t *testing.T) {
	srv := miniotest.Start(t)
	b := srv.NewBucket(t, "restart")
	want := bytes.Repeat([]byte("acknowledged "), 1000)
	if err := bucket.PutBytes(t.Context(), b, "t/obj", want); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if srv.Running() {
		t.Fatal("Running after Kill")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := bucket.ReadAll(t.Context(), b, "t/obj")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Get after Kill and Restart = %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
}

func TestNewCreateBucket(t *testing.T) {
	srv := miniotest.StartShared(t)
	cfg := srv.Config("not-created")
	cfg.CreateBucket = false
	b, err := s3.New(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without create_bucket a missing bucket is an error, not ErrNotExist.
	_, err = b.Stat(t.Context(), "k")
	if err == nil || errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("Stat in a missing bucket = %v, want a non-ErrNotExist error", err)
	}
	// Creating twice is fine.
	cfg.Bucket, cfg.CreateBucket = "created-twice", true
	for range 2 {
		if _, err := s3.New(t.Context(), cfg, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := s3.DefaultConfig()
	good.Endpoint, good.Bucket = "minio:9000", "logs"
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate of a good config: %v", err)
	}
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad config fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// The fixture's first line is "# want: <text in the error>".
			first, _, _ := strings.Cut(string(raw), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: ...'", f)
			}
			cfg := s3.DefaultConfig()
			if err := yaml.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate = %v, want an error containing %q", err, want)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
endpoint: minio:9000
bucket: logs
region: eu-west-1
access_key_id: id
secret_access_key: secret
insecure: true
prefix: kmlog/
part_size: 8388608
max_idle_conns_per_host: 64
create_bucket: true
`
	var got s3.Config
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	want := s3.Config{
		Endpoint: "minio:9000", Bucket: "logs", Region: "eu-west-1",
		AccessKeyID: "id", SecretAccessKey: "secret", Insecure: true, Prefix: "kmlog/",
		PartSize: 8 << 20, MaxIdleConnsPerHost: 64, CreateBucket: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("yaml (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	if s := got.LogValue().String(); strings.Contains(s, "secret") && !strings.Contains(s, "<redacted>") {
		t.Errorf("LogValue shows the secret: %s", s)
	}
}
