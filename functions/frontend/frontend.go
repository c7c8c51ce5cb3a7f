package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
)

// Frontend answers the Loki query API for many tenants by splitting each
// request into shards, running them on queriers through an Invoker,
// caching what can no longer change, and merging. It is safe for
// concurrent use; Close releases the cache.
type Frontend struct {
	cfg    Config
	inv    Invoker
	cache  *resultsCache
	log    *slog.Logger
	m      *metrics
	now    func() time.Time
	gens   *generations
	mu     sync.Mutex
	sems   map[tenant.ID]chan struct{}
	closed chan struct{}
	tails  sync.WaitGroup
}

// New returns a Frontend. bkt, when not nil, is the second tier of the
// results cache (objects under <tenant>/cache/); logger and reg may be nil.
func New(cfg Config, inv Invoker, bkt bucket.Bucket, logger *slog.Logger, reg prometheus.Registerer) (*Frontend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if inv == nil {
		panic("BUG: frontend.New without an Invoker")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	logger = logger.With("component", "frontend")
	c, err := newResultsCache(cfg.CacheSize, bkt, logger)
	if err != nil {
		return nil, err
	}
	f := &Frontend{
		cfg: cfg, inv: inv, cache: c, log: logger, m: newMetrics(reg),
		now: cfg.Now, sems: make(map[tenant.ID]chan struct{}), closed: make(chan struct{}),
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.gens = &generations{bkt: bkt, now: f.now}
	return f, nil
}

// Close ends open tails and releases the memory cache.
func (f *Frontend) Close() {
	select {
	case <-f.closed:
		return
	default:
	}
	close(f.closed)
	f.tails.Wait()
	f.cache.close()
}

// Limits returns the limits of t.
func (f *Frontend) Limits(t tenant.ID) Limits {
	if f.cfg.Overrides != nil {
		return f.cfg.Overrides(t)
	}
	return f.cfg.Limits
}

// sem returns t's shard semaphore, sized by its max_query_parallelism
// (a changed limit takes effect for shards that start afterwards).
func (f *Frontend) sem(t tenant.ID, n int) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sems[t]
	if !ok || cap(s) != n {
		s = make(chan struct{}, n)
		f.sems[t] = s
	}
	return s
}

// Stats is what a request cost the frontend; the HTTP API reports it in
// data.stats and the request's log line.
type Stats struct {
	Shards      int64 // shard requests planned
	Invocations int64 // querier invocations
	MemoryHits  int64 // cacheable shards found in memory
	BucketHits  int64 // … found in the bucket tier
	Misses      int64 // … found nowhere
	Stored      int64 // answers written to the cache
	Querier     querier.Stats
}

// CacheHits is the number of shards answered from either tier.
func (s Stats) CacheHits() int64 { return s.MemoryHits + s.BucketHits }

// runStats collects Stats from concurrent shards.
type runStats struct {
	shards, invocations, mem, bkt, misses, stored atomic.Int64
	mu                                            sync.Mutex
	q                                             querier.Stats
}

func (r *runStats) addQuerier(s querier.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := &r.q
	q.IndexObjects += s.IndexObjects
	q.DataObjects += s.DataObjects
	q.GetRequests += s.GetRequests
	q.BytesRead += s.BytesRead
	q.BytesStored += s.BytesStored
	q.CacheHits += s.CacheHits
	q.CacheMisses += s.CacheMisses
	q.BlocksTotal += s.BlocksTotal
	q.BlocksSkipped += s.BlocksSkipped
	q.LinesScanned += s.LinesScanned
	q.BytesScanned += s.BytesScanned
	q.IngesterEntries += s.IngesterEntries
	q.DurationSeconds += s.DurationSeconds
}

func (r *runStats) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{
		Shards: r.shards.Load(), Invocations: r.invocations.Load(),
		MemoryHits: r.mem.Load(), BucketHits: r.bkt.Load(), Misses: r.misses.Load(),
		Stored: r.stored.Load(), Querier: r.q,
	}
}

// shard is one piece of a split time range: [from, through) within day.
type shard struct {
	day           objkey.Day
	from, through int64
}

// splitRange cuts [from, through) at multiples of interval since the
// epoch; interval divides 24h, so every piece lies in one UTC day.
func splitRange(from, through int64, interval time.Duration) []shard {
	if through <= from {
		return nil
	}
	iv := int64(interval)
	var out []shard
	for s := from; s < through; {
		b := s - s%iv
		if s < 0 && s%iv != 0 {
			b -= iv
		}
		e := min(b+iv, through)
		out = append(out, shard{day: objkey.DayOf(s), from: s, through: e})
		s = e
	}
	return out
}

// request fills the shard fields of a copy of base.
func (s shard) request(base querier.Request) querier.Request {
	base.Day = s.day.String()
	base.ShardFrom, base.ShardThrough = s.from, s.through
	return base
}

// cacheable reports whether a shard's answer may be cached (no new data
// can arrive for it), setting req.Recent for shards the ingesters may
// still hold data of.
func (f *Frontend) cacheable(lim Limits, req *querier.Request) bool {
	now := f.now().UnixNano()
	req.Recent = req.ShardThrough > now-int64(lim.QueryIngestersWithin)
	return req.ShardThrough <= now-int64(lim.MaxCacheFreshness) && !req.Recent
}

// key is the cache key of a cacheable shard: the request and the
// generation of the days it reads. ok is false when the generation cannot
// be had (the shard then goes uncached).
func (f *Frontend) key(ctx context.Context, req querier.Request) (string, bool) {
	gen, err := f.gens.of(ctx, req)
	if err != nil {
		f.log.Warn("results cache off for a shard: no generation", "tenant", string(req.Tenant), "day", req.Day, "err", err)
		return "", false
	}
	return cacheKey(req, gen), true
}

// cached answers a shard from the results cache, if it can.
func (f *Frontend) cached(ctx context.Context, lim Limits, req querier.Request, st *runStats) (*querier.Response, bool) {
	if !f.cacheable(lim, &req) {
		return nil, false
	}
	key, ok := f.key(ctx, req)
	if !ok {
		return nil, false
	}
	r, tier := f.cache.get(ctx, req.Tenant, key)
	switch tier {
	case tierMemory:
		st.mem.Add(1)
		f.m.cacheHits.WithLabelValues("memory").Inc()
	case tierBucket:
		st.bkt.Add(1)
		f.m.cacheHits.WithLabelValues("bucket").Inc()
	default:
		return nil, false
	}
	st.shards.Add(1)
	f.m.shards.Inc()
	return r, true
}

// run answers one shard request: from the cache when the shard can no
// longer change, else from a querier, within t's parallelism.
func (f *Frontend) run(ctx context.Context, lim Limits, req querier.Request, st *runStats) (*querier.Response, error) {
	if r, ok := f.cached(ctx, lim, req, st); ok {
		return r, nil
	}
	return f.invoke(ctx, lim, req, st)
}

// invoke sends a shard to a querier, without looking in the cache, and
// caches the answer when the shard is cacheable.
func (f *Frontend) invoke(ctx context.Context, lim Limits, req querier.Request, st *runStats) (*querier.Response, error) {
	cacheable := f.cacheable(lim, &req)
	st.shards.Add(1)
	f.m.shards.Inc()
	var key string
	if cacheable {
		key, cacheable = f.key(ctx, req)
		st.misses.Add(1)
		f.m.cacheMisses.Inc()
	}
	sem := f.sem(req.Tenant, lim.MaxQueryParallelism)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	st.invocations.Add(1)
	f.m.invocations.Inc()
	resp, err := f.inv.Invoke(ctx, req)
	<-sem
	if err != nil {
		if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
			err = fmt.Errorf("%w (%w)", ce, err)
		}
		return nil, fmt.Errorf("shard %s: %w", req.Day, err)
	}
	st.addQuerier(resp.Stats)
	if cacheable {
		f.cache.put(ctx, req.Tenant, key, &resp)
		st.stored.Add(1)
		f.m.cacheStores.Inc()
	}
	return &resp, nil
}

// fanOut runs every request at once (bounded by the tenant's semaphore)
// and returns the answers in request order; the first error cancels the
// rest.
func (f *Frontend) fanOut(ctx context.Context, lim Limits, reqs []querier.Request, st *runStats) ([]*querier.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]*querier.Response, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			resp, err := f.run(ctx, lim, r, st)
			if err != nil {
				cancel(err)
				return
			}
			out[i] = resp
		})
	}
	wg.Wait()
	f.cache.wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// fanOutOrdered runs reqs in their order of priority, at most par at a
// time (see window), and stops launching once done(i) — called with each
// answer of the completed prefix, in order — reports that the prefix 0..i
// suffices. It returns the answers of that prefix.
//
// peek, when not nil, answers a request at once when it can (from the
// results cache): such answers take no slot and do not widen the window,
// so a repeated query launches only what it misses, and launches nothing
// that the cached answers make unnecessary.
func fanOutOrdered[T any](ctx context.Context, n, par int, do func(ctx context.Context, i int) (T, error), peek func(ctx context.Context, i int) (T, bool), done func(i int, v T) bool) ([]T, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		i   int
		v   T
		err error
	}
	ch := make(chan res, n)
	got := make([]*T, n)
	next, inflight, prefix := 0, 0, 0
	// The window of shards in flight starts at one and doubles each time
	// a finished shard does not satisfy done, up to par: a limit met by
	// the first shard costs one invocation, a sparse query soon runs at
	// full parallelism.
	window := 1
	stop := false
	var firstErr error
	advance := func() {
		for !stop && prefix < n && got[prefix] != nil {
			if done(prefix, *got[prefix]) {
				stop = true
				cancel()
			}
			prefix++
		}
	}
	for {
		for !stop && firstErr == nil && next < n {
			if peek != nil {
				if v, ok := peek(ctx, next); ok {
					got[next] = &v
					next++
					advance()
					continue
				}
			}
			if inflight >= min(window, par) {
				break
			}
			i := next
			go func() {
				v, err := do(ctx, i)
				ch <- res{i, v, err}
			}()
			next++
			inflight++
		}
		if inflight == 0 {
			break
		}
		r := <-ch
		inflight--
		if stop || firstErr != nil {
			continue // draining after a stop or error
		}
		if r.err != nil {
			firstErr = r.err
			cancel()
			continue
		}
		got[r.i] = &r.v
		window = min(window*2, par)
		advance()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	out := make([]T, prefix)
	for i := range prefix {
		out[i] = *got[i]
	}
	return out, nil
}
