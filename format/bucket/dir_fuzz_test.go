package bucket_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/bucket"
)

// FuzzDirKey checks that no key, valid or not, makes a Dir touch a file
// outside its root or panic, and that a valid key is stored at its path.
func FuzzDirKey(f *testing.F) {
	for _, k := range []string{
		"a", "a/b", "../x", "..", "/etc/passwd", "a/../../x", "a\\..\\..\\x", ".tmp/x",
		"a//b", "a/", "C:/x", "C:\\x", "\x00", "a/./b", "~/x", "$HOME/x", "é/../x",
		"t/2024-01-02/data/01HZX3K6F9Q5W2V8N4M7R1T0YB.parquet", "..a", "a..", " /..",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		d, err := bucket.NewDir(root)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(parent, "outside"), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		valid := bucket.ValidateKey(key) == nil
		if valid && !filepath.IsLocal(filepath.FromSlash(key)) {
			t.Fatalf("ValidateKey accepts %q, which is not a local path", key)
		}
		ctx := t.Context()
		putErr := bucket.PutBytes(ctx, d, key, []byte("data"))
		if !valid && !errors.Is(putErr, bucket.ErrInvalidKey) {
			t.Fatalf("Put(%q) of an invalid key = %v, want ErrInvalidKey", key, putErr)
		}
		if rc, err := d.Get(ctx, key); err == nil {
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !valid || string(got) != "data" {
				t.Fatalf("Get(%q) = %q (valid key: %v)", key, got, valid)
			}
		}
		if rc, err := d.GetRange(ctx, key, 1, 2); err == nil {
			rc.Close()
		}
		_, _ = d.Stat(ctx, key)
		_ = d.PutIfAbsent(ctx, key, strings.NewReader("other"), 5)
		_ = d.List(ctx, key, func(bucket.ObjectInfo) error { return nil })

		// Outside the root there is still just the one file.
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("key %q: %d entries beside root, want only root and outside", key, len(entries))
		}
		if got, err := os.ReadFile(filepath.Join(parent, "outside")); err != nil || string(got) != "secret" {
			t.Fatalf("key %q changed the file outside root: %q, %v", key, got, err)
		}
		// Inside the root, a valid key is a file at its path; nothing else.
		var files []string
		err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				rel, _ := filepath.Rel(root, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case valid && putErr == nil && (len(files) != 1 || files[0] != key):
			t.Fatalf("key %q stored as %q", key, files)
		case !valid && len(files) != 0:
			t.Fatalf("invalid key %q left files %q", key, files)
		}
		if err := d.Delete(ctx, key); valid && err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
	})
}
