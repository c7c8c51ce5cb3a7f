package querier_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/functions/querier"
)

// retiringBucket plays a compactor that retires one file (index, then
// data) just before the querier's first read of that data file, after
// the querier has listed and decoded the file's index.
type retiringBucket struct {
	bucket.Bucket
	index, data string
	once        sync.Once
}

func (r *retiringBucket) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if key == r.data {
		r.once.Do(func() {
			_ = r.Bucket.Delete(ctx, r.index)
			_ = r.Bucket.Delete(ctx, r.data)
		})
	}
	return r.Bucket.GetRange(ctx, key, off, n)
}

func TestRetiredFile(t *testing.T) {
	dir := newDir(t)
	s := newScenario(t, dir, 3000)
	s.ingesters = nil
	var keys []string
	_ = dir.List(t.Context(), objkey.IndexPrefix(tid, testDay()), func(oi bucket.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	// The scenario's fourth file (by ULID) holds the second half of the
	// middle part, which the second file holds whole.
	k, _ := objkey.Parse(keys[3])
	rb := &retiringBucket{Bucket: dir, index: keys[3], data: objkey.Data(k.Tenant, k.Day, k.ID)}
	s.bkt = rb
	q := newQuerier(t, s, querier.DefaultConfig())
	c := qcase{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 2000, direction: "forward"}
	checkQueries(t, q, s.storage, false, []qcase{c})
	if _, err := dir.Stat(t.Context(), rb.data); !errors.Is(err, bucket.ErrNotExist) {
		t.Errorf("the file was not retired: %v", err)
	}
}

// cancelingBucket cancels the query at its first data read.
type cancelingBucket struct {
	bucket.Bucket
	cancel context.CancelFunc
}

func (c *cancelingBucket) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.cancel()
	return c.Bucket.GetRange(ctx, key, off, n)
}

func TestCanceledMidway(t *testing.T) {
	dir := newDir(t)
	s := newScenario(t, dir, 3000)
	ctx, cancel := context.WithCancel(t.Context())
	s.bkt = &cancelingBucket{Bucket: dir, cancel: cancel}
	q := newQuerier(t, s, querier.DefaultConfig())
	_, err := q.Query(ctx, qcase{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 100}.request(true))
	if !errors.Is(err, context.Canceled) || querier.HTTPStatus(err) != 499 {
		t.Errorf("err %v, want context.Canceled", err)
	}
	// goleak (TestMain) checks that the file readers and the ingester
	// calls have stopped.
}
