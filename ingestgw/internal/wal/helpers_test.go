package wal

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	return cfg
}

// logBuffer collects log output so tests can check warnings.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func mustOpen(t testing.TB, cfg Config) *WAL {
	t.Helper()
	w, err := Open(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

type replayed struct {
	Seg int
	Rec string
}

func replayAll(t testing.TB, w *WAL) []replayed {
	t.Helper()
	var out []replayed
	if err := w.Replay(func(seg int, rec []byte) error {
		out = append(out, replayed{seg, string(rec)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// records reopens the WAL in cfg.Dir and returns what it replays.
func records(t testing.TB, cfg Config) []string {
	t.Helper()
	w := mustOpen(t, cfg)
	defer w.Close()
	var out []string
	for _, r := range replayAll(t, w) {
		out = append(out, r.Rec)
	}
	return out
}

func appendAll(t testing.TB, w *WAL, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if err := w.Append(context.Background(), []byte(r)); err != nil {
			t.Fatalf("append %q: %v", r, err)
		}
	}
}

func rec(i int) string {
	return fmt.Sprintf("record-%04d-%s", i, bytes.Repeat([]byte{byte('a' + i%26)}, i%50))
}

// faultyFS creates segment files whose writes and fsyncs fail on demand.
type faultyFS struct {
	mu sync.Mutex
	// writeErr, when set, fails the next writes after writing the first
	// writeLimit bytes of them (a short write, like a disk filling up).
	writeErr   error
	writeLimit int
	syncErr    error
	truncErr   error
	syncs      int
}

func (fs *faultyFS) create(path string) (file, error) {
	f, err := createOS(path)
	if err != nil {
		return nil, err
	}
	return &faultyFile{file: f, fs: fs}, nil
}

func (fs *faultyFS) set(fn func(*faultyFS)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fn(fs)
}

func (fs *faultyFS) syncCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.syncs
}

type faultyFile struct {
	file
	fs *faultyFS
}

func (f *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	werr, limit := f.fs.writeErr, f.fs.writeLimit
	f.fs.mu.Unlock()
	if werr != nil {
		n := min(limit, len(p))
		if n > 0 {
			if _, err := f.file.WriteAt(p[:n], off); err != nil {
				return 0, err
			}
		}
		return n, werr
	}
	return f.file.WriteAt(p, off)
}

func (f *faultyFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.syncs++
	err := f.fs.syncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *faultyFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	err := f.fs.truncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.file.Truncate(size)
}

var errNoSpace = &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
