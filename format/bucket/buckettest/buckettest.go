// Package buckettest is the acceptance suite of the bucket contract. Every
// bucket.Bucket implementation runs Run in its tests, so that code written
// against the local directory behaves the same on MinIO or S3:
//
//	func TestDir(t *testing.T) {
//		buckettest.Run(t, func(t *testing.T) bucket.Bucket {
//			b, err := bucket.NewDir(t.TempDir())
//			...
//			return b
//		})
//	}
package buckettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/bucket"
)

// Run runs the suite as subtests of t. newBucket returns an empty bucket
// for each subtest; it is called once per subtest and its cleanup belongs
// on the t it is given.
func Run(t *testing.T, newBucket func(t *testing.T) bucket.Bucket) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b bucket.Bucket)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"PutSize", testPutSize},
		{"GetRange", testGetRange},
		{"GetRangeEmptyObject", testGetRangeEmpty},
		{"NotExist", testNotExist},
		{"List", testList},
		{"ListStop", testListStop},
		{"Delete", testDelete},
		{"PutIfAbsent", testPutIfAbsent},
		{"Concurrent", testConcurrent},
		{"ConcurrentOverwrite", testConcurrentOverwrite},
		{"ContextCanceled", testContextCanceled},
		{"BadKeys", testBadKeys},
		{"GoodKeys", testGoodKeys},
		{"Metered", testMetered},
		{"Helpers", testHelpers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newBucket(t)) })
	}
}

// data returns n deterministic pseudo-random bytes that differ by seed.
func data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, b bucket.Bucket, key string, p []byte) {
	t.Helper()
	if err := bucket.PutBytes(t.Context(), b, key, p); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(p), err)
	}
}

func get(t *testing.T, b bucket.Bucket, key string) []byte {
	t.Helper()
	p, err := bucket.ReadAll(t.Context(), b, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return p
}

func readRange(t *testing.T, b bucket.Bucket, key string, off, length int64) ([]byte, error) {
	t.Helper()
	rc, err := b.GetRange(t.Context(), key, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes, want %d bytes (equal prefix %d)", what, len(got), len(want), commonPrefix(got, want))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func testRoundTrip(t *testing.T, b bucket.Bucket) {
	for _, size := range []int{0, 1, 1000, 64 << 10, 6<<20 + 3} {
		key := fmt.Sprintf("round/trip-%d", size)
		want := data(1, size)
		before := time.Now()
		put(t, b, key, want)
		sameBytes(t, "Get("+key+")", get(t, b, key), want)

		info, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat(%q): %v", key, err)
		}
		if info.Key != key || info.Size != int64(size) {
			t.Errorf("Stat(%q) = key %q size %d, want size %d", key, info.Key, info.Size, size)
		}
		// Clocks and the server's second resolution differ; only catch
		// a missing or absurd time.
		if d := info.Modified.Sub(before); d < -time.Hour || d > time.Hour {
			t.Errorf("Stat(%q).Modified = %v, put at %v", key, info.Modified, before)
		}
	}
}

func testOverwrite(t *testing.T, b bucket.Bucket) {
	key := "over/write"
	put(t, b, key, data(1, 5000))
	want := data(2, 10)
	put(t, b, key, want)
	sameBytes(t, "Get after overwrite", get(t, b, key), want)
	info, err := b.Stat(t.Context(), key)
	if err != nil || info.Size != 10 {
		t.Errorf("Stat after overwrite = %+v, %v; want size 10", info, err)
	}
	var n int
	if err := b.List(t.Context(), "over/", func(bucket.ObjectInfo) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("List after overwrite: %d objects, err %v; want 1", n, err)
	}
}

func testPutSize(t *testing.T, b bucket.Bucket) {
	ctx := t.Context()
	// A reader shorter than the announced size stores nothing.
	err := b.Put(ctx, "size/short", bytes.NewReader([]byte("12345")), 10)
	if err == nil {
		t.Errorf("Put of 5 bytes announced as 10: no error")
	}
	if _, err := b.Stat(ctx, "size/short"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("Stat after a short Put: %v, want ErrNotExist", err)
	}
	// Bytes past the size are not stored.
	if err := b.Put(ctx, "size/long", strings.NewReader("hello world"), 5); err != nil {
		t.Fatalf("Put with extra bytes: %v", err)
	}
	sameBytes(t, "Get(size/long)", get(t, b, "size/long"), []byte("hello"))
	// A negative size is refused.
	if err := b.Put(ctx, "size/negative", strings.NewReader("x"), -1); err == nil {
		t.Errorf("Put with size -1: no error")
	}
}

func testGetRange(t *testing.T, b bucket.Bucket) {
	const key = "range/obj"
	obj := data(3, 1000)
	put(t, b, key, obj)
	tests := []struct {
		off, length int64
		want        []byte
	}{
		{0, 10, obj[:10]},
		{0, 1, obj[:1]},
		{500, 100, obj[500:600]},
		{990, 10, obj[990:]},
		{999, 1, obj[999:]},
		{995, 10, obj[995:]},                // cut at the end
		{0, 5000, obj},                      // cut at the end
		{1000, 10, nil},                     // at the end: empty
		{5000, 1, nil},                      // past the end: empty
		{1000, -1, nil},                     // at the end, to the end
		{0, -1, obj},                        // all
		{10, -1, obj[10:]},                  // to the end
		{10, -7, obj[10:]},                  // any negative length reads to the end
		{0, 0, nil},                         // empty range
		{500, 0, nil},                       // empty range
		{1, math.MaxInt64, obj[1:]},         // no overflow
		{math.MaxInt64, math.MaxInt64, nil}, // no overflow
	}
	for _, tt := range tests {
		got, err := readRange(t, b, key, tt.off, tt.length)
		if err != nil {
			t.Errorf("GetRange(%d, %d): %v", tt.off, tt.length, err)
			continue
		}
		sameBytes(t, fmt.Sprintf("GetRange(%d, %d)", tt.off, tt.length), got, tt.want)
	}
	for _, off := range []int64{-1, math.MinInt64} {
		if _, err := b.GetRange(t.Context(), key, off, 10); !errors.Is(err, bucket.ErrInvalidRange) {
			t.Errorf("GetRange(%d, 10) = %v, want ErrInvalidRange", off, err)
		}
	}
}

func testGetRangeEmpty(t *testing.T, b bucket.Bucket) {
	put(t, b, "range/empty", nil)
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {0, 10}, {5, 1}, {5, -1}} {
		got, err := readRange(t, b, "range/empty", r[0], r[1])
		if err != nil || len(got) != 0 {
			t.Errorf("GetRange(%d, %d) of an empty object = %d bytes, %v; want empty", r[0], r[1], len(got), err)
		}
	}
}

func testNotExist(t *testing.T, b bucket.Bucket) {
	ctx := t.Context()
	put(t, b, "exists/obj", []byte("x"))
	put(t, b, "exists/dir/child", []byte("y"))
	for _, key := range []string{
		"missing",
		"exists/missing",
		"exists/obj/child", // below an object
		"exists/dir",       // a prefix of other keys, not an object
		"exists/di",
	} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, bucket.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s(%q) = %v, want ErrNotExist", op, key, err)
			}
		}
		rc, err := b.Get(ctx, key)
		if err == nil {
			rc.Close()
		}
		check("Get", err)
		for _, r := range [][2]int64{{0, -1}, {0, 10}, {100, 10}, {0, 0}} {
			rc, err := b.GetRange(ctx, key, r[0], r[1])
			if err == nil {
				rc.Close()
			}
			check(fmt.Sprintf("GetRange(%d, %d)", r[0], r[1]), err)
		}
		_, err = b.Stat(ctx, key)
		check("Stat", err)
	}
}

func testList(t *testing.T, b bucket.Bucket) {
	keys := []string{
		"a/b/c", "a/b/d/e", "a/bc", "a/b-c", "a/b.x", "a-b", "a0",
		"b/x", "ab/y", "a/b/d/f/g/h",
	}
	sizes := map[string]int64{}
	for i, k := range keys {
		put(t, b, k, data(uint64(i), i))
		sizes[k] = int64(i)
	}
	slices.Sort(keys)
	for _, prefix := range []string{"", "a", "a/", "a/b", "a/b/", "a/b/c", "a/b/d", "a-", "ab", "b/", "b/x", "zz", "a/bcd", "c/"} {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		var got []string
		err := b.List(t.Context(), prefix, func(info bucket.ObjectInfo) error {
			got = append(got, info.Key)
			if info.Size != sizes[info.Key] {
				t.Errorf("List(%q): %s has size %d, want %d", prefix, info.Key, info.Size, sizes[info.Key])
			}
			return nil
		})
		if err != nil {
			t.Errorf("List(%q): %v", prefix, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List(%q) keys (-want +got):\n%s", prefix, diff)
		}
	}
	for _, prefix := range []string{"/", "../", "a//", "a/../", "a\\b", ".tmp/", "a/.x"} {
		err := b.List(t.Context(), prefix, func(bucket.ObjectInfo) error { return nil })
		if !errors.Is(err, bucket.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

var errStop = errors.New("stop here")

func testListStop(t *testing.T, b bucket.Bucket) {
	for i := range 5 {
		put(t, b, fmt.Sprintf("stop/%d", i), []byte{byte(i)})
	}
	var calls int
	err := b.List(t.Context(), "stop/", func(bucket.ObjectInfo) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("List with fn failing on the 2nd object: err %v after %d calls; want errStop after 2", err, calls)
	}
	// fn may use the bucket.
	err = b.List(t.Context(), "stop/", func(info bucket.ObjectInfo) error {
		_, err := b.Stat(t.Context(), info.Key)
		return err
	})
	if err != nil {
		t.Errorf("List with fn calling Stat: %v", err)
	}
}

func testDelete(t *testing.T, b bucket.Bucket) {
	ctx := t.Context()
	put(t, b, "del/x/y/z", []byte("z"))
	put(t, b, "del/keep", []byte("k"))
	for range 2 { // deleting twice is fine
		if err := b.Delete(ctx, "del/x/y/z"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := b.Delete(ctx, "del/never"); err != nil {
		t.Errorf("Delete of a missing object: %v", err)
	}
	if err := b.Delete(ctx, "del/x"); err != nil {
		t.Errorf("Delete of a key that is only a prefix: %v", err)
	}
	if _, err := b.Stat(ctx, "del/x/y/z"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("Stat after Delete = %v, want ErrNotExist", err)
	}
	var got []string
	if err := b.List(ctx, "del/", func(i bucket.ObjectInfo) error { got = append(got, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"del/keep"}, got); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	// The emptied path can be used again.
	put(t, b, "del/x/y/z2", []byte("again"))
	sameBytes(t, "Get after re-put", get(t, b, "del/x/y/z2"), []byte("again"))
}

func testPutIfAbsent(t *testing.T, b bucket.Bucket) {
	c, ok := b.(bucket.CreateOnly)
	if !ok {
		t.Skip("bucket does not implement bucket.CreateOnly")
	}
	ctx := t.Context()
	if err := c.PutIfAbsent(ctx, "cas/one", strings.NewReader("first"), 5); err != nil {
		t.Fatalf("PutIfAbsent on a free key: %v", err)
	}
	err := c.PutIfAbsent(ctx, "cas/one", strings.NewReader("second"), 6)
	if !errors.Is(err, bucket.ErrExist) {
		t.Errorf("PutIfAbsent on a taken key = %v, want ErrExist", err)
	}
	sameBytes(t, "Get after a refused PutIfAbsent", get(t, b, "cas/one"), []byte("first"))

	// After Delete the key is free again.
	if err := b.Delete(ctx, "cas/one"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutIfAbsent(ctx, "cas/one", strings.NewReader("third"), 5); err != nil {
		t.Errorf("PutIfAbsent after Delete: %v", err)
	}

	// Of racing writers exactly one wins, and its bytes are what is stored.
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			p := data(uint64(i), 20000)
			errs[i] = c.PutIfAbsent(ctx, "cas/race", bytes.NewReader(p), int64(len(p)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("PutIfAbsent: writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, bucket.ErrExist):
			t.Errorf("PutIfAbsent writer %d: %v, want nil or ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("PutIfAbsent: no writer won")
	}
	sameBytes(t, "Get of the raced key", get(t, b, "cas/race"), data(uint64(winner), 20000))
}

func testConcurrent(t *testing.T, b bucket.Bucket) {
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprintf("conc/%d/%d", w, i)
				p := data(uint64(w*100+i), 1000+i)
				if err := bucket.PutBytes(t.Context(), b, key, p); err != nil {
					t.Errorf("Put(%q): %v", key, err)
					return
				}
				got, err := bucket.ReadAll(t.Context(), b, key)
				if err != nil || !bytes.Equal(got, p) {
					t.Errorf("Get(%q) = %d bytes, %v; want what was put", key, len(got), err)
				}
			}
		})
	}
	wg.Wait()
	var n int
	if err := b.List(t.Context(), "conc/", func(bucket.ObjectInfo) error { n++; return nil }); err != nil || n != workers*perWorker {
		t.Errorf("List after concurrent puts: %d objects, %v; want %d", n, err, workers*perWorker)
	}
}

// testConcurrentOverwrite checks that a reader sees one whole version of
// an object that is being replaced, never a mix or a part.
func testConcurrentOverwrite(t *testing.T, b bucket.Bucket) {
	const key, versions, size = "atomic/obj", 4, 256 << 10
	put(t, b, key, data(0, size))
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wg.Go(func() {
		defer cancel()
		for i := range 3 * versions {
			if err := bucket.PutBytes(ctx, b, key, data(uint64(i%versions), size)); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	})
	valid := map[string]bool{}
	for v := range versions {
		valid[string(data(uint64(v), size))] = true
	}
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				got, err := bucket.ReadAll(t.Context(), b, key)
				if err != nil {
					t.Errorf("Get during overwrites: %v", err)
					return
				}
				if !valid[string(got)] {
					t.Errorf("Get during overwrites: %d bytes that match no version", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
}

func testContextCanceled(t *testing.T, b bucket.Bucket) {
	put(t, b, "ctx/obj", data(4, 4<<20))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", op, err)
		}
	}
	_, err := b.Get(ctx, "ctx/obj")
	check("Get", err)
	_, err = b.GetRange(ctx, "ctx/obj", 0, 10)
	check("GetRange", err)
	_, err = b.Stat(ctx, "ctx/obj")
	check("Stat", err)
	check("Put", bucket.PutBytes(ctx, b, "ctx/new", []byte("x")))
	check("List", b.List(ctx, "", func(bucket.ObjectInfo) error { return nil }))
	check("Delete", b.Delete(ctx, "ctx/obj"))
	if _, err := b.Stat(t.Context(), "ctx/new"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("Stat of a canceled Put's key = %v, want ErrNotExist", err)
	}
	sameBytes(t, "Get after a canceled Delete", get(t, b, "ctx/obj"), data(4, 4<<20))

	// Canceling while the body streams stops the Put and stores nothing.
	pctx, pcancel := context.WithCancel(t.Context())
	body := &cancelingReader{r: bytes.NewReader(data(5, 4<<20)), after: 1 << 20, cancel: pcancel}
	if err := b.Put(pctx, "ctx/streamed", body, 4<<20); err == nil {
		t.Errorf("Put whose context is canceled midway: no error")
	}
	if _, err := b.Stat(t.Context(), "ctx/streamed"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("Stat of a Put canceled midway = %v, want ErrNotExist", err)
	}

	// Canceling while reading stops the reader.
	rctx, rcancel := context.WithCancel(t.Context())
	rc, err := b.Get(rctx, "ctx/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	rcancel()
	if n, err := io.Copy(io.Discard, rc); err == nil {
		t.Errorf("reading on after cancel: read %d more bytes and no error", n)
	}
}

type cancelingReader struct {
	r      io.Reader
	n      int
	after  int
	cancel func()
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

var badKeys = []string{
	strings.Repeat("s", bucket.MaxSegmentLen+1), "", "/", "/a", "a/", "a//b", ".", "..", "../x", "a/../b", "a/..", "./a", "a/./b",
	".tmp/x", ".tmp", "a/.hidden", "a\\b", "..\\x", "a\x00b", "a\nb", "\xff", strings.Repeat("k", bucket.MaxKeyLen+1),
}

func testBadKeys(t *testing.T, b bucket.Bucket) {
	ctx := t.Context()
	for _, key := range badKeys {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, bucket.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
			}
		}
		_, err := b.Get(ctx, key)
		check("Get", err)
		_, err = b.GetRange(ctx, key, 0, 1)
		check("GetRange", err)
		_, err = b.Stat(ctx, key)
		check("Stat", err)
		check("Put", bucket.PutBytes(ctx, b, key, []byte("x")))
		check("Delete", b.Delete(ctx, key))
		if c, ok := b.(bucket.CreateOnly); ok {
			check("PutIfAbsent", c.PutIfAbsent(ctx, key, strings.NewReader("x"), 1))
		}
	}
	var n int
	if err := b.List(ctx, "", func(bucket.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List after bad puts: %d objects, %v; want none", n, err)
	}
}

func testGoodKeys(t *testing.T, b bucket.Bucket) {
	keys := []string{
		"a", "a b", "a:b", "a..b", "a.", "é/ü/日本", "t-1/2024-01-02/data/01HZX3K6F9Q5W2V8N4M7R1T0YB.parquet",
		"x=1/y_2/z~3", longKey(),
	}
	for i, key := range keys {
		put(t, b, key, data(uint64(i), i+1))
	}
	for i, key := range keys {
		sameBytes(t, "Get("+key+")", get(t, b, key), data(uint64(i), i+1))
	}
	var got []string
	if err := b.List(t.Context(), "", func(i bucket.ObjectInfo) error { got = append(got, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func testMetered(t *testing.T, raw bucket.Bucket) {
	ctx := t.Context()
	var s bucket.Stats
	b := bucket.Metered(raw, &s)
	_, rawCO := raw.(bucket.CreateOnly)
	_, co := b.(bucket.CreateOnly)
	if co != rawCO {
		t.Errorf("Metered CreateOnly = %v, wrapped bucket's = %v", co, rawCO)
	}
	obj := data(6, 100)
	put(t, b, "m/obj", obj)
	sameBytes(t, "Get", get(t, b, "m/obj"), obj)
	got, err := readRange(t, b, "m/obj", 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "GetRange", got, obj[10:30])
	rc, err := b.GetRange(ctx, "m/obj", 0, -1) // opened but read only in part
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := b.Get(ctx, "m/missing"); !errors.Is(err, bucket.ErrNotExist) { // failed calls count
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "m/obj"); err != nil {
		t.Fatal(err)
	}
	if err := b.List(ctx, "m/", func(bucket.ObjectInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "m/obj"); err != nil {
		t.Fatal(err)
	}
	_ = bucket.PutBytes(ctx, b, "m/bad/", []byte("x")) // fails: counted as a put, no bytes
	want := bucket.Counts{
		Gets: 2, RangeGets: 2, Puts: 2, Lists: 1, Deletes: 1, Stats: 1,
		BytesRead: 100 + 20 + 7, BytesWritten: 100,
	}
	if co {
		if err := b.(bucket.CreateOnly).PutIfAbsent(ctx, "m/cas", strings.NewReader("abc"), 3); err != nil {
			t.Fatal(err)
		}
		want.Puts++
		want.BytesWritten += 3
	}
	if diff := cmp.Diff(want, s.Snapshot()); diff != "" {
		t.Errorf("Metered counts (-want +got):\n%s", diff)
	}
}

func testHelpers(t *testing.T, b bucket.Bucket) {
	obj := data(7, 3000)
	put(t, b, "h/obj", obj)
	r := bucket.NewReaderAt(t.Context(), b, "h/obj", int64(len(obj)))
	tests := []struct {
		off     int64
		n       int
		want    []byte
		wantErr error
	}{
		{0, 100, obj[:100], nil},
		{2900, 100, obj[2900:], nil},
		{2950, 100, obj[2950:], io.EOF},
		{3000, 10, nil, io.EOF},
		{0, 0, nil, nil},
	}
	for _, tt := range tests {
		p := make([]byte, tt.n)
		n, err := r.ReadAt(p, tt.off)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("ReadAt(%d bytes at %d) error = %v, want %v", tt.n, tt.off, err, tt.wantErr)
		}
		sameBytes(t, fmt.Sprintf("ReadAt(%d bytes at %d)", tt.n, tt.off), p[:n], tt.want)
	}
	// A size larger than the object is a short read, reported.
	long := bucket.NewReaderAt(t.Context(), b, "h/obj", 4000)
	if _, err := long.ReadAt(make([]byte, 100), 2950); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAt past the real end = %v, want io.ErrUnexpectedEOF", err)
	}
	missing := bucket.NewReaderAt(t.Context(), b, "h/missing", 10)
	if _, err := missing.ReadAt(make([]byte, 5), 0); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("ReadAt of a missing object = %v, want ErrNotExist", err)
	}
	if _, err := bucket.ReadAll(t.Context(), b, "h/missing"); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("ReadAll of a missing object = %v, want ErrNotExist", err)
	}
}

// longKey returns a key of nearly MaxKeyLen bytes made of segments of the
// longest allowed length.
func longKey() string {
	var segs []string
	n := -1
	for n+1+bucket.MaxSegmentLen <= bucket.MaxKeyLen {
		segs = append(segs, strings.Repeat(string(rune('a'+len(segs))), bucket.MaxSegmentLen))
		n += 1 + bucket.MaxSegmentLen
	}
	if rest := bucket.MaxKeyLen - n - 1; rest > 0 {
		segs = append(segs, strings.Repeat("z", rest))
	}
	return strings.Join(segs, "/")
}
