package compactor_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/functions/compactor"
)

// after is a time past every grace period and orphan age of the defaults.
func after(c compactor.Config) time.Time { return time.Now().Add(c.OrphanAge + c.Grace + time.Minute) }

func TestCompactDedup(t *testing.T) {
	b := newDir(t)
	d := testDay()
	es := genDay(3000, 1)
	replicate(t, b, d, es, 3)
	want := dedup(es)
	a := api{t: t, bkt: b}
	before := a.answers()
	beforeEntries, _ := a.stats()
	if int(beforeEntries) <= len(want) {
		t.Fatalf("before compaction index/stats counts %v entries, want replicas counted (> %d)", beforeEntries, len(want))
	}

	cfg := testConfig(t)
	c := newCompactor(t, cfg, b, nil)
	rep, err := c.Run(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.FilesIn != 3+4+5+1 || rep.FilesOut != 1 || rep.EntriesOut != int64(len(want)) ||
		rep.Duplicates != rep.EntriesIn-int64(len(want)) || rep.BytesOut <= 0 {
		t.Errorf("report %+v, want 13 files in, 1 out, %d entries out", rep, len(want))
	}
	got, files := dayEntries(t, b, d)
	if files != 1 {
		t.Errorf("%d live files after compaction, want 1", files)
	}
	if diff := cmp.Diff(want, got, entOpts...); diff != "" {
		t.Fatalf("compacted entries differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, a.answers()); diff != "" {
		t.Errorf("answers changed by compaction (-before +after):\n%s", diff)
	}
	if n, _ := a.stats(); int(n) != len(want) {
		t.Errorf("index/stats counts %v entries after compaction, want %d", n, len(want))
	}

	// Nothing to do until the grace period has passed; then the inputs go.
	rep, err = c.Run(t.Context(), time.Now())
	if err != nil || rep.DaysCompacted != 0 || rep.ObjectsDeleted != 0 {
		t.Errorf("second run: %+v %v, want nothing done", rep, err)
	}
	rep, err = c.Run(t.Context(), after(cfg))
	if err != nil || rep.ObjectsDeleted != 2*13 {
		t.Errorf("run after grace: %+v %v, want the 26 inputs deleted", rep, err)
	}
	if data, idx := countObjects(t, b, d); data != 1 || idx != 1 {
		t.Errorf("%d data files and %d indexes left, want 1 and 1", data, idx)
	}
	if diff := cmp.Diff(before, a.answers()); diff != "" {
		t.Errorf("answers changed by retiring inputs:\n%s", diff)
	}

	// A late flush for the day: merged with the output into one file.
	late := genDay(200, 7)
	writeFlush(t, b, d, late)
	if _, err := c.Run(t.Context(), after(cfg)); err != nil {
		t.Fatal(err)
	}
	got, files = dayEntries(t, b, d)
	if files != 1 {
		t.Errorf("%d live files after the late flush, want 1", files)
	}
	if diff := cmp.Diff(dedup(append(es, late...)), got, entOpts...); diff != "" {
		t.Fatalf("entries after the late flush differ:\n%s", diff)
	}
}

func TestRounds(t *testing.T) {
	b := newDir(t)
	d := testDay()
	es := genDay(1500, 2)
	replicate(t, b, d, es, 2)
	cfg := testConfig(t)
	cfg.MaxFanIn = 3
	c := newCompactor(t, cfg, b, nil)
	rep, err := c.Run(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Generations < 4 {
		t.Errorf("%d generations, want rounds of 3 files", rep.Generations)
	}
	got, files := dayEntries(t, b, d)
	if files != 1 {
		t.Errorf("%d live files, want 1", files)
	}
	if diff := cmp.Diff(dedup(es), got, entOpts...); diff != "" {
		t.Fatalf("entries differ:\n%s", diff)
	}
}

func TestTargetSize(t *testing.T) {
	b := newDir(t)
	d := testDay()
	es := genDay(5000, 3)
	replicate(t, b, d, es, 2)
	cfg := testConfig(t)
	cfg.TargetFileBytes = 128 << 10
	cfg.DataFile.RowGroupBytes = 128 << 10 // the size is seen at row group cuts
	c := newCompactor(t, cfg, b, nil)
	rep, err := c.Run(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, files := dayEntries(t, b, d)
	if want := int(rep.BytesOut/cfg.TargetFileBytes) + 1; files > want || files < 2 {
		t.Errorf("%d files for %d bytes at target %d, want at most %d (and more than one)", files, rep.BytesOut, cfg.TargetFileBytes, want)
	}
	if diff := cmp.Diff(dedup(es), got, entOpts...); diff != "" {
		t.Fatalf("entries differ:\n%s", diff)
	}
}

// crash is the panic a fault hook raises.
type crash string

// TestCrashPoints kills the compaction at each step (a panic from the
// hook, which the test recovers) and checks that queries answer as before
// the crash, and that the next run finishes the job.
func TestCrashPoints(t *testing.T) {
	for _, point := range []string{"lease", "output-data", "output-index", "commit", "committed", "cleanup", "cleanup-half"} {
		t.Run(point, func(t *testing.T) {
			b := newDir(t)
			d := testDay()
			es := genDay(500, 4)
			replicate(t, b, d, es, 2)
			want := dedup(es)
			a := api{t: t, bkt: b, few: true}
			before := a.answers()
			cfg := testConfig(t)
			c := newCompactor(t, cfg, b, nil)
			now := time.Now()
			if point == "cleanup" || point == "cleanup-half" {
				if _, err := c.Run(t.Context(), now); err != nil {
					t.Fatal(err)
				}
				now = after(cfg)
			}
			c.SetHook(func(p string) {
				if p == point {
					panic(crash(p))
				}
			})
			func() {
				defer func() {
					if r := recover(); r != nil && r != crash(point) {
						panic(r)
					}
				}()
				_, _ = c.Run(t.Context(), now)
				t.Fatalf("no crash at %s", point)
			}()
			if diff := cmp.Diff(before, a.answers()); diff != "" {
				t.Fatalf("answers after a crash at %s differ:\n%s", point, diff)
			}
			// A new compactor (the killed one's lease expires) finishes.
			c2 := newCompactor(t, cfg, b, nil)
			later := now.Add(cfg.LeaseTTL + time.Minute)
			if _, err := c2.Run(t.Context(), later); err != nil {
				t.Fatal(err)
			}
			if _, err := c2.Run(t.Context(), later.Add(cfg.OrphanAge+cfg.Grace)); err != nil {
				t.Fatal(err)
			}
			got, files := dayEntries(t, b, d)
			if files != 1 {
				t.Errorf("%d live files, want 1", files)
			}
			if diff := cmp.Diff(want, got, entOpts...); diff != "" {
				t.Fatalf("entries differ:\n%s", diff)
			}
			if diff := cmp.Diff(before, a.answers()); diff != "" {
				t.Fatalf("answers after recovery differ:\n%s", diff)
			}
			if data, idx := countObjects(t, b, d); data != 1 || idx != 1 {
				t.Errorf("%d data files and %d indexes left, want 1 and 1", data, idx)
			}
		})
	}
}

// TestQueriesDuringCompaction queries in a loop while compactions commit
// and retire files: no query fails or changes its answer.
func TestQueriesDuringCompaction(t *testing.T) {
	b := newDir(t)
	d := testDay()
	es := genDay(1500, 5)
	replicate(t, b, d, es, 3)
	a := api{t: t, bkt: b, few: true}
	before := a.answers()
	cfg := testConfig(t)
	cfg.MaxFanIn = 4 // several commits
	c := newCompactor(t, cfg, b, nil)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failures atomic.Int64
	var queried atomic.Int64
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				for i, q := range before {
					v := a.answersOne(3 * i)
					if v != q {
						failures.Add(1)
						t.Errorf("answer %d changed during compaction", i)
						return
					}
					queried.Add(1)
				}
			}
		})
	}
	now := time.Now()
	for i := range 4 {
		if _, err := c.Run(t.Context(), now); err != nil {
			t.Error(err)
		}
		writeFlush(t, b, d, es[i*10:i*10+100]) // replicas arriving late
		now = now.Add(cfg.Grace + time.Minute)
	}
	if _, err := c.Run(t.Context(), now.Add(cfg.OrphanAge)); err != nil {
		t.Error(err)
	}
	stop.Store(true)
	wg.Wait()
	if queried.Load() == 0 {
		t.Fatal("no query ran")
	}
	t.Logf("%d answers compared during compaction", queried.Load())
	if _, files := dayEntries(t, b, d); files != 1 {
		t.Errorf("%d live files, want 1", files)
	}
}

// TestConcurrentCompactors runs several compactors at once: each day is
// merged by one of them, and the result is right.
func TestConcurrentCompactors(t *testing.T) {
	b := newDir(t)
	d := testDay()
	var all []ent
	for i := range 3 {
		es := genDay(800, uint64(10+i))
		for j := range es {
			es[j].ts += int64(i) * int64(24*time.Hour)
		}
		all = append(all, es...)
		replicate(t, b, d+objDay(i), es, 2)
	}
	cfg := testConfig(t)
	var wg sync.WaitGroup
	reps := make([]compactor.Report, 4)
	for i := range reps {
		c := newCompactor(t, cfg, b, nil)
		wg.Go(func() {
			var err error
			if reps[i], err = c.Run(context.Background(), time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	gens := 0
	for _, r := range reps {
		gens += r.Generations
	}
	if gens != 3 {
		t.Errorf("%d generations committed over 3 days, want 3 (one per day): %+v", gens, reps)
	}
	for i := range 3 {
		if _, files := dayEntries(t, b, d+objDay(i)); files != 1 {
			t.Errorf("day %d: %d live files, want 1", i, files)
		}
	}
	_ = fmt.Sprint(all)
}

var _ bucket.Bucket = (*bucket.Dir)(nil)
