package wal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures Append of 1 KiB records on a t.TempDir, with 1
// and 16 concurrent appenders, under FsyncAlways and FsyncInterval. MB/s
// counts payload bytes; records/s is reported separately.
func BenchmarkAppend(b *testing.B) {
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncInterval} {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("fsync=%s/appenders=%d", policy, writers), func(b *testing.B) {
				cfg := testConfig(b)
				cfg.Fsync = policy
				cfg.FsyncInterval = 50 * time.Millisecond
				w := mustOpen(b, cfg)
				defer w.Close()
				rec := make([]byte, 1024)
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				start := time.Now()
				var n atomic.Int64
				if writers == 1 {
					for b.Loop() {
						if err := w.Append(context.Background(), rec); err != nil {
							b.Fatal(err)
						}
						n.Add(1)
					}
				} else {
					// b.Loop drives the count; each iteration is one append
					// handed to a pool of 16 appenders.
					work := make(chan struct{}, writers)
					var wg sync.WaitGroup
					for range writers {
						wg.Go(func() {
							for range work {
								if err := w.Append(context.Background(), rec); err != nil {
									b.Error(err)
								}
								n.Add(1)
							}
						})
					}
					for b.Loop() {
						work <- struct{}{}
					}
					close(work)
					wg.Wait()
				}
				b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "records/s")
			})
		}
	}
}
