package bucket_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/buckettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newDir(t *testing.T) *bucket.Dir {
	t.Helper()
	d, err := bucket.NewDir(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDir(t *testing.T) {
	buckettest.Run(t, func(t *testing.T) bucket.Bucket { return newDir(t) })
}

func TestMem(t *testing.T) {
	buckettest.Run(t, func(*testing.T) bucket.Bucket { return bucket.NewMem() })
}

func TestDirLayout(t *testing.T) {
	d := newDir(t)
	ctx := t.Context()
	if err := bucket.PutBytes(ctx, d, "t/2024-01-02/data/x.parquet", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	// The object is a plain file at its key, and no temporary file is left.
	got, err := os.ReadFile(filepath.Join(d.Root(), "t", "2024-01-02", "data", "x.parquet"))
	if err != nil || string(got) != "abc" {
		t.Errorf("file at key = %q, %v", got, err)
	}
	tmp, err := os.ReadDir(filepath.Join(d.Root(), ".tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf(".tmp after Put = %v, %v; want empty", tmp, err)
	}
	// Delete removes the directories it empties, not the root.
	if err := d.Delete(ctx, "t/2024-01-02/data/x.parquet"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(d.Root())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{".tmp"}, names); diff != "" {
		t.Errorf("root after Delete (-want +got):\n%s", diff)
	}
}

func TestDirCrashLeftovers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := bucket.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	// A crashed writer leaves a temporary file: List never shows it, and
	// the next NewDir removes it once it is old.
	stale := filepath.Join(root, ".tmp", "put-crashed")
	fresh := filepath.Join(root, ".tmp", "put-live")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.List(t.Context(), "", func(bucket.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List with leftovers = %d objects, %v; want none", n, err)
	}
	if _, err := bucket.NewDir(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file after NewDir: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file after NewDir: %v, want kept", err)
	}
}

func TestKeyConflict(t *testing.T) {
	for name, b := range map[string]interface {
		bucket.Bucket
		bucket.CreateOnly
	}{"Dir": newDir(t), "Mem": bucket.NewMem()} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if err := bucket.PutBytes(ctx, b, "a/b", []byte("x")); err != nil {
				t.Fatal(err)
			}
			// "a" is the parent of a/b, and a/b/c would need a/b to be
			// one: both fail and change nothing.
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, bucket.ErrKeyConflict) {
					t.Errorf("%s = %v, want ErrKeyConflict", what, err)
				}
			}
			check("Put(a)", bucket.PutBytes(ctx, b, "a", []byte("y")))
			check("PutIfAbsent(a)", b.PutIfAbsent(ctx, "a", strings.NewReader("y"), 1))
			check("Put(a/b/c)", bucket.PutBytes(ctx, b, "a/b/c", []byte("z")))
			check("PutIfAbsent(a/b/c)", b.PutIfAbsent(ctx, "a/b/c", strings.NewReader("z"), 1))
			got, err := bucket.ReadAll(ctx, b, "a/b")
			if err != nil || string(got) != "x" {
				t.Errorf("Get(a/b) = %q, %v; want x", got, err)
			}
			// Overwriting is no conflict, and once a/b is gone "a" is free.
			if err := bucket.PutBytes(ctx, b, "a/b", []byte("x2")); err != nil {
				t.Errorf("overwrite a/b: %v", err)
			}
			if err := b.Delete(ctx, "a/b"); err != nil {
				t.Fatal(err)
			}
			if err := bucket.PutBytes(ctx, b, "a", []byte("y")); err != nil {
				t.Errorf("Put(a) after deleting a/b: %v", err)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	var s bucket.Stats
	s.Gets.Add(3)
	s.BytesRead.Add(100)
	a := s.Snapshot()
	s.Gets.Add(2)
	s.Puts.Add(1)
	s.BytesWritten.Add(7)
	b := s.Snapshot()
	d := b.Sub(a)
	if diff := cmp.Diff(bucket.Counts{Gets: 2, Puts: 1, BytesWritten: 7}, d); diff != "" {
		t.Errorf("Sub (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(b, a.Add(d)); diff != "" {
		t.Errorf("Add (-want +got):\n%s", diff)
	}
	if got := b.Requests(); got != 6 {
		t.Errorf("Requests = %d, want 6", got)
	}
	j, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"gets":2,"range_gets":0,"puts":1,"lists":0,"deletes":0,"stats":0,"bytes_read":0,"bytes_written":7}`
	if string(j) != want {
		t.Errorf("JSON = %s\nwant   %s", j, want)
	}
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"a/b/c.parquet", true},
		{"a..b/c", true},
		{"é", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"..", false},
		{"a/../b", false},
		{".hidden", false},
		{"a\\b", false},
		{"a\tb", false},
		{"\xc3", false},
		{strings.Repeat("x", bucket.MaxSegmentLen), true},
		{strings.Repeat("x", bucket.MaxSegmentLen+1), false},
		{strings.Repeat("x/", bucket.MaxKeyLen/2-1) + "xx", true},
		{strings.Repeat("x/", bucket.MaxKeyLen/2) + "x", false},
	}
	for _, tt := range tests {
		err := bucket.ValidateKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, bucket.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, not ErrInvalidKey", tt.key, err)
		}
	}
}
