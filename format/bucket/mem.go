package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Bucket for tests and for small embedded uses. It
// follows the same contract as Dir, key rules and ErrKeyConflict included,
// so that a test on Mem catches what would fail on Dir or MinIO. Stored
// bytes are never shared with callers. Mem is safe for concurrent use.
type Mem struct {
	mu      sync.RWMutex
	objects map[string]memObject
	dirs    map[string]int // "a" and "a/b" for a stored "a/b/c": objects below
	now     func() time.Time
}

type memObject struct {
	data     []byte // never modified after Put
	modified time.Time
}

var (
	_ Bucket     = (*Mem)(nil)
	_ CreateOnly = (*Mem)(nil)
)

// NewMem returns an empty in-memory bucket.
func NewMem() *Mem {
	return &Mem{objects: make(map[string]memObject), dirs: make(map[string]int), now: time.Now}
}

func (m *Mem) lookup(ctx context.Context, op, key string) (memObject, error) {
	if err := ValidateKey(key); err != nil {
		return memObject{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, fmt.Errorf("%s %s: %w", op, key, err)
	}
	m.mu.RLock()
	o, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, fmt.Errorf("%s %s: %w", op, key, ErrNotExist)
	}
	return o, nil
}

// Get opens the whole object.
func (m *Mem) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := m.lookup(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return &ctxReadCloser{ctxReader{ctx, bytes.NewReader(o.data)}, io.NopCloser(nil)}, nil
}

// GetRange opens length bytes at off; see Bucket.
func (m *Mem) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(key, off); err != nil {
		return nil, err
	}
	o, err := m.lookup(ctx, "get range", key)
	if err != nil {
		return nil, err
	}
	start, n := clampRange(int64(len(o.data)), off, length)
	r := bytes.NewReader(o.data[start : start+n])
	return &ctxReadCloser{ctxReader{ctx, r}, io.NopCloser(nil)}, nil
}

// Stat returns the object's size and the time it was put.
func (m *Mem) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	o, err := m.lookup(ctx, "stat", key)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), Modified: o.modified}, nil
}

// Put stores a copy of the object, replacing any object under key.
func (m *Mem) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return m.put(ctx, "put", key, r, size, false)
}

// PutIfAbsent stores the object only if key is free; otherwise it fails
// with ErrExist.
func (m *Mem) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return m.put(ctx, "put if absent", key, r, size, true)
}

func (m *Mem) put(ctx context.Context, op, key string, r io.Reader, size int64, noReplace bool) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if size < 0 {
		return fmt.Errorf("%s %s: negative size %d", op, key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	p, err := readAllExact(ctx, r, size)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, exists := m.objects[key]
	if exists && noReplace {
		return fmt.Errorf("%s %s: %w", op, key, ErrExist)
	}
	if m.dirs[key] > 0 {
		return fmt.Errorf("%s %s: other keys start with %s/: %w", op, key, key, ErrKeyConflict)
	}
	for dir := range parents(key) {
		if _, ok := m.objects[dir]; ok {
			return fmt.Errorf("%s %s: parent %s is an object: %w", op, key, dir, ErrKeyConflict)
		}
	}
	if !exists {
		for dir := range parents(key) {
			m.dirs[dir]++
		}
	}
	m.objects[key] = memObject{data: p, modified: m.now()}
	return nil
}

// Delete removes the object if it is there.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; !ok {
		return nil
	}
	delete(m.objects, key)
	for dir := range parents(key) {
		if m.dirs[dir]--; m.dirs[dir] == 0 {
			delete(m.dirs, dir)
		}
	}
	return nil
}

// List calls fn in key order over a snapshot taken when List starts, so fn
// may itself use the bucket.
func (m *Mem) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	m.mu.RLock()
	var infos []ObjectInfo
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, ObjectInfo{Key: k, Size: int64(len(o.data)), Modified: o.modified})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// readAllExact reads exactly size bytes of r into a new slice. Sizes up to
// 64 MiB are allocated at once; larger ones grow as bytes arrive, so that a
// wrong size cannot allocate a huge buffer up front.
func readAllExact(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	if size <= 64<<20 {
		p := make([]byte, size)
		n, err := io.ReadFull(&ctxReader{ctx: ctx, r: r}, p)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("read body: got %d bytes, want %d: %w", n, size, io.ErrUnexpectedEOF)
		}
		return p, err
	}
	var buf bytes.Buffer
	if err := readExact(ctx, &buf, r, size); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents yields the key's directory prefixes: "a" and "a/b" for "a/b/c".
func parents(key string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range len(key) {
			if key[i] == '/' && !yield(key[:i]) {
				return
			}
		}
	}
}
