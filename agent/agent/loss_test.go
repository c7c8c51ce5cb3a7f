package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAgentTruncatedFileHeldLine: after a copytruncate, a line of the new
// content held by the multiline stage keeps the committed position at its
// start, not at the old content's end (past it, a crash would skip it).
func TestAgentTruncatedFileHeldLine(t *testing.T) {
	root := t.TempDir()
	_, url := newReceiver(t)
	cfg := testConfig(t, root, url, "1h") // blocks end only with the next start
	a := startAgent(t, cfg)
	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	var old []string
	for i := range 5 {
		old = append(old, cri(i, "F", `{"level":"info","msg":"old line with some padding"}`))
	}
	appendFile(t, app, old...)
	size := func() int64 { fi, _ := os.Stat(app); return fi.Size() }
	oldSize := size()
	waitFor(t, "the old content read", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].ReadOffset == oldSize
	})
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the truncation seen", func() bool {
		return testutil.ToFloat64(a.a.tailM.Rotations.WithLabelValues("truncate")) == 1
	})
	// The new first line releases the old held block and is held itself.
	appendFile(t, app, cri(10, "F", `{"level":"info","msg":"new"}`))
	newSize := size()
	waitFor(t, "the new line read", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].ReadOffset == newSize
	})
	a.a.commit()
	if ts := a.a.Targets(); ts[0].Committed != 0 {
		t.Errorf("committed offset %d with the new content's first line (at 0) held; the old content ended at %d", ts[0].Committed, oldSize)
	}
}

// TestAgentTooLargeBlock: a multiline block too large for one WAL record
// is dropped (and counted); the file's position moves on past it and its
// later lines are shipped, instead of the file committing nothing more.
func TestAgentTooLargeBlock(t *testing.T) {
	root := t.TempDir()
	rc, url := newReceiver(t)
	cfg := testConfigWAL(t, root, url, "50ms", 4096, 8192) // records up to 4 KiB
	a := startAgent(t, cfg)
	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	big := []string{cri(1, "F", `{"level":"info","msg":"big block"}`)}
	for i := range 6 {
		big = append(big, cri(2+i, "F", strings.Repeat("x", 1000)))
	}
	appendFile(t, app, big...)
	waitFor(t, "the big block flushed", func() bool {
		return testutil.ToFloat64(a.a.m.appendErr)+testutil.ToFloat64(a.a.m.tooLarge) > 0
	})
	appendFile(t, app, cri(20, "F", `{"level":"info","msg":"after"}`), cri(21, "F", `{"level":"info","msg":"last"}`))
	size := func() int64 { fi, _ := os.Stat(app); return fi.Size() }()
	waitFor(t, "the later lines shipped", func() bool { return len(rc.snapshot()) == 2 })
	waitFor(t, "the position at the end", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].Committed == size
	})
}

// TestAgentTruncatedFileOldHeldLine: a block of the old content still
// held after a copytruncate cannot be read again; the committed position
// must not stand at its old offset, which inside the new content would
// skip the new lines before it after a crash.
func TestAgentTruncatedFileOldHeldLine(t *testing.T) {
	root := t.TempDir()
	_, url := newReceiver(t)
	cfg := testConfig(t, root, url, "1h")
	a := startAgent(t, cfg)
	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	var old []string
	for i := range 5 {
		old = append(old, cri(i, "F", `{"level":"info","msg":"old line with some padding"}`))
	}
	appendFile(t, app, old...)
	size := func() int64 { fi, _ := os.Stat(app); return fi.Size() }
	oldSize := size()
	waitFor(t, "the old content read", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].ReadOffset == oldSize
	})
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the truncation seen", func() bool {
		return testutil.ToFloat64(a.a.tailM.Rotations.WithLabelValues("truncate")) == 1
	})
	// Lines that are no block start join the held old block; they fill
	// the new content past the old block's offset.
	var more []string
	for i := range 10 {
		more = append(more, cri(10+i, "F", "continuation line of the old block"))
	}
	appendFile(t, app, more...)
	newSize := size()
	waitFor(t, "the new lines read", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].ReadOffset == newSize
	})
	a.a.commit()
	if ts := a.a.Targets(); ts[0].Committed != 0 {
		t.Errorf("committed offset %d: after a restart the new content's lines before it would be skipped", ts[0].Committed)
	}
}

// TestAgentBrokenFileRecovers: when an Append of a file's lines failed
// outside its Tailer (the multiline flush loop, or another file's batch
// that carried them), the file's next lines restart its Tailer from the
// committed position, so the lost lines are read again and its position
// moves on, instead of it committing nothing until the agent restarts.
func TestAgentBrokenFileRecovers(t *testing.T) {
	root := t.TempDir()
	rc, url := newReceiver(t)
	cfg := testConfig(t, root, url, "50ms")
	a := startAgent(t, cfg)
	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	appendFile(t, app, cri(1, "F", `{"level":"info","msg":"one"}`))
	size := func() int64 { fi, _ := os.Stat(app); return fi.Size() }
	s1 := size()
	waitFor(t, "the first line committed", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].Committed == s1
	})
	// What appendBatch does when an Append of the file's lines failed.
	a.a.flowMu.Lock()
	a.a.files[app].broken = true
	a.a.flowMu.Unlock()
	appendFile(t, app, cri(2, "F", `{"level":"info","msg":"two"}`))
	s2 := size()
	waitFor(t, "the second line committed", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].Committed == s2
	})
	waitFor(t, "both lines shipped", func() bool { return len(rc.snapshot()) == 2 })
}

// TestAgentCommitsOnlySyncedLines: with wal sync "interval", a position is
// committed only past lines an fsync covers: positions are written to disk
// on their own, and ahead of the WAL a machine crash would lose lines for
// good instead of reading them again.
func TestAgentCommitsOnlySyncedLines(t *testing.T) {
	root := t.TempDir()
	_, url := newReceiver(t)
	cfg := testConfigWAL(t, root, url, "50ms", 65536, 1048576)
	if err := cfg.WAL.Encode(map[string]any{
		"segment_size_bytes": 65536, "max_size_bytes": 1048576, "sync": "interval", "sync_interval": "1h",
	}); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg)
	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	appendFile(t, app, cri(1, "F", `{"level":"info","msg":"one"}`))
	size := func() int64 { fi, _ := os.Stat(app); return fi.Size() }()
	waitFor(t, "the line committed", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].Committed == size
	})
	if st := a.a.wal.Stats(); st.Unsynced != 0 {
		t.Errorf("position committed with %d appends not yet fsynced", st.Unsynced)
	}
}
