package ship

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubemate/kmlog/agent/wal"
	"github.com/kubemate/kmlog/format/push"
)

// BenchmarkShip measures WAL → HTTP throughput against a local server that
// decodes every push. Each op ships 10,000 entries (100 records of 100);
// MB/s counts line bytes.
func BenchmarkShip(b *testing.B) {
	var decoded atomic.Int64
	srv := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), "", 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		decoded.Add(int64(req.Stats().Entries))
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	cfg := testClientConfig(srv.URL)
	cfg.BatchSize = 1 << 20
	cfg.BatchWait = 5 * time.Millisecond // the last partial batch of an op waits this long
	wcfg := wal.DefaultConfig()          // 16 MiB segments
	wcfg.Dir = b.TempDir()
	wcfg.Sync = wal.SyncInterval
	w, err := wal.Open(wcfg, []string{cfg.ClientName()}, wal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	c, err := New(cfg, w, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	line := "2024-01-01T00:00:00Z level=info msg=" + strings.Repeat("payload ", 20)
	var streams []push.Stream
	for r := range 100 {
		s := push.Stream{Labels: `{namespace="prod", app="api", pod="api-7d9f"}`}
		for i := range 100 {
			s.Entries = append(s.Entries, push.Entry{Timestamp: int64(r*100 + i), Line: line})
		}
		streams = append(streams, s)
	}
	b.SetBytes(int64(len(line) * 10_000))
	b.ReportAllocs()
	sent := 0.0
	for b.Loop() {
		for _, s := range streams {
			if err := w.Append(ctx, "t", []push.Stream{s}); err != nil {
				b.Fatal(err)
			}
		}
		sent += 10_000
		for testutil.ToFloat64(c.m.sentEntries.WithLabelValues(c.name)) < sent {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.ReportMetric(sent/b.Elapsed().Seconds(), "entries/s")
}
