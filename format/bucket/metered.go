package bucket

import (
	"context"
	"io"
	"sync/atomic"
)

// Stats counts the requests made through a Metered bucket and the bytes
// moved. It is safe for concurrent use; share one Stats between buckets to
// add them up. The zero value is ready.
type Stats struct {
	Gets         atomic.Int64 // Get calls
	RangeGets    atomic.Int64 // GetRange calls
	Puts         atomic.Int64 // Put and PutIfAbsent calls
	Lists        atomic.Int64 // List calls (an S3 listing may take several pages)
	Deletes      atomic.Int64 // Delete calls
	Stats        atomic.Int64 // Stat calls
	BytesRead    atomic.Int64 // bytes read by callers from returned readers
	BytesWritten atomic.Int64 // sizes of the objects stored by successful puts
}

// Counts is a plain copy of Stats, for reports and for the difference
// between two moments. The JSON form is what functions return as their
// cost.
type Counts struct {
	Gets         int64 `json:"gets"`
	RangeGets    int64 `json:"range_gets"`
	Puts         int64 `json:"puts"`
	Lists        int64 `json:"lists"`
	Deletes      int64 `json:"deletes"`
	Stats        int64 `json:"stats"`
	BytesRead    int64 `json:"bytes_read"`
	BytesWritten int64 `json:"bytes_written"`
}

// Snapshot returns the current counts. Each counter is read atomically,
// but the set is not one instant if requests are in flight.
func (s *Stats) Snapshot() Counts {
	return Counts{
		Gets:         s.Gets.Load(),
		RangeGets:    s.RangeGets.Load(),
		Puts:         s.Puts.Load(),
		Lists:        s.Lists.Load(),
		Deletes:      s.Deletes.Load(),
		Stats:        s.Stats.Load(),
		BytesRead:    s.BytesRead.Load(),
		BytesWritten: s.BytesWritten.Load(),
	}
}

// Add returns c + o, field by field.
func (c Counts) Add(o Counts) Counts {
	return Counts{
		Gets:         c.Gets + o.Gets,
		RangeGets:    c.RangeGets + o.RangeGets,
		Puts:         c.Puts + o.Puts,
		Lists:        c.Lists + o.Lists,
		Deletes:      c.Deletes + o.Deletes,
		Stats:        c.Stats + o.Stats,
		BytesRead:    c.BytesRead + o.BytesRead,
		BytesWritten: c.BytesWritten + o.BytesWritten,
	}
}

// Sub returns c - o, field by field: the cost of the work done between
// two snapshots.
func (c Counts) Sub(o Counts) Counts {
	return Counts{
		Gets:         c.Gets - o.Gets,
		RangeGets:    c.RangeGets - o.RangeGets,
		Puts:         c.Puts - o.Puts,
		Lists:        c.Lists - o.Lists,
		Deletes:      c.Deletes - o.Deletes,
		Stats:        c.Stats - o.Stats,
		BytesRead:    c.BytesRead - o.BytesRead,
		BytesWritten: c.BytesWritten - o.BytesWritten,
	}
}

// Requests returns the number of requests of every kind.
func (c Counts) Requests() int64 {
	return c.Gets + c.RangeGets + c.Puts + c.Lists + c.Deletes + c.Stats
}

// Metered wraps b so that every call is counted in s, failed calls
// included. Bytes read are counted as callers read them from the returned
// readers; bytes written are counted when a put succeeds. The result implements CreateOnly exactly when b does.
func Metered(b Bucket, s *Stats) Bucket {
	if s == nil {
		panic("BUG: bucket.Metered with nil Stats")
	}
	m := &metered{b: b, s: s}
	if c, ok := b.(CreateOnly); ok {
		return &meteredCreateOnly{metered: m, c: c}
	}
	return m
}

type metered struct {
	b Bucket
	s *Stats
}

type meteredCreateOnly struct {
	*metered
	c CreateOnly
}

func (m *meteredCreateOnly) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	m.s.Puts.Add(1)
	err := m.c.PutIfAbsent(ctx, key, r, size)
	if err == nil {
		m.s.BytesWritten.Add(size)
	}
	return err
}

func (m *metered) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	m.s.Gets.Add(1)
	rc, err := m.b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingReadCloser{countingReader{r: rc, n: &m.s.BytesRead}, rc}, nil
}

func (m *metered) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	m.s.RangeGets.Add(1)
	rc, err := m.b.GetRange(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	return &countingReadCloser{countingReader{r: rc, n: &m.s.BytesRead}, rc}, nil
}

func (m *metered) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	m.s.Puts.Add(1)
	// r goes through untouched: S3 clients look for io.Seeker and
	// io.ReaderAt on it to retry and to upload parts in parallel.
	err := m.b.Put(ctx, key, r, size)
	if err == nil {
		m.s.BytesWritten.Add(size)
	}
	return err
}

func (m *metered) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	m.s.Stats.Add(1)
	return m.b.Stat(ctx, key)
}

func (m *metered) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	m.s.Lists.Add(1)
	return m.b.List(ctx, prefix, fn)
}

func (m *metered) Delete(ctx context.Context, key string) error {
	m.s.Deletes.Add(1)
	return m.b.Delete(ctx, key)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReadCloser struct {
	countingReader
	c io.Closer
}

func (c *countingReadCloser) Close() error { return c.c.Close() }
