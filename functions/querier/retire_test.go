package querier_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/functions/querier"
)

// retiringBucket plays a compactor that retires one file (data and
// index) right after the querier's first listing of the index prefix.
type retiringBucket struct {
	bucket.Bucket
	once sync.Once
}

func (r *retiringBucket) List(ctx context.Context, prefix string, fn func(bucket.ObjectInfo) error) error {
	var keys []string
	err := r.Bucket.List(ctx, prefix, func(oi bucket.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return fn(oi)
	})
	if err == nil && strings.Contains(prefix, "/index/") && len(keys) == 5 {
		r.once.Do(func() {
			// The scenario's fourth file (by ULID) holds the second half
			// of the middle part, which the second file holds whole.
			idx := keys[3]
			data := strings.Replace(strings.Replace(idx, "/index/", "/data/", 1), ".idx", ".parquet", 1)
			_ = r.Bucket.Delete(ctx, idx)
			_ = r.Bucket.Delete(ctx, data)
		})
	}
	return err
}

func TestRetiredFile(t *testing.T) {
	dir := newDir(t)
	s := newScenario(t, dir, 3000)
	s.ingesters = nil
	s.bkt = &retiringBucket{Bucket: dir}
	q := newQuerier(t, s, querier.DefaultConfig())
	c := qcase{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 2000, direction: "forward"}
	checkQueries(t, q, s.storage, false, []qcase{c})
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
