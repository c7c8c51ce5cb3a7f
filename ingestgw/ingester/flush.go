package ingester

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/objkey"
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
	ing.ready = true
	held := ing.memBytes
	ing.mu.Unlock()
	ing.logger.Info("WAL replayed", "records", records, "bad_records", bad, "bytes_held", held, "duration", time.Since(start))

	var wg sync.WaitGroup
	for range ing.cfg.FlushConcurrency {
		wg.Go(func() { ing.uploadLoop(ctx) })
	}
	go func() {
		ing.flushLoop(ctx)
		wg.Wait()
	}()
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
		ing.queue = append(ing.queue, sealed...)
		ing.mu.Unlock()
		ing.signalQueued()
	}
	return sealed
}

// signalQueued wakes one upload loop.
func (ing *Ingester) signalQueued() {
	select {
	case ing.queued <- struct{}{}:
	default:
	}
}

// dequeue takes the next sealed head to upload, or nil.
func (ing *Ingester) dequeue() *head {
	ing.mu.Lock()
	defer ing.mu.Unlock()
	if len(ing.queue) == 0 {
		return nil
	}
	h := ing.queue[0]
	ing.queue[0] = nil
	ing.queue = ing.queue[1:]
	if len(ing.queue) > 0 {
		ing.signalQueued() // wake another loop for the rest
	}
	return h
}

// requeue gives back a head whose upload was abandoned.
func (ing *Ingester) requeue(h *head) {
	ing.mu.Lock()
	ing.queue = append([]*head{h}, ing.queue...)
	ing.mu.Unlock()
	ing.signalQueued()
}

// uploadLoop uploads sealed heads, retrying each until it succeeds or ctx
// ends.
func (ing *Ingester) uploadLoop(ctx context.Context) {
	for {
		h := ing.dequeue()
		if h == nil {
			select {
			case <-ctx.Done():
				return
			case <-ing.queued:
			}
			continue
		}
		if err := ing.uploadWithRetry(ctx, h); err != nil {
			// Shutting down: leave the head for Stop to upload.
			ing.requeue(h)
			return
		}
	}
}

func (ing *Ingester) uploadWithRetry(ctx context.Context, h *head) error {
	backoff := ing.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := ing.upload(ctx, h)
		if err == nil {
			ing.finishFlush(h)
			return nil
		}
		ing.m.uploadErrs.Inc()
		ing.logger.Warn("upload head; will retry", "tenant", h.tenant, "day", h.day, "attempt", attempt, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("upload %s/%s: %w", h.tenant, h.day, context.Cause(ctx))
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)/2+1))):
		}
		backoff = min(2*backoff, ing.cfg.RetryMax)
	}
}

// upload writes h as one data file and its index. The index goes last: a
// querier that sees an index finds its data file complete.
func (ing *Ingester) upload(ctx context.Context, h *head) error {
	start := time.Now()
	var buf bytes.Buffer
	w := datafile.NewWriter(&buf, ing.cfg.DataFile)
	for _, s := range h.sortedStreams() {
		for _, e := range s.entries {
			if err := w.Append(s.labels, e.ts, e.line, e.md); err != nil {
				return fmt.Errorf("write data file: %w", err)
			}
		}
	}
	sum, err := w.Close()
	if err != nil {
		return fmt.Errorf("write data file: %w", err)
	}
	id, err := objkey.NewULID(time.Now(), nil)
	if err != nil {
		return err
	}
	idx := index.Build(sum, ing.cfg.Index).Encode()
	dataKey := objkey.Data(h.tenant, h.day, id)
	if err := ing.bkt.Put(ctx, dataKey, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		return fmt.Errorf("upload %s: %w", dataKey, err)
	}
	idxKey := objkey.Index(h.tenant, h.day, id)
	if err := ing.bkt.Put(ctx, idxKey, bytes.NewReader(idx), int64(len(idx))); err != nil {
		// The data file without an index is invisible; the compactor's
		// rebuild finds it, and the retry writes a new pair.
		return fmt.Errorf("upload %s: %w", idxKey, err)
	}
	ing.m.flushBytes.Add(float64(buf.Len() + len(idx)))
	ing.m.flushDur.Observe(time.Since(start).Seconds())
	ing.logger.Info("flushed head", "tenant", h.tenant, "day", h.day, "streams", len(h.streams), "raw_bytes", h.bytes, "file_bytes", buf.Len(), "key", dataKey, "duration", time.Since(start))
	return nil
}

// finishFlush drops an uploaded head and the WAL segments no head needs.
func (ing *Ingester) finishFlush(h *head) {
	ing.mu.Lock()
	ing.flushing = slices.DeleteFunc(ing.flushing, func(x *head) bool { return x == h })
	ing.memBytes -= h.memBytes()
	ing.m.memory.Set(float64(ing.memBytes))
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

// Flush seals every head and waits until all of them are uploaded or ctx
// ends. It serves the /flush endpoint and shutdown.
func (ing *Ingester) Flush(ctx context.Context) error {
	ing.sealDue(true)
	for {
		ing.mu.Lock()
		n := len(ing.flushing)
		ing.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush: %d heads not uploaded: %w", n, context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop flushes everything it can within ctx. What it cannot upload stays
// in the WAL and is replayed on the next start. It uploads by itself, so
// it works after the context given to Start has ended.
func (ing *Ingester) Stop(ctx context.Context) error {
	ing.mu.Lock()
	ing.ready = false
	ing.mu.Unlock()
	err := ing.drain(ctx)
	if ing.closeWAL != nil {
		err = errors.Join(err, ing.closeWAL())
	}
	return err
}

// drain seals every head and uploads until none is left: heads an upload
// loop gave back, and heads of pushes that were admitted before Stop.
func (ing *Ingester) drain(ctx context.Context) error {
	for {
		ing.sealDue(true)
		for h := ing.dequeue(); h != nil; h = ing.dequeue() {
			if err := ing.uploadWithRetry(ctx, h); err != nil {
				ing.requeue(h)
				return fmt.Errorf("stop: %w (the rest stays in the WAL)", err)
			}
		}
		ing.mu.Lock()
		n, queued := len(ing.flushing), len(ing.queue)
		ing.mu.Unlock()
		if n == 0 {
			return nil
		}
		if queued > 0 {
			continue // an upload loop gave a head back
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop: %d heads not uploaded: %w (they stay in the WAL)", n, context.Cause(ctx))
		case <-ing.queued:
		case <-time.After(20 * time.Millisecond):
		}
	}
}
