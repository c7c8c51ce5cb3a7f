package tail

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig() Config {
	c := DefaultConfig()
	c.PollInterval = 2 * time.Millisecond
	c.RotateGrace = 20 * time.Millisecond
	c.ReadSize = 4096
	return c
}

// collector is a Handler that records lines; commit, when set, is called
// for the last line of each call.
type collector struct {
	mu     sync.Mutex
	lines  []Line
	commit func(Line)
}

func (c *collector) handle(_ context.Context, ls []Line) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, ls...)
	if c.commit != nil {
		c.commit(ls[len(ls)-1])
	}
	return nil
}

func (c *collector) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.lines))
	for i, l := range c.lines {
		out[i] = l.Text
	}
	return out
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// waitFor polls cond for up to 20 s; it is a deadline against hangs, not a
// timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// start runs a Tailer in the background; the returned stop cancels it and
// waits for Run to return.
func start(t *testing.T, tl *Tailer, h Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, h) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func mustCreate(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func numbered(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line %06d %s", i, strings.Repeat("x", i%97)))
	}
	return out
}

// writeChunked writes the lines with random splits, so reads see partial
// lines.
func writeChunked(t *testing.T, f *os.File, rng *rand.Rand, lines []string) {
	t.Helper()
	data := strings.Join(lines, "\n") + "\n"
	for len(data) > 0 {
		n := min(len(data), 1+rng.IntN(300))
		write(t, f, data[:n])
		data = data[n:]
		if rng.IntN(20) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestTailWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f := mustCreate(t, path)
	defer f.Close()
	var c collector
	stop := start(t, New(path, nil, testConfig(), nil, nil), c.handle)
	want := numbered(0, 5000)
	writeChunked(t, f, rand.New(rand.NewPCG(1, 2)), want)
	waitFor(t, "all lines", func() bool { return c.count() >= len(want) })
	stop()
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
	fi, _ := f.Stat()
	if last := c.lines[len(c.lines)-1]; last.Offset != fi.Size() || last.ID != IdentityOf(fi) {
		t.Fatalf("last line at %v/%d, file %v/%d", last.ID, last.Offset, IdentityOf(fi), fi.Size())
	}
	for i := 1; i < len(c.lines); i++ {
		if c.lines[i].Offset-c.lines[i-1].Offset != int64(len(c.lines[i].Text)+1) {
			t.Fatalf("line %d: offset %d after %d", i, c.lines[i].Offset, c.lines[i-1].Offset)
		}
	}
}

// TestTailRenameRotation rotates like kubelet and logrotate: rename, the
// writer keeps writing to the old descriptor for a moment, then a new file
// is created at the path.
func TestTailRenameRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var c collector
	stop := start(t, New(path, nil, testConfig(), m, nil), c.handle)
	rng := rand.New(rand.NewPCG(3, 4))
	var want []string
	n := 0
	f := mustCreate(t, path)
	const rotations = 5
	for r := range rotations {
		batch := numbered(n, n+400)
		n += 400
		writeChunked(t, f, rng, batch[:300])
		// The agent keeps up: it has read the new file before the next
		// rotation (rotating twice within one poll would skip a file).
		waitFor(t, "caught up", func() bool { return c.count() >= len(want)+300 })
		if err := os.Rename(path, fmt.Sprintf("%s.2024010%d-000000", path, r)); err != nil {
			t.Fatal(err)
		}
		writeChunked(t, f, rng, batch[300:350]) // late writes to the old fd
		write(t, f, "partial-"+fmt.Sprint(r))   // never completed
		f.Close()
		f = mustCreate(t, path)
		writeChunked(t, f, rng, batch[350:])
		want = append(want, batch[:350]...)
		want = append(want, "partial-"+fmt.Sprint(r))
		want = append(want, batch[350:]...)
	}
	f.Close()
	waitFor(t, "all lines", func() bool { return c.count() >= len(want) })
	stop()
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(m.Rotations.WithLabelValues("rename")); got != rotations {
		t.Fatalf("rename rotations = %v, want %d", got, rotations)
	}
}

func TestTailCopyTruncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	m := NewMetrics(prometheus.NewRegistry())
	var c collector
	stop := start(t, New(path, nil, testConfig(), m, nil), c.handle)
	rng := rand.New(rand.NewPCG(5, 6))
	f := mustCreate(t, path)
	defer f.Close()
	var want []string
	for r := range 3 {
		batch := numbered(r*200, r*200+200)
		writeChunked(t, f, rng, batch)
		want = append(want, batch...)
		// copytruncate loses nothing only while the reader keeps up.
		waitFor(t, "reader caught up", func() bool { return c.count() >= len(want) })
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "truncation seen", func() bool {
			return testutil.ToFloat64(m.Rotations.WithLabelValues("truncate")) >= float64(r+1)
		})
	}
	tail := numbered(600, 610) // shorter than the old content
	writeChunked(t, f, rng, tail)
	want = append(want, tail...)
	waitFor(t, "all lines", func() bool { return c.count() >= len(want) })
	stop()
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
}

func TestTailPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f := mustCreate(t, path)
	defer f.Close()
	var c collector
	tl := New(path, nil, testConfig(), nil, nil)
	stop := start(t, tl, c.handle)
	write(t, f, "first\nsec")
	waitFor(t, "first line", func() bool { return c.count() >= 1 })
	// Let several polls pass: the partial line must stay held.
	time.Sleep(20 * time.Millisecond)
	write(t, f, "ond\n")
	waitFor(t, "second line", func() bool { return c.count() >= 2 })
	stop()
	if diff := cmp.Diff([]string{"first", "second"}, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
	if c.lines[1].Offset != int64(len("first\nsecond\n")) {
		t.Fatalf("offset %d", c.lines[1].Offset)
	}
}

func TestTailMaxLineSize(t *testing.T) {
	for _, readSize := range []int{3, 7, 64, 4096} {
		t.Run(fmt.Sprint("read", readSize), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			m := NewMetrics(prometheus.NewRegistry())
			cfg := testConfig()
			cfg.MaxLineSize = 10
			cfg.ReadSize = readSize
			if err := os.WriteFile(path, []byte("short\n0123456789\n0123456789A\n"+strings.Repeat("y", 100)+"\n\nend\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var c collector
			stop := start(t, New(path, nil, cfg, m, nil), c.handle)
			waitFor(t, "lines", func() bool { return c.count() >= 6 })
			stop()
			want := []string{"short", "0123456789", "0123456789", "yyyyyyyyyy", "", "end"}
			if diff := cmp.Diff(want, c.texts()); diff != "" {
				t.Fatalf("lines (-want +got):\n%s", diff)
			}
			var flags []bool
			for _, l := range c.lines {
				flags = append(flags, l.Truncated)
			}
			if diff := cmp.Diff([]bool{false, false, true, true, false, false}, flags); diff != "" {
				t.Fatalf("truncated flags (-want +got):\n%s", diff)
			}
			if got := testutil.ToFloat64(m.TruncatedLines); got != 2 {
				t.Fatalf("truncated counter = %v", got)
			}
			if got := c.lines[3].Offset; got != int64(6+11+12+101) {
				t.Fatalf("offset after long line = %d", got)
			}
		})
	}
}

// TestTailRestartFromPositions drops a tailer without closing anything
// (as kill -9 would), after the positions file was synced part way, and
// checks the restarted tailer re-reads from the synced commit: no line is
// skipped, and only lines after the commit are read again.
func TestTailRestartFromPositions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	pcfg := PositionsConfig{Filename: filepath.Join(dir, "positions.yaml"), SyncPeriod: time.Hour}
	all := numbered(0, 1000)
	if err := os.WriteFile(path, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pos, err := OpenPositions(pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	var synced int
	c.commit = func(l Line) {
		// The "WAL" accepted everything up to l; persist now and then.
		pos.Commit(path, l.ID, l.Offset)
		if len(c.lines) >= 300 && synced == 0 {
			if err := pos.Sync(); err != nil {
				t.Error(err)
			}
			synced = len(c.lines)
		}
	}
	stop := start(t, New(path, pos, testConfig(), nil, nil), c.handle)
	waitFor(t, "all lines", func() bool { return c.count() >= len(all) })
	stop() // no pos.Close: the later commits are lost like in a crash

	pos2, err := OpenPositions(pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var c2 collector
	stop = start(t, New(path, pos2, testConfig(), nil, nil), c2.handle)
	waitFor(t, "re-read lines", func() bool { return c2.count() >= len(all)-synced })
	stop()
	if diff := cmp.Diff(all[synced:], c2.texts()); diff != "" {
		t.Fatalf("re-read lines (-want +got):\n%s", diff)
	}
}

// TestTailRotatedWhileDown commits a position, rotates the file while no
// tailer runs, and checks the restarted tailer finishes the rotated file
// from the committed offset before reading the new one.
func TestTailRotatedWhileDown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	old := numbered(0, 100)
	if err := os.WriteFile(path, []byte(strings.Join(old, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := OpenPositions(PositionsConfig{Filename: filepath.Join(dir, "p.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(len(strings.Join(old[:40], "\n")) + 1)
	pos.Commit(path, IdentityOf(fi), off)
	if err := os.Rename(path, path+".20240101-000000"); err != nil {
		t.Fatal(err)
	}
	fresh := numbered(100, 150)
	if err := os.WriteFile(path, []byte(strings.Join(fresh, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var c collector
	stop := start(t, New(path, pos, testConfig(), nil, nil), c.handle)
	want := append(append([]string{}, old[40:]...), fresh...)
	waitFor(t, "lines", func() bool { return c.count() >= len(want) })
	stop()
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
}

func TestTailStartPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	id := IdentityOf(fi)
	other := Identity{Dev: id.Dev, Ino: id.Ino + 12345}
	tests := []struct {
		name    string
		commit  *Position
		fromEnd bool
		want    []string
	}{
		{"no position", nil, false, []string{"a", "b", "c"}},
		{"no position from end", nil, true, nil},
		{"same inode", &Position{ID: id, Offset: 2}, false, []string{"b", "c"}},
		{"promtail position", &Position{Offset: 4}, false, []string{"c"}},
		{"offset past size", &Position{ID: id, Offset: 100}, false, []string{"a", "b", "c"}},
		{"other inode, no sibling", &Position{ID: other, Offset: 4}, false, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, err := OpenPositions(PositionsConfig{Filename: filepath.Join(t.TempDir(), "p.yaml")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.commit != nil {
				pos.Commit(path, tt.commit.ID, tt.commit.Offset)
			}
			cfg := testConfig()
			cfg.ReadFromEnd = tt.fromEnd
			var c collector
			stop := start(t, New(path, pos, cfg, nil, nil), c.handle)
			waitFor(t, "lines", func() bool { return c.count() >= len(tt.want) })
			time.Sleep(10 * time.Millisecond) // a few polls: nothing more may come
			stop()
			if diff := cmp.Diff(tt.want, c.texts(), cmpEmpty); diff != "" {
				t.Fatalf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func TestTailWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	var c collector
	stop := start(t, New(path, nil, testConfig(), nil, nil), c.handle)
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(path, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "line", func() bool { return c.count() >= 1 })
	stop()
	if diff := cmp.Diff([]string{"hello"}, c.texts()); diff != "" {
		t.Fatal(diff)
	}
}

func TestTailHandlerError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := fmt.Errorf("boom")
	err := New(path, nil, testConfig(), nil, nil).Run(t.Context(), func(context.Context, []Line) error { return boom })
	if err != boom {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

// TestTailDrain: Drain makes Run read what was written before it, hand on
// the unfinished last line, and return nil without ctx being cancelled.
func TestTailDrain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f := mustCreate(t, path)
	defer f.Close()
	var c collector
	cfg := testConfig()
	cfg.PollInterval = time.Hour // only the first poll and the drain read
	tl := New(path, nil, cfg, nil, nil)
	done := make(chan error, 1)
	write(t, f, "one\n")
	go func() { done <- tl.Run(t.Context(), c.handle) }()
	waitFor(t, "first line", func() bool { return c.count() >= 1 })
	want := numbered(0, 500)
	write(t, f, strings.Join(want, "\n")+"\nunfinished")
	tl.Drain()
	tl.Drain() // twice is fine
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	want = append(append([]string{"one"}, want...), "unfinished")
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
	fi, _ := f.Stat()
	if last := c.lines[len(c.lines)-1]; last.Offset != fi.Size() {
		t.Errorf("last offset %d, file size %d", last.Offset, fi.Size())
	}
}

// TestTailRotatedTwiceWhileDown: the committed file was rotated, and its
// successor rotated too, while the agent was down (the e2e kill test
// found this): every file is read in order, none skipped.
func TestTailRotatedTwiceWhileDown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	files := [][]string{numbered(0, 100), numbered(100, 150), numbered(150, 200), numbered(200, 220)}
	var pos *Positions
	for i, lines := range files {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Distinct modification times, in rotation order.
		mt := time.Now().Add(time.Duration(i-10) * time.Second)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			pos, err = OpenPositions(PositionsConfig{Filename: filepath.Join(dir, "p.yaml")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			pos.Commit(path, IdentityOf(fi), int64(len(strings.Join(lines[:40], "\n"))+1))
		}
		if i < len(files)-1 {
			if err := os.Rename(path, fmt.Sprintf("%s.2024010%d-000000", path, i+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var c collector
	stop := start(t, New(path, pos, testConfig(), nil, nil), c.handle)
	var want []string
	want = append(want, files[0][40:]...)
	for _, f := range files[1:] {
		want = append(want, f...)
	}
	waitFor(t, "lines", func() bool { return c.count() >= len(want) })
	stop()
	if diff := cmp.Diff(want, c.texts()); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
}
