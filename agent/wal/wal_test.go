package wal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
)

func TestRoundTrip(t *testing.T) {
	w := mustOpen(t, testConfig(t.TempDir()), "c1")
	defer w.Close()
	ctx := t.Context()
	for i := range 50 {
		tenant := []string{"a", "b"}[i%2]
		if err := w.Append(ctx, tenant, batch(tenant, i, 20)); err != nil {
			t.Fatal(err)
		}
	}
	meta := []push.Stream{{Labels: `{x="y"}`, Entries: []push.Entry{{Timestamp: 7, Line: "m", Metadata: labels.FromStrings("trace_id", "abc")}}}}
	if err := w.Append(ctx, "a", meta); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Segments < 3 {
		t.Fatalf("want several segments, got %+v", st)
	}
	ra, _ := w.NewReader("c1", "a")
	defer ra.Close()
	got := readN(t, ra, 26)
	if diff := cmp.Diff(wantLines("a", []int{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48}, 20), lines(got[:25]...)); diff != "" {
		t.Fatalf("tenant a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(meta, got[25].Streams); diff != "" {
		t.Fatalf("metadata record (-want +got):\n%s", diff)
	}
	if got[0].Tenant != "a" || got[0].Entries != 20 {
		t.Fatalf("record %+v", got[0])
	}
	nothingMore(t, ra)
	rb, _ := w.NewReader("c1", "b")
	defer rb.Close()
	if n := len(lines(readN(t, rb, 25)...)); n != 500 {
		t.Fatalf("tenant b: %d lines", n)
	}
	nothingMore(t, rb)
	tenants, _ := w.Tenants()
	if diff := cmp.Diff([]string{"a", "b"}, tenants); diff != "" {
		t.Fatal(diff)
	}
	if _, err := w.NewReader("nope", "a"); !errors.Is(err, ErrUnknownClient) {
		t.Fatalf("NewReader(unknown) = %v", err)
	}
}

func TestReaderWaits(t *testing.T) {
	w := mustOpen(t, testConfig(t.TempDir()), "c")
	defer w.Close()
	r, _ := w.NewReader("c", "t")
	defer r.Close()
	got := make(chan Record)
	go func() {
		rec, err := r.Next(t.Context())
		if err != nil {
			t.Error(err)
		}
		got <- rec
	}()
	if err := w.Append(t.Context(), "other", batch("other", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(t.Context(), "t", batch("t", 1, 1)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"t-1-0"}, lines(<-got)); diff != "" {
		t.Fatal(diff)
	}
}

// TestRestartResumesCursors acknowledges part of the log for one client,
// restarts (cleanly, then as a crash) and checks each (client, tenant)
// pair resumes at its own cursor.
func TestRestartResumesCursors(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	w := mustOpen(t, cfg, "c1", "c2")
	for i := range 40 {
		if err := w.Append(t.Context(), "a", batch("a", i, 3)); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := w.NewReader("c1", "a")
	recs := readN(t, r, 30)
	r.Ack(recs[9].End)
	r.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w = mustOpen(t, cfg, "c1", "c2")
	r1, _ := w.NewReader("c1", "a")
	if diff := cmp.Diff(wantLines("a", seq(10, 40), 3), lines(readN(t, r1, 30)...)); diff != "" {
		t.Fatalf("c1 after restart (-want +got):\n%s", diff)
	}
	nothingMore(t, r1)
	r2, _ := w.NewReader("c2", "a")
	if diff := cmp.Diff(wantLines("a", seq(0, 40), 3), lines(readN(t, r2, 40)...)); diff != "" {
		t.Fatalf("c2 after restart (-want +got):\n%s", diff)
	}
	// Appends after a restart go to a new segment and are read too.
	if err := w.Append(t.Context(), "a", batch("a", 40, 3)); err != nil {
		t.Fatal(err)
	}
	last := readN(t, r1, 1)[0]
	r1.Ack(last.End)
	w.checkpoint()                               // persisted
	r1.Ack(Pos{Segment: last.End.Segment + 100}) // not persisted: lost in the crash
	r1.Close()
	r2.Close()
	w.crash()

	w = mustOpen(t, cfg, "c1", "c2")
	defer w.Close()
	r1, _ = w.NewReader("c1", "a")
	defer r1.Close()
	nothingMore(t, r1)
	if err := w.Append(t.Context(), "a", batch("a", 41, 3)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLines("a", []int{41}, 3), lines(readN(t, r1, 1)...)); diff != "" {
		t.Fatalf("c1 after crash (-want +got):\n%s", diff)
	}
}

// TestDeleteAcked checks that sealed segments go once every client has
// acknowledged every tenant in them, and that an unacknowledged tenant
// only pins the segments that hold its records.
func TestDeleteAcked(t *testing.T) {
	w := mustOpen(t, testConfig(t.TempDir()), "c1", "c2")
	defer w.Close()
	ctx := t.Context()
	if err := w.Append(ctx, "slow", batch("slow", 0, 1)); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if err := w.Append(ctx, "fast", batch("fast", i, 20)); err != nil {
			t.Fatal(err)
		}
	}
	before := w.Stats()
	for _, c := range []string{"c1", "c2"} {
		r, _ := w.NewReader(c, "fast")
		recs := readN(t, r, 60)
		r.Ack(recs[59].End)
		r.Close()
	}
	w.checkpoint()
	after := w.Stats()
	// Only the first segment (holding "slow") and the head remain.
	if after.Segments != 2 || before.Segments < 4 {
		t.Fatalf("segments before %d, after %d", before.Segments, after.Segments)
	}
	for _, c := range []string{"c1", "c2"} {
		r, _ := w.NewReader(c, "slow")
		r.Ack(readN(t, r, 1)[0].End)
		r.Close()
	}
	w.checkpoint()
	if st := w.Stats(); st.Segments != 1 {
		t.Fatalf("segments after all acks: %+v", st)
	}
	ents, _ := os.ReadDir(w.cfg.Dir)
	if len(ents) != 2 { // head + cursors.json
		t.Fatalf("files left: %v", ents)
	}
}

func TestFullBlocks(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxSizeBytes = 3 * cfg.SegmentSize
	reg := prometheus.NewRegistry()
	w, err := Open(cfg, []string{"c"}, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := t.Context()
	n := 0
	for w.Stats().Bytes+600 < cfg.MaxSizeBytes {
		if err := w.Append(ctx, "a", batch("a", n, 20)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	// Full: an Append with a deadline gives up, nothing written.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	for err == nil {
		err = w.Append(short, "a", batch("a", n, 20))
		if err == nil {
			n++
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append on full WAL = %v", err)
	}
	if got := testutil.ToFloat64(w.m.full); got < 1 {
		t.Fatalf("full counter = %v", got)
	}
	// A blocked Append proceeds once the reader acknowledges.
	done := make(chan error)
	go func() { done <- w.Append(ctx, "a", batch("a", n, 20)) }()
	r, _ := w.NewReader("c", "a")
	defer r.Close()
	recs := readN(t, r, n)
	r.Ack(recs[n-1].End)
	w.checkpoint()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLines("a", []int{n}, 20), lines(readN(t, r, 1)...)); diff != "" {
		t.Fatal(diff)
	}
	if st := w.Stats(); st.Bytes > cfg.MaxSizeBytes {
		t.Fatalf("size %d above bound %d", st.Bytes, cfg.MaxSizeBytes)
	}
}

func TestFullDropOldest(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxSizeBytes = 3 * cfg.SegmentSize
	cfg.FullPolicy = PolicyDropOldest
	w := mustOpen(t, cfg, "c")
	defer w.Close()
	r, _ := w.NewReader("c", "a")
	defer r.Close()
	const total = 100
	for i := range total {
		if err := w.Append(t.Context(), "a", batch("a", i, 20)); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Bytes > cfg.MaxSizeBytes {
			t.Fatalf("size %d above bound %d", st.Bytes, cfg.MaxSizeBytes)
		}
	}
	dropped := testutil.ToFloat64(w.m.dropped)
	if dropped == 0 {
		t.Fatal("nothing dropped")
	}
	// The reader skips what was dropped and reads the rest in order.
	var got []Record
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	for {
		rec, err := r.Next(ctx)
		if err != nil {
			break
		}
		got = append(got, rec)
	}
	if len(got)*20+int(dropped) != total*20 {
		t.Fatalf("read %d entries, dropped %v, appended %d", len(got)*20, dropped, total*20)
	}
	first := int(dropped) / 20
	if diff := cmp.Diff(wantLines("a", seq(first, total), 20), lines(got...)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestTooLarge(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxSizeBytes = 2 * cfg.SegmentSize
	w := mustOpen(t, cfg, "c")
	defer w.Close()
	if err := w.Append(t.Context(), "a", batch("a", 0, 2000)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append = %v", err)
	}
}

func TestClosed(t *testing.T) {
	w := mustOpen(t, testConfig(t.TempDir()), "c")
	r, _ := w.NewReader("c", "a")
	defer r.Close()
	errc := make(chan error)
	go func() {
		_, err := r.Next(context.Background())
		errc <- err
	}()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
	if err := w.Append(t.Context(), "a", batch("a", 0, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := testConfig("/x")
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no dir", func(c *Config) { c.Dir = "" }},
		{"tiny segment", func(c *Config) { c.SegmentSize = 10 }},
		{"max below two segments", func(c *Config) { c.MaxSizeBytes = c.SegmentSize }},
		{"policy", func(c *Config) { c.FullPolicy = "panic" }},
		{"sync", func(c *Config) { c.Sync = "sometimes" }},
		{"sync interval", func(c *Config) { c.Sync, c.SyncInterval = SyncInterval, 0 }},
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		c := base
		tt.mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestSyncInterval checks that the interval policy writes and reads the
// same way.
func TestSyncInterval(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Sync, cfg.SyncInterval = SyncInterval, time.Millisecond
	w := mustOpen(t, cfg, "c")
	for i := range 10 {
		if err := w.Append(t.Context(), "", batch("", i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, cfg, "c")
	defer w.Close()
	r, _ := w.NewReader("c", "")
	defer r.Close()
	if diff := cmp.Diff(wantLines("", seq(0, 10), 2), lines(readN(t, r, 10)...)); diff != "" {
		t.Fatal(diff)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, segName(1))); err != nil {
		t.Fatal(err)
	}
}
