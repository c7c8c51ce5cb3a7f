package wal

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kubemate/kmlog/format/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// crash stops the WAL as kill -9 would: no cursor write, no fsync.
func (w *WAL) crash() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
	_ = w.head.Close()
}

func testConfig(dir string) Config {
	c := DefaultConfig()
	c.Dir = dir
	c.SegmentSize = 4096
	c.MaxSizeBytes = 1 << 20
	c.CursorSyncInterval = time.Hour // tests call checkpoint themselves
	return c
}

func mustOpen(t testing.TB, cfg Config, clients ...string) *WAL {
	t.Helper()
	w, err := Open(cfg, clients, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// batch returns one stream with n entries whose lines name tenant and seq.
func batch(tenant string, seq, n int) []push.Stream {
	s := push.Stream{Labels: `{app="a"}`}
	for i := range n {
		s.Entries = append(s.Entries, push.Entry{Timestamp: int64(seq*1000 + i), Line: fmt.Sprintf("%s-%d-%d", tenant, seq, i)})
	}
	return []push.Stream{s}
}

func lines(recs ...Record) []string {
	var out []string
	for _, r := range recs {
		for _, s := range r.Streams {
			for _, e := range s.Entries {
				out = append(out, e.Line)
			}
		}
	}
	return out
}

func wantLines(tenant string, seqs []int, n int) []string {
	var out []string
	for _, seq := range seqs {
		for _, s := range batch(tenant, seq, n) {
			for _, e := range s.Entries {
				out = append(out, e.Line)
			}
		}
	}
	return out
}

// readN reads n records, failing after a generous deadline.
func readN(t testing.TB, r *Reader, n int) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []Record
	for range n {
		rec, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(out), err)
		}
		out = append(out, rec)
	}
	return out
}

// nothingMore checks that no record is ready.
func nothingMore(t testing.TB, r *Reader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rec, err := r.Next(ctx); err == nil {
		t.Fatalf("unexpected record %+v", rec)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
