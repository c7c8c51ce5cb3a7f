package wal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/push"
)

func benchStreams() ([]push.Stream, int64) {
	line := "2024-01-01T00:00:00Z level=info msg=" + strings.Repeat("payload ", 20)
	s := push.Stream{Labels: `{namespace="prod", app="api", pod="api-7d9f", container="api"}`}
	var n int64
	for i := range 100 {
		s.Entries = append(s.Entries, push.Entry{Timestamp: int64(i), Line: line})
		n += int64(len(line))
	}
	return []push.Stream{s}, n
}

func benchConfig(b *testing.B, sync string) Config {
	cfg := DefaultConfig()
	cfg.Dir = b.TempDir()
	cfg.Sync = sync
	cfg.FullPolicy = PolicyDropOldest // the benchmark never acknowledges
	cfg.MaxSizeBytes = 256 << 20
	return cfg
}

// BenchmarkAppend appends 100-entry records (about 19 KiB of lines);
// MB/s counts line bytes.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []string{SyncAlways, SyncInterval} {
		b.Run(sync, func(b *testing.B) {
			w := mustOpen(b, benchConfig(b, sync), "c")
			defer w.Close()
			streams, n := benchStreams()
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Append(context.Background(), "t", streams); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendParallel shows group commit: concurrent appenders share
// fsyncs.
func BenchmarkAppendParallel(b *testing.B) {
	w := mustOpen(b, benchConfig(b, SyncAlways), "c")
	defer w.Close()
	streams, n := benchStreams()
	b.SetBytes(n)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Append(context.Background(), "t", streams); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRead reads 100-entry records back.
func BenchmarkRead(b *testing.B) {
	cfg := benchConfig(b, SyncInterval)
	cfg.SyncInterval = time.Hour
	w := mustOpen(b, cfg, "c")
	defer w.Close()
	streams, n := benchStreams()
	const recs = 2000
	for range recs {
		if err := w.Append(context.Background(), "t", streams); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n * recs)
	b.ReportAllocs()
	for b.Loop() {
		r, err := w.NewReader("c", "t")
		if err != nil {
			b.Fatal(err)
		}
		for range recs {
			if _, err := r.Next(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}
