package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

func TestRoundTrip(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	want := []string{"", "a", strings.Repeat("x", 100<<10), "last"}
	appendAll(t, w, want...)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, cfg)
	got := replayAll(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantR := []replayed{{1, ""}, {1, "a"}, {1, want[2]}, {1, "last"}}
	if d := cmp.Diff(wantR, got); d != "" {
		t.Errorf("replay (-want +got):\n%s", d)
	}
	// The second Open started segment 2 and wrote nothing to it; a third
	// Open replays the same records.
	if d := cmp.Diff(want, records(t, cfg)); d != "" {
		t.Errorf("second replay (-want +got):\n%s", d)
	}
}

func TestReplayStopsOnCallbackError(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	appendAll(t, w, "a", "b")
	w.Close()
	w = mustOpen(t, cfg)
	defer w.Close()
	stop := errors.New("stop")
	n := 0
	err := w.Replay(func(int, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Replay = %v after %d calls, want the callback's error after 1", err, n)
	}
}

func TestConcurrentAppenders(t *testing.T) {
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run(string(policy), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Fsync = policy
			cfg.SegmentSize = 64 << 10 // roll many times under load
			w := mustOpen(t, cfg)
			const writers, each = 16, 100
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for i := range each {
						if err := w.Append(context.Background(), []byte(fmt.Sprintf("%02d/%04d/%s", g, i, rec(i)))); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			next := make([]int, writers)
			got := records(t, cfg)
			for _, r := range got {
				var g, i int
				if _, err := fmt.Sscanf(r, "%02d/%04d/", &g, &i); err != nil {
					t.Fatalf("bad record %q", r)
				}
				if i != next[g] || r != fmt.Sprintf("%02d/%04d/%s", g, i, rec(i)) {
					t.Fatalf("writer %d: got record %q, want number %d", g, r, next[g])
				}
				next[g]++
			}
			if len(got) != writers*each {
				t.Errorf("replayed %d records, want %d", len(got), writers*each)
			}
		})
	}
}

func TestSegmentsRollAtSize(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = MinSegmentSize
	w := mustOpen(t, cfg)
	var want []string
	for i := range 40 {
		want = append(want, strings.Repeat(string(rune('a'+i%26)), 1000))
	}
	appendAll(t, w, want...)
	w.Close()
	segs, err := listSegments(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// Four 1008-byte frames fit in a 4096-byte segment after its header.
	if len(segs) < 10 {
		t.Errorf("got %d segments, want at least 10", len(segs))
	}
	for _, s := range segs {
		fi, err := os.Stat(filepath.Join(cfg.Dir, segmentName(s)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > cfg.SegmentSize {
			t.Errorf("segment %d has %d bytes, above segment_size", s, fi.Size())
		}
	}
	w = mustOpen(t, cfg)
	defer w.Close()
	got := replayAll(t, w)
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Rec != want[i] {
			t.Fatalf("record %d differs", i)
		}
		if i > 0 && r.Seg < got[i-1].Seg {
			t.Fatalf("segments out of order at record %d", i)
		}
	}
}

// TestTornTailAtEveryOffset cuts the newest segment at every byte length
// and checks that Open keeps exactly the whole records, truncates the rest
// with a warning, and that appends after it replay correctly.
func TestTornTailAtEveryOffset(t *testing.T) {
	src := testConfig(t)
	src.Fsync = FsyncNever
	w := mustOpen(t, src)
	var recs []string
	for i := range 5 {
		recs = append(recs, rec(i+20))
	}
	appendAll(t, w, recs...)
	w.Close()
	full, err := os.ReadFile(filepath.Join(src.Dir, segmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	var ends []int // end offset of each record
	off := segmentHeaderSize
	for _, r := range recs {
		off += frameHeaderSize + len(r)
		ends = append(ends, off)
	}
	for cut := 0; cut <= len(full); cut++ {
		cfg := testConfig(t)
		path := filepath.Join(cfg.Dir, segmentName(1))
		if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		var logs logBuffer
		w, err := Open(cfg, slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		kept := 0
		for kept < len(ends) && ends[kept] <= cut {
			kept++
		}
		var got []string
		for _, r := range replayAll(t, w) {
			got = append(got, r.Rec)
		}
		if d := cmp.Diff(recs[:kept], got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("cut at %d (-want +got):\n%s", cut, d)
		}
		clean := cut == len(full) || (kept > 0 && cut == ends[kept-1]) || (kept == 0 && cut == segmentHeaderSize)
		if warned := strings.Contains(logs.String(), "torn"); warned == clean {
			t.Errorf("cut at %d: warned=%v for a clean=%v cut; log: %s", cut, warned, clean, logs.String())
		}
		appendAll(t, w, "after")
		w.Close()
		if d := cmp.Diff(append(slices.Clone(recs[:kept]), "after"), records(t, cfg)); d != "" {
			t.Fatalf("cut at %d, after appending (-want +got):\n%s", cut, d)
		}
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadChecksumInNewestSegment(t *testing.T) {
	recs := []string{"one", "two", "three"}
	// Offset of the payload of "two".
	twoAt := int64(segmentHeaderSize + frameHeaderSize + len("one") + frameHeaderSize)
	lastAt := twoAt + int64(len("two")+frameHeaderSize)

	t.Run("last record is a torn tail", func(t *testing.T) {
		cfg := testConfig(t)
		w := mustOpen(t, cfg)
		appendAll(t, w, recs...)
		w.Close()
		flipByte(t, filepath.Join(cfg.Dir, segmentName(1)), lastAt)
		if d := cmp.Diff(recs[:2], records(t, cfg)); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
	t.Run("acknowledged and synced data follows", func(t *testing.T) {
		cfg := testConfig(t) // FsyncAlways: every group starts with a synced frame
		w := mustOpen(t, cfg)
		appendAll(t, w, recs...)
		w.Close()
		flipByte(t, filepath.Join(cfg.Dir, segmentName(1)), twoAt)
		_, err := Open(cfg, nil, prometheus.NewRegistry())
		ce, ok := errors.AsType[*CorruptionError](err)
		if !ok || ce.Segment != 1 || ce.Offset != twoAt-frameHeaderSize || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v, want a CorruptionError for segment 1 at %d", err, twoAt-frameHeaderSize)
		}
		if !strings.Contains(err.Error(), "00000001.wal") {
			t.Errorf("error %q does not name the segment file", err)
		}
	})
	t.Run("nothing synced follows", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Fsync = FsyncNever // no frame carries the synced flag
		w := mustOpen(t, cfg)
		appendAll(t, w, recs...)
		w.Close()
		flipByte(t, filepath.Join(cfg.Dir, segmentName(1)), twoAt)
		if d := cmp.Diff(recs[:1], records(t, cfg)); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
}

func TestCorruptionInOlderSegment(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	appendAll(t, w, "a", "b", "c")
	if _, err := w.Roll(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, w, "d")
	w.Close()
	badAt := int64(segmentHeaderSize + frameHeaderSize + 1)      // the frame of "b"
	flipByte(t, filepath.Join(cfg.Dir, segmentName(1)), badAt+2) // a byte of its length
	w = mustOpen(t, cfg)
	defer w.Close()
	var got []string
	err := w.Replay(func(_ int, rec []byte) error { got = append(got, string(rec)); return nil })
	ce, ok := errors.AsType[*CorruptionError](err)
	if !ok || ce.Segment != 1 || ce.Offset != badAt {
		t.Fatalf("Replay = %v, want a CorruptionError for segment 1 at offset %d", err, badAt)
	}
	if d := cmp.Diff([]string{"a"}, got); d != "" {
		t.Errorf("records before the damage (-want +got):\n%s", d)
	}
}

func TestMissingSegmentIsCorruption(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	for range 3 {
		appendAll(t, w, "x")
		if _, err := w.Roll(); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	os.Remove(filepath.Join(cfg.Dir, segmentName(2)))
	if _, err := Open(cfg, nil, prometheus.NewRegistry()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open with a gap = %v, want ErrCorrupt", err)
	}
}

func TestTornSegmentHeaderIsRemoved(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	appendAll(t, w, "a")
	w.Close()
	// A crash right after creating segment 2.
	if err := os.WriteFile(filepath.Join(cfg.Dir, segmentName(2)), []byte("KMW"), 0o644); err != nil {
		t.Fatal(err)
	}
	w = mustOpen(t, cfg)
	appendAll(t, w, "b")
	w.Close()
	if d := cmp.Diff([]string{"a", "b"}, records(t, cfg)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestCrashMidGroup: a write dies halfway and the process dies before it
// can clean up. The group's appends fail, and reopening drops its part.
func TestCrashMidGroup(t *testing.T) {
	cfg := testConfig(t)
	fs := &faultyFS{}
	w, err := open(cfg, nil, prometheus.NewRegistry(), fs.create)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, w, "before-1", "before-2")
	fs.set(func(fs *faultyFS) {
		fs.writeErr, fs.writeLimit = syscall.EIO, 12
		fs.truncErr = syscall.EIO
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := w.Append(context.Background(), []byte(fmt.Sprintf("lost-%d", i))); err == nil {
				t.Error("append acknowledged during a failed write")
			}
		})
	}
	wg.Wait()
	if err := w.Append(context.Background(), []byte("x")); !errors.Is(err, ErrBroken) {
		t.Errorf("append after a failed truncation = %v, want ErrBroken", err)
	}
	if _, err := w.Roll(); !errors.Is(err, ErrBroken) {
		t.Errorf("Roll of a broken WAL = %v, want ErrBroken", err)
	}
	w.Close()
	w = mustOpen(t, cfg)
	appendAll(t, w, "after")
	w.Close()
	if d := cmp.Diff([]string{"before-1", "before-2", "after"}, records(t, cfg)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDiskFull(t *testing.T) {
	cfg := testConfig(t)
	fs := &faultyFS{}
	w, err := open(cfg, nil, prometheus.NewRegistry(), fs.create)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	appendAll(t, w, "ok-1")
	path := filepath.Join(cfg.Dir, segmentName(1))
	before, _ := os.Stat(path)

	fs.set(func(fs *faultyFS) { fs.writeErr, fs.writeLimit = errNoSpace, 5 })
	err = w.Append(context.Background(), []byte("does not fit"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v, want ENOSPC", err)
	}
	after, _ := os.Stat(path)
	if after.Size() != before.Size() {
		t.Errorf("segment is %d bytes after the failed write, want %d (truncated back)", after.Size(), before.Size())
	}

	fs.set(func(fs *faultyFS) { fs.writeErr = nil })
	appendAll(t, w, "ok-2")
	w.Close()
	if d := cmp.Diff([]string{"ok-1", "ok-2"}, records(t, cfg)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestFsyncFailure(t *testing.T) {
	cfg := testConfig(t)
	fs := &faultyFS{}
	w, err := open(cfg, nil, prometheus.NewRegistry(), fs.create)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, w, "ok-1")
	fs.set(func(fs *faultyFS) { fs.syncErr = syscall.EIO })
	if err := w.Append(context.Background(), []byte("unsynced")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failing fsync = %v, want EIO", err)
	}
	fs.set(func(fs *faultyFS) { fs.syncErr = nil })
	appendAll(t, w, "ok-2")
	w.Close()
	if d := cmp.Diff([]string{"ok-1", "ok-2"}, records(t, cfg)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestRollAndRemoveBefore(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	if seg, err := w.Roll(); err != nil || seg != 1 {
		t.Fatalf("Roll of an empty segment = %d, %v; want 1", seg, err)
	}
	appendAll(t, w, "a")
	seg2, err := w.Roll()
	if err != nil || seg2 != 2 {
		t.Fatalf("Roll = %d, %v; want 2", seg2, err)
	}
	appendAll(t, w, "b")
	seg3, err := w.Roll()
	if err != nil || seg3 != 3 {
		t.Fatalf("Roll = %d, %v; want 3", seg3, err)
	}
	appendAll(t, w, "c")
	if err := w.RemoveBefore(seg3 + 1); err == nil {
		t.Error("RemoveBefore past the current segment succeeded")
	}
	if err := w.RemoveBefore(seg3); err != nil {
		t.Fatal(err)
	}
	if err := w.RemoveBefore(seg2); err != nil { // already gone: a no-op
		t.Fatal(err)
	}
	segs, err := listSegments(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{3}, segs); d != "" {
		t.Errorf("segments on disk (-want +got):\n%s", d)
	}
	w.Close()
	w = mustOpen(t, cfg)
	defer w.Close()
	if d := cmp.Diff([]replayed{{3, "c"}}, replayAll(t, w)); d != "" {
		t.Errorf("replay (-want +got):\n%s", d)
	}
}

func TestAppendErrors(t *testing.T) {
	cfg := testConfig(t)
	w := mustOpen(t, cfg)
	if err := w.Append(context.Background(), make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("oversized Append = %v, want ErrRecordTooLarge", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Append(ctx, []byte("x")); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := w.Roll(); !errors.Is(err, ErrClosed) {
		t.Errorf("Roll after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

// TestFsyncInterval checks that FsyncInterval acknowledges before fsync
// and fsyncs once per interval while there is something to sync.
func TestFsyncInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Fsync = FsyncInterval
		cfg.FsyncInterval = 100 * time.Millisecond
		fs := &faultyFS{}
		w, err := open(cfg, nil, prometheus.NewRegistry(), fs.create)
		if err != nil {
			t.Fatal(err)
		}
		base := fs.syncCount() // the segment header
		appendAll(t, w, "a", "b")
		if n := fs.syncCount() - base; n != 0 {
			t.Errorf("%d fsyncs before the interval elapsed, want 0", n)
		}
		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		if n := fs.syncCount() - base; n != 1 {
			t.Errorf("%d fsyncs after one interval, want 1", n)
		}
		time.Sleep(500 * time.Millisecond) // nothing new to sync
		synctest.Wait()
		if n := fs.syncCount() - base; n != 1 {
			t.Errorf("%d fsyncs after idle intervals, want 1", n)
		}
		appendAll(t, w, "c")
		if err := w.Close(); err != nil { // Close syncs what is dirty
			t.Fatal(err)
		}
		if n := fs.syncCount() - base; n != 2 {
			t.Errorf("%d fsyncs after Close, want 2", n)
		}
	})
}

func TestConfig(t *testing.T) {
	var cfg Config
	src := "dir: /var/lib/kmlog/wal\nsegment_size: 1048576\nfsync: interval\nfsync_interval: 250ms\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{Dir: "/var/lib/kmlog/wal", SegmentSize: 1 << 20, Fsync: FsyncInterval, FsyncInterval: 250 * time.Millisecond}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig invalid: %v", err)
	}
	bad := []struct {
		name string
		edit func(*Config)
		msg  string
	}{
		{"no dir", func(c *Config) { c.Dir = "" }, "dir must be set"},
		{"tiny segments", func(c *Config) { c.SegmentSize = 100 }, "segment_size 100"},
		{"unknown fsync", func(c *Config) { c.Fsync = "sometimes" }, `fsync "sometimes"`},
		{"no interval", func(c *Config) { c.Fsync, c.FsyncInterval = FsyncInterval, 0 }, "fsync_interval must be positive"},
	}
	for _, b := range bad {
		c := DefaultConfig()
		b.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("%s: Validate = %v, want an error containing %q", b.name, err, b.msg)
		}
	}
}
