package bucket

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tmpDirName is the hidden directory inside a Dir's root that holds objects
// being written. Keys never start with a dot, so it never shows in List.
const tmpDirName = ".tmp"

// staleTmpAge is how old a leftover temporary file must be before NewDir
// removes it: old enough that no live writer still owns it.
const staleTmpAge = time.Hour

// Dir is a Bucket over a local directory, the default of the all-in-one
// mode. Each object is one file at root/<key>; the key's segments are
// directories.
//
// Writes are atomic and durable: Put writes a temporary file under
// root/.tmp, syncs it, renames it into place and syncs the directory, so a
// crash leaves either the old object or the new one, never a part. Delete
// removes directories left empty.
//
// A key cannot be both a file and a directory, so a Dir cannot hold both
// "a" and "a/b": such a Put fails with ErrKeyConflict (see Bucket).
//
// Dir is safe for concurrent use, also by several processes sharing root.
type Dir struct {
	root string
	tmp  string
}

var (
	_ Bucket     = (*Dir)(nil)
	_ CreateOnly = (*Dir)(nil)
)

// NewDir opens (creating it if needed) a local-directory bucket at root and
// removes temporary files that a crashed writer left behind.
func NewDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", root, err)
	}
	d := &Dir{root: abs, tmp: filepath.Join(abs, tmpDirName)}
	if err := os.MkdirAll(d.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", root, err)
	}
	entries, err := os.ReadDir(d.tmp)
	if err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", root, err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTmpAge {
			_ = os.Remove(filepath.Join(d.tmp, e.Name())) // best effort; another NewDir may race us
		}
	}
	return d, nil
}

// Root returns the absolute path of the bucket's directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// Get opens the whole object.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := d.open(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return &ctxReadCloser{ctxReader{ctx, f}, f}, nil
}

// GetRange opens length bytes at off; see Bucket.
func (d *Dir) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(key, off); err != nil {
		return nil, err
	}
	f, size, err := d.open(ctx, "get range", key)
	if err != nil {
		return nil, err
	}
	start, n := clampRange(size, off, length)
	return &ctxReadCloser{ctxReader{ctx, io.NewSectionReader(f, start, n)}, f}, nil
}

func (d *Dir) open(ctx context.Context, op, key string) (*os.File, int64, error) {
	if err := ValidateKey(key); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, err)
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, fileErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s: %w", op, key, ErrNotExist)
	}
	return f, fi.Size(), nil
}

// fileErr turns the errors that mean "no such object" into ErrNotExist.
// ENOTDIR shows up when a parent segment of the key is a file.
func fileErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotExist
	}
	return err
}

// Stat returns the object's size and modification time.
func (d *Dir) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(d.path(key))
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, fileErr(err))
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// Put stores the object atomically, replacing any object under key.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return d.put(ctx, "put", key, r, size, false)
}

// PutIfAbsent stores the object only if key is free; otherwise it fails
// with ErrExist and leaves the existing object alone. It is atomic against
// other PutIfAbsent and Put calls, also from other processes.
func (d *Dir) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return d.put(ctx, "put if absent", key, r, size, true)
}

func (d *Dir) put(ctx context.Context, op, key string, r io.Reader, size int64, noReplace bool) (err error) {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if size < 0 {
		return fmt.Errorf("%s %s: negative size %d", op, key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	f, err := os.CreateTemp(d.tmp, "put-*")
	if errors.Is(err, fs.ErrNotExist) { // someone removed .tmp; make it again
		if err = os.MkdirAll(d.tmp, 0o755); err == nil {
			f, err = os.CreateTemp(d.tmp, "put-*")
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	tmpName := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil || noReplace {
			os.Remove(tmpName) // after a link, the object keeps its own name
		}
	}()
	if err := readExact(ctx, f, r, size); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return fmt.Errorf("%s %s: %w", op, key, cerr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}

	final := d.path(key)
	parent := filepath.Dir(final)
	// A concurrent Delete may remove the parent once it looks empty, between
	// our mkdirs and the rename; then make it again.
	for attempt := 0; ; attempt++ {
		if err := d.mkdirs(parent); err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				return fmt.Errorf("%s %s: a parent is an object: %w", op, key, ErrKeyConflict)
			}
			return fmt.Errorf("%s %s: %w", op, key, err)
		}
		if noReplace {
			err = os.Link(tmpName, final)
		} else {
			err = os.Rename(tmpName, final)
		}
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrNotExist) && attempt < 5 {
			continue
		}
		if fi, serr := os.Lstat(final); serr == nil && fi.IsDir() {
			return fmt.Errorf("%s %s: other keys start with %s/: %w", op, key, key, ErrKeyConflict)
		}
		if noReplace && errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s %s: %w", op, key, ErrExist)
		}
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return nil
}

// mkdirs is os.MkdirAll that also syncs each parent of a directory it
// creates, so the path to a new object survives a crash.
func (d *Dir) mkdirs(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("make directory %s: a key uses this name: %w", dir, syscall.ENOTDIR)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) || dir == d.root {
		return err
	}
	parent := filepath.Dir(dir)
	if err := d.mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the object and then the directories it leaves empty.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p := d.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		if fileErr(err) == ErrNotExist {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or gone): stop climbing
		}
	}
	return nil
}

// List walks only the directory that holds prefix, in lexical key order.
func (d *Dir) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	dirKey, namePrefix := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey, namePrefix = prefix[:i], prefix[i+1:]
	}
	return d.walk(ctx, dirKey, namePrefix, fn)
}

// walk lists the keys under dirKey whose next segment starts with
// namePrefix. Errors from fn come back as they are.
func (d *Dir) walk(ctx context.Context, dirKey, namePrefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", dirKey, err)
	}
	dir := d.root
	if dirKey != "" {
		dir = d.path(dirKey)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if fileErr(err) == ErrNotExist {
			return nil
		}
		return fmt.Errorf("list %s: %w", dirKey, err)
	}
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool {
		return strings.HasPrefix(e.Name(), ".") || !strings.HasPrefix(e.Name(), namePrefix)
	})
	// Keys compare byte by byte, and a directory "a" holds keys "a/...":
	// order it as "a/" so that "a-b" (with '-' < '/') comes first.
	slices.SortFunc(entries, func(a, b fs.DirEntry) int {
		return cmp.Compare(sortName(a), sortName(b))
	})
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", dirKey, err)
		}
		key := e.Name()
		if dirKey != "" {
			key = dirKey + "/" + key
		}
		if e.IsDir() {
			if err := d.walk(ctx, key, "", fn); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted while we listed
			}
			return fmt.Errorf("list %s: %w", key, err)
		}
		if err := fn(ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

func sortName(e fs.DirEntry) string {
	if e.IsDir() {
		return e.Name() + "/"
	}
	return e.Name()
}
