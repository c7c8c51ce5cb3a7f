package ring

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Probe checks one member, e.g. by asking its readiness endpoint. It
// returns nil when the member can take writes.
type Probe func(ctx context.Context, member string) error

// Health probes the ring's members and remembers which answered. Its Quorum
// is what a gateway's readiness means: enough ingesters up that a push can
// reach a quorum, not merely listed. It is safe for concurrent use.
type Health struct {
	ring   *Ring
	probe  Probe
	logger *slog.Logger
	up     atomic.Pointer[map[string]bool]
}

// NewHealth returns a Health over r; nothing is up until the first Check.
func NewHealth(r *Ring, probe Probe, logger *slog.Logger) *Health {
	h := &Health{ring: r, probe: probe, logger: logger}
	h.up.Store(&map[string]bool{})
	return h
}

// Check probes every current member at once, each bounded by timeout, and
// records the answers.
func (h *Health) Check(ctx context.Context, timeout time.Duration) {
	members := h.ring.Members()
	up := make(map[string]bool, len(members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := h.probe(pctx, m)
			mu.Lock()
			up[m] = err == nil
			mu.Unlock()
			if err != nil && (*h.up.Load())[m] {
				h.logger.Warn("ingester stopped answering its probe", "member", m, "err", err)
			}
		})
	}
	wg.Wait()
	h.up.Store(&up)
}

// Run checks every interval until ctx ends.
func (h *Health) Run(ctx context.Context, interval, timeout time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.Check(ctx, timeout)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Up returns how many of the ring's current members answered the last
// probe.
func (h *Health) Up() int {
	up := *h.up.Load()
	n := 0
	for _, m := range h.ring.Members() {
		if up[m] {
			n++
		}
	}
	return n
}

// Quorum reports whether enough members are up for a write replicated
// rf times to reach its quorum (rf/2+1 of the replicas, rf capped by the
// ring's size, as the distributor counts it), and how many are up. Any
// quorum of replicas needs at least that many live members; it is the
// condition a gateway's readiness reports.
func (h *Health) Quorum(rf int) (ok bool, up int) {
	n := len(h.ring.Members())
	rf = min(rf, n)
	up = h.Up()
	return n > 0 && up >= rf/2+1, up
}
