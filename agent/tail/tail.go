package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Config configures a Tailer.
type Config struct {
	// PollInterval is how often the file is checked for new bytes and
	// rotation.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineSize cuts longer lines to this many bytes (0: 256 KiB).
	MaxLineSize int `yaml:"max_line_size"`
	// RotateGrace is how long a rotated-away file must stay silent before
	// the Tailer closes it and moves to the new file.
	RotateGrace time.Duration `yaml:"rotate_grace"`
	// ReadFromEnd starts a path with no committed position at its end
	// instead of its start.
	ReadFromEnd bool `yaml:"read_from_end"`
	// ReadSize is the size of one read (0: 64 KiB).
	ReadSize int `yaml:"-"`
	// Gate, when set, bounds how many Tailers sharing it read and hand
	// on lines at once: the lines of a read are in memory until the
	// Handler returns, and a thousand files written at once would
	// otherwise all be.
	Gate *Gate `yaml:"-"`
}

// Gate bounds the Tailers that read at once. Create it with NewGate.
type Gate struct{ slots chan struct{} }

// NewGate returns a Gate letting n Tailers read at once (n < 1: one).
func NewGate(n int) *Gate { return &Gate{slots: make(chan struct{}, max(n, 1))} }

// enter waits for a slot; it reports false when ctx ended first.
func (g *Gate) enter(ctx context.Context) bool {
	if g == nil {
		return true
	}
	select {
	case g.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (g *Gate) leave() {
	if g != nil {
		<-g.slots
	}
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		PollInterval: 250 * time.Millisecond,
		MaxLineSize:  256 << 10,
		RotateGrace:  time.Second,
		ReadSize:     64 << 10,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.PollInterval <= 0 {
		return errors.New("validate tail config: poll_interval must be positive")
	}
	if c.MaxLineSize < 0 || c.RotateGrace < 0 || c.ReadSize < 0 {
		return errors.New("validate tail config: negative size or duration")
	}
	return nil
}

// Line is one line read from a file.
type Line struct {
	// Text is the line without its newline; it is never modified.
	Text string
	// ID is the identity of the file the line was read from.
	ID Identity
	// Offset is the file offset just past the line's newline: commit it
	// once the line is durably stored.
	Offset int64
	// Truncated is set when the line was cut to MaxLineSize.
	Truncated bool
}

// Handler receives the lines of one read, in file order. The slice is
// reused after Handler returns; the strings may be kept. A Handler that
// blocks stops the Tailer reading (back-pressure); an error stops it.
type Handler func(ctx context.Context, lines []Line) error

// Tailer follows one path. Create it with New and call Run once.
type Tailer struct {
	path   string
	cfg    Config
	m      *Metrics
	logger *slog.Logger
	start  Position
	hasPos bool

	f          *os.File
	id         Identity
	off        int64 // bytes consumed from f (complete lines and pending)
	pending    []byte
	discarding bool // in an over-long line, skipping to its newline
	pos        *Positions
	rotated    bool      // path no longer names f
	next       Identity  // rotated: what path named when the rotation was seen
	quietSince time.Time // rotated: last time f produced bytes

	lines []Line
	// sig holds the last sigLen bytes before off: a file truncated and
	// written again past off between two polls shows other bytes there.
	sig    [sigSize]byte
	sigLen int

	drain     chan struct{} // closed by Drain
	drainOnce sync.Once
}

// New returns a Tailer for path that resumes from the position pos holds
// for it (pos may be nil). m may be nil.
func New(path string, pos *Positions, cfg Config, m *Metrics, logger *slog.Logger) *Tailer {
	def := DefaultConfig()
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = def.PollInterval
	}
	if cfg.MaxLineSize <= 0 {
		cfg.MaxLineSize = def.MaxLineSize
	}
	if cfg.ReadSize <= 0 {
		cfg.ReadSize = def.ReadSize
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Tailer{path: path, pos: pos, cfg: cfg, m: m, logger: logger.With("path", path), drain: make(chan struct{})}
	if pos != nil {
		t.start, t.hasPos = pos.Get(path)
	}
	return t
}

// Run follows the file until ctx is done (returning nil), Drain was
// called and the file is read to its end (returning nil), or h fails
// (returning its error). A missing file is waited for.
func (t *Tailer) Run(ctx context.Context, h Handler) error {
	defer t.close()
	tick := time.NewTicker(t.cfg.PollInterval)
	defer tick.Stop()
	for {
		if t.f == nil {
			if err := t.open(); err != nil {
				return err
			}
		}
		if t.f != nil {
			if err := t.poll(ctx, h); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.drain:
			return t.finish(ctx, h)
		case <-tick.C:
		}
	}
}

// Drain asks Run to read what the file it has open holds now, hand on a
// partial last line (nothing will complete it), and return: the target
// is going away (its pod was deleted) and its last lines must not be
// lost. A file rotated away is finished; its successor is not opened.
// Drain may be called more than once and from any goroutine.
func (t *Tailer) Drain() { t.drainOnce.Do(func() { close(t.drain) }) }

func (t *Tailer) finish(ctx context.Context, h Handler) error {
	if t.f == nil {
		return nil
	}
	if _, err := t.readAll(ctx, h); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return t.flushPending(ctx, h)
}

func (t *Tailer) close() {
	if t.f != nil {
		_ = t.f.Close()
		t.f = nil
	}
}

// open opens the file to start with, honouring the committed position. It
// leaves t.f nil when the path does not exist yet.
func (t *Tailer) open() error {
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", t.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", t.path, err)
	}
	id := identityOf(fi)
	off := int64(0)
	switch {
	case !t.hasPos:
		if t.cfg.ReadFromEnd {
			off = fi.Size()
		}
	case t.start.ID.IsZero() || t.start.ID == id:
		if t.start.Offset <= fi.Size() {
			off = t.start.Offset
		}
	default:
		// Rotated while we were away: finish the old file first.
		if old := t.findSibling(t.start.ID); old != nil {
			ofi, err := old.Stat()
			if err == nil && t.start.Offset <= ofi.Size() {
				_ = f.Close()
				t.logger.Info("resuming rotated file", "file", old.Name(), "offset", t.start.Offset)
				t.f, t.id, t.off = old, t.start.ID, t.start.Offset
				t.rotated, t.quietSince = true, time.Now()
				t.hasPos = false
				return t.seek()
			}
			_ = old.Close()
		}
	}
	if !t.hasPos && t.pos != nil {
		// A path seen for the first time gets its position at once (it
		// holds no line, so it is never ahead of the WAL): if the agent
		// dies before its first commit and the file is rotated meanwhile,
		// the next start finds the rotated file by its identity instead
		// of reading only the file now at the path.
		t.pos.Commit(t.path, id, off)
	}
	t.hasPos = false // the start position is used once
	t.f, t.id, t.off = f, id, off
	return t.seek()
}

func (t *Tailer) seek() error {
	t.sigLen = 0
	if _, err := t.f.Seek(t.off, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", t.f.Name(), err)
	}
	return nil
}

// findSibling opens the file of t.path's directory whose identity is id.
func (t *Tailer) findSibling(id Identity) *os.File {
	if id.IsZero() {
		return nil
	}
	dir, base := filepath.Split(t.path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if e.Name() == base || !strings.HasPrefix(e.Name(), base) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || identityOf(fi) != id {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil
		}
		return f
	}
	return nil
}

// successor opens the rotated sibling of t.path last modified the
// soonest after mod, other than the files prev and cur: the file that
// replaced prev at the path, itself rotated since.
func (t *Tailer) successor(mod time.Time, prev, cur Identity) (*os.File, Identity) {
	dir, base := filepath.Split(t.path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, Identity{}
	}
	var best os.FileInfo
	var bestName string
	for _, e := range ents {
		if e.Name() == base || !strings.HasPrefix(e.Name(), base) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		id := identityOf(fi)
		if id == prev || id == cur || fi.ModTime().Before(mod) {
			continue
		}
		if best == nil || fi.ModTime().Before(best.ModTime()) {
			best, bestName = fi, e.Name()
		}
	}
	if best == nil {
		return nil, Identity{}
	}
	f, err := os.Open(filepath.Join(dir, bestName))
	if err != nil {
		return nil, Identity{}
	}
	// The name may have been reused since ReadDir.
	fi, err := f.Stat()
	if err != nil || identityOf(fi) != identityOf(best) {
		_ = f.Close()
		return nil, Identity{}
	}
	t.logger.Info("reading rotated successor", "file", f.Name())
	return f, identityOf(fi)
}

// poll reads what is new, then checks for rotation.
func (t *Tailer) poll(ctx context.Context, h Handler) error {
	n, err := t.readAll(ctx, h)
	if err != nil {
		return err
	}
	now := time.Now()
	if t.rotated {
		if n > 0 {
			t.quietSince = now
		}
		if now.Sub(t.quietSince) < t.cfg.RotateGrace {
			return nil
		}
		fi, err := os.Stat(t.path)
		if err != nil {
			return nil // no new file yet: keep the old one
		}
		if err := t.flushPending(ctx, h); err != nil {
			return err
		}
		var prevMod time.Time
		if pfi, err := t.f.Stat(); err == nil {
			prevMod = pfi.ModTime()
		}
		prevID := t.id
		t.close()
		t.m.Rotations.WithLabelValues("rename").Inc()
		t.rotated = false
		t.discarding = false
		cur := identityOf(fi)
		var next *os.File
		var nextID Identity
		switch {
		case !t.next.IsZero() && cur != t.next:
			// Rotated again meanwhile: drain the file that followed ours.
			next, nextID = t.findSibling(t.next), t.next
		case t.next.IsZero():
			// Resumed after a restart, or the path was missing when the
			// rotation was seen: the file that followed ours is the
			// rotated sibling written next.
			next, nextID = t.successor(prevMod, prevID, cur)
		}
		if next != nil {
			t.f, t.id, t.off, t.sigLen = next, nextID, 0, 0
			// Its own successor is found by the same search.
			t.rotated, t.quietSince, t.next = true, now, Identity{}
			_, err := t.readAll(ctx, h)
			return err
		}
		if err := t.openNew(); err != nil {
			return err
		}
		_, err = t.readAll(ctx, h)
		return err
	}
	fi, err := os.Stat(t.path)
	if err != nil || identityOf(fi) != t.id {
		t.rotated, t.quietSince, t.next = true, now, Identity{}
		if err == nil {
			t.next = identityOf(fi)
		}
		return nil
	}
	cur, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", t.path, err)
	}
	if cur.Size() < t.off {
		if err := t.restart(ctx, h); err != nil {
			return err
		}
		_, err := t.readAll(ctx, h)
		return err
	}
	return nil
}

// openNew opens the file that replaced a rotated one, from its start.
func (t *Tailer) openNew() error {
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // gone again; Run retries
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", t.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", t.path, err)
	}
	t.f, t.id, t.off, t.sigLen = f, identityOf(fi), 0, 0
	return nil
}

// flushPending emits a held partial line: its file will not grow again.
func (t *Tailer) flushPending(ctx context.Context, h Handler) error {
	if len(t.pending) == 0 && !t.discarding {
		return nil
	}
	line := Line{Text: string(t.pending), ID: t.id, Offset: t.off, Truncated: t.discarding}
	t.pending = t.pending[:0]
	t.discarding = false
	t.m.ReadLines.Inc()
	t.lines = append(t.lines[:0], line)
	err := h(ctx, t.lines)
	clear(t.lines)
	t.lines = t.lines[:0]
	return err
}

// readAll reads to the end of the file, handing lines to h after every
// read. It returns the number of bytes read.
func (t *Tailer) readAll(ctx context.Context, h Handler) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, nil
		}
		if !t.cfg.Gate.enter(ctx) {
			return total, nil
		}
		n, err := t.readOnce(total == 0)
		if errors.Is(err, errReplaced) {
			t.cfg.Gate.leave()
			if err := t.restart(ctx, h); err != nil {
				return total, err
			}
			continue
		}
		total += int64(n)
		if len(t.lines) > 0 {
			t.m.ReadLines.Add(float64(len(t.lines)))
			if herr := h(ctx, t.lines); herr != nil {
				t.cfg.Gate.leave()
				return total, herr
			}
			clear(t.lines)
			t.lines = t.lines[:0]
			if cap(t.lines) > maxKeptLines {
				t.lines = nil // a burst of short lines must not cost every Tailer its size
			}
		}
		t.cfg.Gate.leave()
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("read %s: %w", t.f.Name(), err)
		}
	}
}

// readOnce reads once and splits what it read into t.lines. With verify,
// when it read something, it first checks that the bytes before the read
// are still those read last (errReplaced when not).
func (t *Tailer) readOnce(verify bool) (int, error) {
	// The read buffer is borrowed for the read only: split copies what
	// it keeps, and an idle Tailer (or one blocked in h) holds none.
	bp := getReadBuf(t.cfg.ReadSize)
	defer readBufs.Put(bp)
	n, err := t.f.Read(*bp)
	if n > 0 {
		if verify && t.replaced() {
			return 0, errReplaced
		}
		t.m.ReadBytes.Add(float64(n))
		t.split((*bp)[:n])
		t.keepSig((*bp)[:n])
	}
	return n, err
}

// sigSize is how many bytes before the read offset are compared.
const sigSize = 32

// errReplaced reports a file truncated and written again since the last
// read.
var errReplaced = errors.New("file content replaced")

// replaced reports whether the bytes before t.off differ from those read.
func (t *Tailer) replaced() bool {
	if t.sigLen == 0 || t.off < int64(t.sigLen) {
		return false
	}
	var b [sigSize]byte
	n, err := t.f.ReadAt(b[:t.sigLen], t.off-int64(t.sigLen))
	if n < t.sigLen && err != nil && !errors.Is(err, io.EOF) {
		return false // cannot tell; the size check still applies
	}
	return !bytes.Equal(b[:n], t.sig[:t.sigLen])
}

// keepSig remembers the last bytes of b, just read, as those before t.off.
func (t *Tailer) keepSig(b []byte) {
	if len(b) >= sigSize {
		t.sigLen = copy(t.sig[:], b[len(b)-sigSize:])
		return
	}
	keep := min(t.sigLen, sigSize-len(b))
	copy(t.sig[:keep], t.sig[t.sigLen-keep:t.sigLen])
	t.sigLen = keep + copy(t.sig[keep:], b)
}

// restart reads the file from its start again: it was truncated in place
// (copytruncate).
func (t *Tailer) restart(ctx context.Context, h Handler) error {
	if err := t.flushPending(ctx, h); err != nil {
		return err
	}
	t.m.Rotations.WithLabelValues("truncate").Inc()
	t.logger.Info("file truncated, reading from start", "offset", t.off)
	t.off, t.discarding = 0, false
	return t.seek()
}

// readBufs holds read buffers shared by all Tailers: a thousand idle
// Tailers would otherwise keep a thousand ReadSize buffers.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// getReadBuf returns a pooled buffer of length size.
func getReadBuf(size int) *[]byte {
	bp := readBufs.Get().(*[]byte)
	if cap(*bp) < size {
		*bp = make([]byte, size)
	}
	*bp = (*bp)[:size]
	return bp
}

// split cuts b into lines appended to t.lines, keeping an unfinished tail
// in t.pending. Each line gets its own string: a line that a pipeline
// keeps (a multiline block's start) then keeps only itself in memory, not
// the whole read.
func (t *Tailer) split(b []byte) {
	maxLen := t.cfg.MaxLineSize
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.off += int64(len(b))
			if t.discarding {
				return
			}
			if room := maxLen - len(t.pending); len(b) > room {
				t.pending = append(t.pending, b[:room]...)
				t.discarding = true
				return
			}
			t.pending = append(t.pending, b...)
			return
		}
		seg := b[:i]
		t.off += int64(i + 1)
		b = b[i+1:]
		line := Line{ID: t.id, Offset: t.off}
		switch {
		case t.discarding:
			line.Text, line.Truncated = string(t.pending), true
		case len(t.pending) > 0:
			full := append(t.pending, seg...)
			if len(full) > maxLen {
				full, line.Truncated = full[:maxLen], true
			}
			line.Text = string(full)
			t.pending = full[:0]
		case len(seg) > maxLen:
			line.Text, line.Truncated = string(seg[:maxLen]), true
		default:
			line.Text = string(seg)
		}
		if line.Truncated {
			t.m.TruncatedLines.Inc()
		}
		t.pending = t.pending[:0]
		if cap(t.pending) > maxKeptPending {
			t.pending = nil // one long line must not cost every Tailer its size
		}
		t.discarding = false
		t.lines = append(t.lines, line)
	}
}

// maxKeptLines is the largest line slice a Tailer keeps between reads.
const maxKeptLines = 256

// maxKeptPending is the largest partial-line buffer a Tailer keeps for
// reuse once the line is complete.
const maxKeptPending = 4 << 10
