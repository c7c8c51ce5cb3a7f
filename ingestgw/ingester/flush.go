package ingester

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// Start replays the WAL into heads, then marks the ingester ready and runs
// the flush loop until ctx ends. It returns once ready (or on a replay
// error); Stop flushes what is left.
func (ing *Ingester) Start(ctx context.Context) error {
	start := time.Now()
	var records, bad int
	now := ing.now()
	err := ing.wal.Replay(func(seg int, rec []byte) error {
		t, req, err := decodeRecord(rec)
		if err != nil {
			// The WAL's CRC passed, so this is a bug or a format change:
			// keep going, but say so loudly.
			bad++
			ing.logger.Error("skip undecodable WAL record", "segment", seg, "err", err)
			return nil
		}
		ing.mu.Lock()
		ts := ing.tenants[t]
		if ts == nil {
			ts = &tenantState{streams: map[string]*streamState{}}
			ing.tenants[t] = ts
		}
		for _, s := range req.Streams {
			st := ts.streams[s.Labels]
			if st == nil {
				st = &streamState{maxTs: -1 << 63}
				ts.streams[s.Labels] = st
				ing.m.streams.Inc()
			}
			st.lastSeen = now
			for _, e := range s.Entries {
				st.maxTs = max(st.maxTs, e.Timestamp)
			}
		}
		ing.apply(t, req, now, seg)
		ing.mu.Unlock()
		records++
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay WAL: %w", err)
	}
	seg, err := ing.wal.Roll()
	if err != nil {
		return fmt.Errorf("roll WAL: %w", err)
	}
	ing.mu.Lock()
	ing.curSeg = seg
	ing.mu.Unlock()
	quarantined, err := ing.loadQuarantine()
	if err != nil {
		return err
	}
	ing.mu.Lock()
	ing.ready = true
	held := ing.memBytes
	ing.mu.Unlock()
	ing.logger.Info("WAL replayed", "records", records, "bad_records", bad, "quarantined_heads", quarantined, "bytes_held", held, "duration", time.Since(start))

	lctx, cancel := context.WithCancel(ctx)
	ing.stopRun = cancel
	for range ing.cfg.FlushConcurrency {
		ing.loops.Go(func() { ing.uploadLoop(lctx, false) })
	}
	ing.loops.Go(func() { ing.flushLoop(lctx) })
	return nil
}

// flushLoop seals heads that reached their size or age.
func (ing *Ingester) flushLoop(ctx context.Context) {
	t := time.NewTicker(ing.cfg.FlushCheckPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-ing.kick:
		}
		ing.sealDue(false)
	}
}

// sealDue moves heads due for a flush (all of them when force or at the
// memory limit) to the upload queue, and forgets streams idle for longer than their window.
func (ing *Ingester) sealDue(force bool) []*head {
	now := ing.now()
	ing.mu.Lock()
	var sealed []*head
	// At the memory limit every push is refused, so no head grows to its
	// size: without this the limit would hold until the heads' age.
	memFull := ing.memBytes >= ing.cfg.MaxHeadBytes
	for k, h := range ing.heads {
		reason := ""
		switch {
		case force:
			reason = "forced"
		case memFull:
			reason = "memory"
		case h.bytes >= ing.cfg.FlushSize:
			reason = "size"
		case now.Sub(h.created) >= ing.cfg.FlushAge:
			reason = "age"
		case objkey.DayOfTime(now) > h.day+1:
			reason = "day_ended"
		default:
			continue
		}
		ing.m.flushes.WithLabelValues(reason).Inc()
		delete(ing.heads, k)
		// Sort now, under the lock: queries read flushing heads.
		for _, s := range h.streams {
			sortStream(s)
		}
		ing.flushing = append(ing.flushing, h)
		sealed = append(sealed, h)
	}
	idle := max(ing.cfg.OutOfOrderWindow, ing.cfg.FlushAge)
	for _, ts := range ing.tenants {
		for key, st := range ts.streams {
			if now.Sub(st.lastSeen) > idle {
				delete(ts.streams, key)
				ing.m.streams.Dec()
			}
		}
	}
	ing.mu.Unlock()
	if len(sealed) > 0 {
		// New records go to a new segment, so the sealed heads' segments
		// can be removed once they are uploaded.
		if seg, err := ing.wal.Roll(); err != nil {
			ing.logger.Error("roll WAL", "err", err)
		} else {
			ing.mu.Lock()
			ing.curSeg = max(ing.curSeg, seg)
			ing.mu.Unlock()
		}
	}
	if len(sealed) > 0 {
		ing.mu.Lock()
		for _, h := range sealed {
			ing.uploads[h] = newUpload(ing.cfg.RetryMin)
		}
		ing.queue = append(ing.queue, sealed...)
		ing.mu.Unlock()
		ing.signalQueued()
	}
	return sealed
}

// upload is the state of one sealed head until it is uploaded or
// quarantined. Guarded by Ingester.mu.
type upload struct {
	state    HeadState
	attempts int
	backoff  time.Duration
	retryAt  time.Time // wall clock; no attempt before it
	err      error     // the last failure
	key      string    // the data file, once uploaded
	file     string    // the quarantine file the head was loaded from
	done     chan struct{}
}

func newUpload(backoff time.Duration) *upload {
	return &upload{state: HeadPending, backoff: backoff, done: make(chan struct{})}
}

// HeadState is where a sealed head is.
type HeadState string

// States of a sealed head.
const (
	HeadPending     HeadState = "pending"     // waiting for an upload, or retrying one after a transient error
	HeadUploaded    HeadState = "uploaded"    // its data file and index are in the bucket
	HeadQuarantined HeadState = "quarantined" // failed permanently; kept in the quarantine directory
)

// signalQueued wakes one upload loop.
func (ing *Ingester) signalQueued() {
	select {
	case ing.queued <- struct{}{}:
	default:
	}
}

// next takes the next sealed head due for an upload attempt, waiting for
// one until ctx ends (nil). A head backing off after a transient error is
// skipped until its retry time, so it never holds up the heads behind it.
// With drain, next returns nil once no head is left to upload at all.
func (ing *Ingester) next(ctx context.Context, drain bool) *head {
	for {
		if ctx.Err() != nil {
			return nil
		}
		ing.mu.Lock()
		now := time.Now()
		wait := time.Duration(-1)
		for i, h := range ing.queue {
			u := ing.uploads[h]
			if d := u.retryAt.Sub(now); d > 0 {
				if wait < 0 || d < wait {
					wait = d
				}
				continue
			}
			ing.queue = slices.Delete(ing.queue, i, i+1)
			ing.busy++
			more := len(ing.queue) > 0
			ing.mu.Unlock()
			if more {
				ing.signalQueued() // wake another loop for the rest
			}
			return h
		}
		idle := len(ing.queue) == 0 && ing.busy == 0
		ing.mu.Unlock()
		if drain && idle {
			return nil
		}
		if wait < 0 && drain {
			wait = 20 * time.Millisecond // another loop's upload may fail and come back
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-ing.queued:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// uploadLoop uploads sealed heads until ctx ends (or, with drain, until
// none is left).
func (ing *Ingester) uploadLoop(ctx context.Context, drain bool) {
	for {
		h := ing.next(ctx, drain)
		if h == nil {
			return
		}
		ing.attempt(ctx, h)
	}
}

// attempt makes one upload attempt of h and files the head by its outcome:
// uploaded; back in the queue with backoff after a transient error;
// quarantined after a permanent one; or back in the queue untouched when
// ctx ended (shutting down).
func (ing *Ingester) attempt(ctx context.Context, h *head) {
	actx, cancel := context.WithTimeout(ctx, ing.cfg.UploadTimeout)
	key, err := ing.upload(actx, h)
	cancel()
	ing.mu.Lock()
	ing.busy--
	u := ing.uploads[h]
	ing.mu.Unlock()
	switch {
	case err == nil:
		ing.finishFlush(h, key)
		return
	case ctx.Err() != nil:
		ing.requeue(h, u, false)
		return
	case permanent(err):
		ing.m.uploadErrs.Inc()
		if qerr := ing.quarantine(h, u, err); qerr == nil {
			return
		} else {
			err = fmt.Errorf("%w; and could not quarantine the head: %v", err, qerr)
		}
	default:
		ing.m.uploadErrs.Inc()
	}
	ing.mu.Lock()
	u.attempts++
	u.err = err
	wait := u.backoff + time.Duration(rand.Int64N(int64(u.backoff)/2+1))
	u.retryAt = time.Now().Add(wait)
	u.backoff = min(2*u.backoff, ing.cfg.RetryMax)
	attempts := u.attempts
	ing.mu.Unlock()
	ing.logger.Warn("upload head; will retry", "tenant", h.tenant, "day", h.day, "attempt", attempts, "retry_in", wait, "err", err)
	ing.requeue(h, u, true)
}

// requeue puts h back: at the end of the queue after a failure, at the
// front when an attempt was abandoned.
func (ing *Ingester) requeue(h *head, u *upload, failed bool) {
	ing.mu.Lock()
	if failed {
		ing.queue = append(ing.queue, h)
	} else {
		ing.queue = append([]*head{h}, ing.queue...)
	}
	ing.mu.Unlock()
	ing.signalQueued()
}

// buildError is a failure to encode a head's data file or index: the same
// head fails the same way every time.
type buildError struct{ err error }

func (e *buildError) Error() string { return e.err.Error() }
func (e *buildError) Unwrap() error { return e.err }

// permanent reports whether an upload error will repeat on every retry of
// the same head: the bucket refuses the key, or the head cannot be encoded.
// Everything else (network, 5xx, timeouts, a bucket that is down or
// denies access until someone fixes it) is transient.
func permanent(err error) bool {
	_, build := errors.AsType[*buildError](err)
	return build || errors.Is(err, bucket.ErrInvalidKey) || errors.Is(err, bucket.ErrKeyConflict)
}

// upload writes h as one data file and its index and returns the data
// file's key. The index goes last: a querier that sees an index finds its
// data file complete.
func (ing *Ingester) upload(ctx context.Context, h *head) (string, error) {
	start := time.Now()
	var buf bytes.Buffer
	w := datafile.NewWriter(&buf, ing.cfg.DataFile)
	for _, s := range h.sortedStreams() {
		for _, e := range s.entries {
			if err := w.Append(s.labels, e.ts, e.line, e.md); err != nil {
				return "", &buildError{fmt.Errorf("write data file: %w", err)}
			}
		}
	}
	sum, err := w.Close()
	if err != nil {
		return "", &buildError{fmt.Errorf("write data file: %w", err)}
	}
	id, err := objkey.NewULID(time.Now(), nil)
	if err != nil {
		return "", err
	}
	idx := index.Build(sum, ing.cfg.Index).Encode()
	dataKey := objkey.Data(h.tenant, h.day, id)
	if err := ing.bkt.Put(ctx, dataKey, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		return "", fmt.Errorf("upload %s: %w", dataKey, err)
	}
	idxKey := objkey.Index(h.tenant, h.day, id)
	if err := ing.bkt.Put(ctx, idxKey, bytes.NewReader(idx), int64(len(idx))); err != nil {
		// The data file without an index is invisible; the compactor's
		// rebuild finds it, and the retry writes a new pair.
		return "", fmt.Errorf("upload %s: %w", idxKey, err)
	}
	ing.m.flushBytes.Add(float64(buf.Len() + len(idx)))
	ing.m.flushDur.Observe(time.Since(start).Seconds())
	ing.logger.Info("flushed head", "tenant", h.tenant, "day", h.day, "streams", len(h.streams), "raw_bytes", h.bytes, "file_bytes", buf.Len(), "key", dataKey, "duration", time.Since(start))
	return dataKey, nil
}

// finishFlush drops an uploaded head and the WAL segments no head needs.
func (ing *Ingester) finishFlush(h *head, key string) {
	ing.mu.Lock()
	u := ing.uploads[h]
	ing.release(h)
	u.state, u.key, u.err = HeadUploaded, key, nil
	ing.mu.Unlock()
	if u.file != "" {
		if err := os.Remove(u.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			ing.logger.Error("remove quarantine file of an uploaded head", "file", u.file, "err", err)
		} else {
			ing.m.quarantineNow.Dec()
		}
	}
	ing.trimWAL()
	// Waiters (Flush) are told last, so that when Flush returns the WAL
	// segments of the uploaded heads are gone too.
	close(u.done)
}

// release forgets a sealed head: its memory, and the pin it holds on the
// WAL. Called with mu.
func (ing *Ingester) release(h *head) {
	ing.flushing = slices.DeleteFunc(ing.flushing, func(x *head) bool { return x == h })
	delete(ing.uploads, h)
	ing.memBytes -= h.memBytes()
	ing.m.memory.Set(float64(ing.memBytes))
}

// trimWAL removes the WAL segments no head needs any more.
func (ing *Ingester) trimWAL() {
	ing.mu.Lock()
	keep := ing.curSeg
	for _, x := range ing.heads {
		keep = min(keep, x.firstSeg)
	}
	for _, x := range ing.flushing {
		keep = min(keep, x.firstSeg)
	}
	for seg := range ing.inflight {
		keep = min(keep, seg)
	}
	ing.mu.Unlock()
	if err := ing.wal.RemoveBefore(keep); err != nil {
		ing.logger.Error("remove WAL segments", "before", keep, "err", err)
	}
}

// HeadFlush is the outcome of one head in a Flush.
type HeadFlush struct {
	Tenant   tenant.ID  `json:"tenant"`
	Day      objkey.Day `json:"-"`
	DayText  string     `json:"day"`
	Entries  int        `json:"entries"`
	Bytes    int64      `json:"bytes"`
	State    HeadState  `json:"state"`
	Attempts int        `json:"failed_attempts,omitempty"`
	Key      string     `json:"key,omitempty"`
	Err      string     `json:"error,omitempty"`
}

// FlushHeads seals every head and waits until each sealed head is uploaded
// or quarantined, or ctx ends; it reports every head it waited for. One
// head's failures never hold up another's upload.
func (ing *Ingester) FlushHeads(ctx context.Context) []HeadFlush {
	ing.sealDue(true)
	type waited struct {
		h *head
		u *upload
	}
	ing.mu.Lock()
	var ws []waited
	for _, h := range ing.flushing {
		if u := ing.uploads[h]; u != nil {
			ws = append(ws, waited{h, u})
		}
	}
	ing.mu.Unlock()
	for _, w := range ws {
		select {
		case <-w.u.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	out := make([]HeadFlush, 0, len(ws))
	ing.mu.Lock()
	defer ing.mu.Unlock()
	for _, w := range ws {
		hf := HeadFlush{Tenant: w.h.tenant, Day: w.h.day, DayText: w.h.day.String(), Bytes: w.h.bytes,
			State: w.u.state, Attempts: w.u.attempts, Key: w.u.key}
		for _, s := range w.h.streams {
			hf.Entries += len(s.entries)
		}
		if w.u.err != nil {
			hf.Err = w.u.err.Error()
		}
		if hf.State == HeadPending && hf.Err == "" {
			hf.Err = fmt.Sprintf("not uploaded yet: %v", context.Cause(ctx))
		}
		out = append(out, hf)
	}
	return out
}

// Flush is FlushHeads that returns an error naming each head not uploaded.
func (ing *Ingester) Flush(ctx context.Context) error {
	return flushError(ing.FlushHeads(ctx))
}

func flushError(heads []HeadFlush) error {
	var bad []string
	for _, h := range heads {
		if h.State != HeadUploaded {
			bad = append(bad, fmt.Sprintf("%s/%s (%d entries): %s: %s", h.Tenant, h.DayText, h.Entries, h.State, h.Err))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("flush: %d of %d heads not uploaded: %s", len(bad), len(heads), strings.Join(bad, "; "))
}

// Stop flushes everything it can within ctx and Config.StopTimeout, then
// closes the WAL. What it cannot upload stays in the WAL (or the
// quarantine directory) and is loaded on the next start. It stops the
// loops Start began and uploads by itself, so it works after the context
// given to Start has ended.
func (ing *Ingester) Stop(ctx context.Context) error {
	ing.mu.Lock()
	ing.ready = false
	ing.mu.Unlock()
	if ing.stopRun != nil {
		ing.stopRun()
	}
	ing.loops.Wait()
	ctx, cancel := context.WithTimeout(ctx, ing.cfg.StopTimeout)
	defer cancel()
	err := ing.drain(ctx)
	if ing.closeWAL != nil {
		err = errors.Join(err, ing.closeWAL())
	}
	return err
}

// drain seals every head and uploads until none is left, or ctx ends. It
// seals again after each round for heads of pushes admitted before Stop.
func (ing *Ingester) drain(ctx context.Context) error {
	for {
		ing.sealDue(true)
		var wg sync.WaitGroup
		for range ing.cfg.FlushConcurrency {
			wg.Go(func() { ing.uploadLoop(ctx, true) })
		}
		wg.Wait()
		ing.mu.Lock()
		pending, live, admitted := len(ing.uploads), len(ing.heads), len(ing.inflight)
		ing.mu.Unlock()
		switch {
		case pending > 0:
			return fmt.Errorf("stop: %d heads not uploaded: %w (they stay in the WAL)", pending, context.Cause(ctx))
		case live == 0 && admitted == 0:
			return nil
		case live == 0:
			// A push admitted before Stop is between its WAL append and
			// its head: wait for its head, then seal it too.
			select {
			case <-ctx.Done():
				return fmt.Errorf("stop: %d pushes not applied: %w (they stay in the WAL)", admitted, context.Cause(ctx))
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}
