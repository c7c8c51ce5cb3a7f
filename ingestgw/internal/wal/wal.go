package wal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxGroupBytes bounds one group commit, to bound the writer's buffer and
// the latency of the appends queued behind it.
const maxGroupBytes = 8 << 20

// WAL is an append-only record log; see the package documentation.
// Append, Roll and RemoveBefore are safe for concurrent use; Replay must not
// run concurrently with RemoveBefore.
type WAL struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics
	create createFunc

	firstOwn int // first segment this process writes; Replay reads those below

	reqs    chan *request
	closing chan struct{}
	stopped chan struct{}

	mu     sync.RWMutex // guards closed; senders hold it for reading
	closed bool

	segMu  sync.Mutex // guards oldest and cur
	oldest int
	cur    int

	// Owned by the writer goroutine.
	f        file
	size     int64 // bytes in f
	dirty    bool  // bytes written to f since its last fsync
	broken   error
	buf      []byte
	batch    []*request
	closeErr error
}

type request struct {
	frame []byte // the record, framed by Append
	roll  bool   // a Roll instead of a record
	done  chan result
}

type result struct {
	seg int
	err error
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan result, 1)} }}

// Open opens the WAL in cfg.Dir, creating the directory if needed, repairs
// a torn tail of the newest segment (see doc.go), and starts a new segment
// for appends. Call Replay to read what earlier processes wrote.
func Open(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*WAL, error) {
	return open(cfg, logger, reg, createOS)
}

func open(cfg Config, logger *slog.Logger, reg prometheus.Registerer, create createFunc) (*WAL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &WAL{
		cfg:     cfg,
		logger:  logger.With("component", "wal"),
		m:       newMetrics(reg),
		create:  create,
		reqs:    make(chan *request, 1024),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wal dir: %w", err)
	}
	segs, err := listSegments(cfg.Dir)
	if err != nil {
		return nil, err
	}
	next := 1
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		removed, err := w.repair(last)
		if err != nil {
			return nil, err
		}
		next = last + 1
		if removed {
			next = last
			segs = segs[:len(segs)-1]
		}
	}
	w.firstOwn = next
	w.oldest = next
	if len(segs) > 0 {
		w.oldest = segs[0]
	}
	f, err := w.createSegment(next)
	if err != nil {
		return nil, err
	}
	w.f, w.size, w.cur = f, segmentHeaderSize, next
	w.updateSegmentGauges()
	go w.run()
	return w, nil
}

func (w *WAL) path(seg int) string { return filepath.Join(w.cfg.Dir, segmentName(seg)) }

// repair cuts a torn tail off segment seg, the newest. It reports whether
// it removed the segment altogether (a crash while creating it).
func (w *WAL) repair(seg int) (removed bool, err error) {
	path := w.path(seg)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("open wal segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat wal segment: %w", err)
	}
	size := fi.Size()
	res, err := scanSegment(f, size, nil)
	if err != nil {
		return false, fmt.Errorf("read wal segment %s: %w", segmentName(seg), err)
	}
	if res.bad == nil {
		return false, nil
	}
	if size < segmentHeaderSize {
		w.logger.Warn("removing wal segment with a torn header", "segment", segmentName(seg), "size", size)
		w.m.tornTails.Inc()
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("remove torn wal segment: %w", err)
		}
		return true, syncDir(w.cfg.Dir)
	}
	if res.bad.offset == 0 {
		return false, &CorruptionError{Segment: seg, Offset: 0, Reason: res.bad.reason}
	}
	tail := make([]byte, size-res.bad.offset)
	if _, err := f.ReadAt(tail, res.bad.offset); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read wal segment %s tail: %w", segmentName(seg), err)
	}
	if at := syncedFrameAfter(tail, res.bad.offset); at >= 0 {
		return false, &CorruptionError{Segment: seg, Offset: res.bad.offset, Reason: fmt.Sprintf(
			"%s, and a frame written after an fsync follows at offset %d, so this is damaged acknowledged data, not a torn write", res.bad.reason, at)}
	}
	w.logger.Warn("truncating torn tail of wal segment", "segment", segmentName(seg),
		"offset", res.bad.offset, "dropped_bytes", size-res.bad.offset, "reason", res.bad.reason, "records_kept", res.records)
	w.m.tornTails.Inc()
	if err := f.Truncate(res.bad.offset); err != nil {
		return false, fmt.Errorf("truncate wal segment %s: %w", segmentName(seg), err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("sync wal segment %s: %w", segmentName(seg), err)
	}
	return false, nil
}

// createSegment creates segment seg with its header, durably unless the
// policy is FsyncNever.
func (w *WAL) createSegment(seg int) (file, error) {
	path := w.path(seg)
	f, err := w.create(path)
	if err != nil {
		return nil, fmt.Errorf("create wal segment: %w", err)
	}
	err = func() error {
		if _, err := f.WriteAt(segmentHeader(), 0); err != nil {
			return err
		}
		if w.cfg.Fsync == FsyncNever {
			return nil
		}
		if err := f.Sync(); err != nil {
			return err
		}
		return syncDir(w.cfg.Dir)
	}()
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("create wal segment %s: %w", segmentName(seg), err)
	}
	return f, nil
}

// Append writes rec to the log and returns once it is durable according to
// the fsync policy. rec is not retained: the caller may reuse it as soon as
// Append returns. When ctx ends first, Append returns ctx.Err() and the
// record may or may not be in the log: the caller must treat it as not
// acknowledged, and replay may still see it.
func (w *WAL) Append(ctx context.Context, rec []byte) error {
	if len(rec) > MaxRecordSize {
		return fmt.Errorf("append %d bytes: %w", len(rec), ErrRecordTooLarge)
	}
	req := requestPool.Get().(*request)
	req.frame = appendFrame(req.frame[:0], rec)
	if err := w.send(ctx, req); err != nil {
		requestPool.Put(req)
		return err
	}
	select {
	case res := <-req.done:
		if cap(req.frame) <= 1<<20 {
			requestPool.Put(req)
		}
		return res.err
	case <-ctx.Done():
		return ctx.Err() // req still belongs to the writer
	}
}

func (w *WAL) send(ctx context.Context, req *request) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.reqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Roll starts a new segment and returns its number: every record appended
// before Roll returned lies in a lower segment. When the current segment
// holds no record yet, it stays current and its number is returned.
func (w *WAL) Roll() (segment int, err error) {
	req := &request{roll: true, done: make(chan result, 1)}
	if err := w.send(context.Background(), req); err != nil {
		return 0, err
	}
	res := <-req.done
	return res.seg, res.err
}

// RemoveBefore deletes the segments numbered below seg. seg must not exceed
// the current segment (as returned by Roll).
func (w *WAL) RemoveBefore(seg int) error {
	w.segMu.Lock()
	defer w.segMu.Unlock()
	if seg > w.cur {
		return fmt.Errorf("remove wal segments before %d: segment %d is still being written", seg, w.cur)
	}
	if seg <= w.oldest {
		return nil
	}
	for n := w.oldest; n < seg; n++ {
		if err := os.Remove(w.path(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove wal segment: %w", err)
		}
		w.oldest = n + 1
	}
	w.updateSegmentGaugesLocked()
	if err := syncDir(w.cfg.Dir); err != nil {
		return fmt.Errorf("sync wal dir: %w", err)
	}
	return nil
}

// Replay calls fn for every record written before Open, in order, with the
// segment that holds it. rec is only valid during the call. An error from
// fn stops the replay and is returned wrapped; damage in a segment is a
// *CorruptionError.
func (w *WAL) Replay(fn func(segment int, rec []byte) error) error {
	segs, err := listSegments(w.cfg.Dir)
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if seg >= w.firstOwn {
			break
		}
		if err := w.replaySegment(seg, fn); err != nil {
			return err
		}
	}
	return nil
}

func (w *WAL) replaySegment(seg int, fn func(segment int, rec []byte) error) error {
	f, err := os.Open(w.path(seg))
	if err != nil {
		return fmt.Errorf("open wal segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat wal segment: %w", err)
	}
	var fnErr error
	res, err := scanSegment(f, fi.Size(), func(rec []byte) error {
		if err := fn(seg, rec); err != nil {
			fnErr = err
			return err
		}
		w.m.replayed.Inc()
		return nil
	})
	switch {
	case fnErr != nil:
		return fmt.Errorf("replay wal segment %s: %w", segmentName(seg), fnErr)
	case err != nil:
		return fmt.Errorf("read wal segment %s: %w", segmentName(seg), err)
	case res.bad != nil:
		return &CorruptionError{Segment: seg, Offset: res.bad.offset, Reason: res.bad.reason}
	}
	return nil
}

// Close writes out what is queued, fsyncs unless the policy is FsyncNever,
// and closes the current segment. Appends after Close fail with ErrClosed.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.mu.Unlock()
	close(w.closing)
	<-w.stopped
	return w.closeErr
}

func (w *WAL) run() {
	defer close(w.stopped)
	var tick <-chan time.Time
	if w.cfg.Fsync == FsyncInterval {
		t := time.NewTicker(w.cfg.FsyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case r := <-w.reqs:
			w.process(r)
		case <-tick:
			if w.dirty && w.broken == nil {
				if err := w.syncFile(); err != nil {
					w.logger.Error("periodic wal fsync failed", "segment", segmentName(w.cur), "err", err)
				}
			}
		case <-w.closing:
			for {
				select {
				case r := <-w.reqs:
					w.process(r)
					continue
				default:
				}
				break
			}
			w.shutdown()
			return
		}
	}
}

// process handles first and whatever else is queued, as one group.
func (w *WAL) process(first *request) {
	batch := w.batch[:0]
	var ctl *request
	if first.roll {
		ctl = first
	} else {
		batch = append(batch, first)
		n := len(first.frame)
	drain:
		for n < maxGroupBytes {
			select {
			case r := <-w.reqs:
				if r.roll {
					ctl = r
					break drain
				}
				batch = append(batch, r)
				n += len(r.frame)
			default:
				break drain
			}
		}
	}
	if len(batch) > 0 {
		err := w.commit(batch)
		for _, r := range batch {
			r.done <- result{err: err}
		}
	}
	if ctl != nil {
		seg, err := w.roll()
		ctl.done <- result{seg: seg, err: err}
	}
	clear(batch)
	w.batch = batch[:0]
}

// commit writes one group and, under FsyncAlways, fsyncs it.
func (w *WAL) commit(batch []*request) error {
	if w.broken != nil {
		return w.broken
	}
	total := 0
	for _, r := range batch {
		total += len(r.frame)
	}
	if w.size > segmentHeaderSize && w.size+int64(total) > w.cfg.SegmentSize {
		if _, err := w.roll(); err != nil {
			w.m.writeErrors.Inc()
			return fmt.Errorf("append to wal: %w", err)
		}
	}
	buf := w.buf[:0]
	for _, r := range batch {
		buf = append(buf, r.frame...)
	}
	if cap(buf) <= maxGroupBytes*2 {
		w.buf = buf
	}
	if !w.dirty && w.cfg.Fsync != FsyncNever {
		markSynced(buf)
	}
	off := w.size
	_, err := w.f.WriteAt(buf, off)
	if err == nil {
		w.dirty = true
		if w.cfg.Fsync == FsyncAlways {
			err = w.syncFile()
		}
	}
	if err != nil {
		w.m.writeErrors.Inc()
		if terr := w.f.Truncate(off); terr != nil {
			w.broken = fmt.Errorf("%w: truncate wal segment %s to %d after a failed write: %v", ErrBroken, segmentName(w.cur), off, terr)
			w.logger.Error("wal is broken until reopened", "segment", segmentName(w.cur), "err", w.broken)
		}
		return fmt.Errorf("append to wal segment %s: %w", segmentName(w.cur), err)
	}
	w.size += int64(len(buf))
	w.m.records.Add(float64(len(batch)))
	w.m.bytes.Add(float64(len(buf)))
	w.m.groupRecords.Observe(float64(len(batch)))
	return nil
}

func (w *WAL) syncFile() error {
	start := time.Now()
	err := w.f.Sync()
	w.m.fsyncs.Inc()
	w.m.fsyncDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("fsync wal segment %s: %w", segmentName(w.cur), err)
	}
	w.dirty = false
	return nil
}

// roll closes the current segment, durably, and starts the next one.
func (w *WAL) roll() (int, error) {
	if w.broken != nil {
		return 0, w.broken
	}
	if w.size <= segmentHeaderSize {
		return w.cur, nil
	}
	if w.dirty && w.cfg.Fsync != FsyncNever {
		if err := w.syncFile(); err != nil {
			return 0, fmt.Errorf("roll wal: %w", err)
		}
	}
	next := w.cur + 1
	f, err := w.createSegment(next)
	if err != nil {
		return 0, fmt.Errorf("roll wal: %w", err)
	}
	if err := w.f.Close(); err != nil {
		w.logger.Warn("closing wal segment", "segment", segmentName(w.cur), "err", err)
	}
	w.f, w.size, w.dirty = f, segmentHeaderSize, false
	w.segMu.Lock()
	w.cur = next
	w.updateSegmentGaugesLocked()
	w.segMu.Unlock()
	return next, nil
}

func (w *WAL) shutdown() {
	var errs []error
	if w.dirty && w.broken == nil && w.cfg.Fsync != FsyncNever {
		errs = append(errs, w.syncFile())
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close wal segment %s: %w", segmentName(w.cur), err))
	}
	w.closeErr = errors.Join(errs...)
}

func (w *WAL) updateSegmentGauges() {
	w.segMu.Lock()
	defer w.segMu.Unlock()
	w.updateSegmentGaugesLocked()
}

func (w *WAL) updateSegmentGaugesLocked() {
	w.m.segments.Set(float64(w.cur - w.oldest + 1))
	w.m.currentSegment.Set(float64(w.cur))
}
