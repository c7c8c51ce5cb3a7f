package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/distributor"
)

// DemoConfig makes the all-in-one process feed itself generated
// Kubernetes-like logs, so a fresh install has data to explore.
type DemoConfig struct {
	Enabled  bool          `yaml:"enabled"`
	Tenant   string        `yaml:"tenant"`   // default "fake", what Grafana reads with auth off
	Rate     float64       `yaml:"rate"`     // lines per second once caught up
	Backfill time.Duration `yaml:"backfill"` // how far back the demo data starts
}

// pusher is what the demo writes to (the distributor).
type pusher interface {
	Push(ctx context.Context, t tenant.ID, req *push.Request) error
}

// runDemo backfills cfg.Backfill of logs as fast as the pipeline takes
// them, then keeps generating at cfg.Rate until ctx ends.
func runDemo(ctx context.Context, cfg DemoConfig, p pusher, logger *slog.Logger) {
	t := tenant.ID(cfg.Tenant)
	gcfg := loggen.DefaultConfig()
	gcfg.Seed = uint64(time.Now().UnixNano())
	gcfg.Start = time.Now().Add(-cfg.Backfill)
	gcfg.Rate = cfg.Rate
	gcfg.TenantIDs = []tenant.ID{t}
	gen := loggen.New(gcfg)
	logger = logger.With("component", "demo", "tenant", t)
	logger.Info("demo data: backfilling", "from", gcfg.Start.Format(time.RFC3339), "rate", cfg.Rate)

	const batch = 500
	backfilled := false
	var pushed int
	for ctx.Err() == nil {
		idx := map[string]int{}
		var req push.Request
		var last int64
		for range batch {
			e := gen.Next()
			key := e.Labels.String()
			i, ok := idx[key]
			if !ok {
				i = len(req.Streams)
				idx[key] = i
				req.Streams = append(req.Streams, push.Stream{Labels: key})
			}
			req.Streams[i].Entries = append(req.Streams[i].Entries, push.Entry{Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata})
			last = e.Timestamp
		}
		// Respect the tenant's rate limit: retry the batch after a pause.
		for {
			err := p.Push(ctx, t, &req)
			if err == nil || ctx.Err() != nil {
				break
			}
			if _, limited := errors.AsType[*distributor.RateLimitedError](err); !limited {
				logger.Warn("demo push", "err", err)
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
		pushed += batch
		// Once caught up with the clock, wait for it.
		if wait := time.Until(time.Unix(0, last)); wait > 0 {
			if !backfilled {
				backfilled = true
				logger.Info("demo data: backfill done; generating live", "lines", pushed)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}
