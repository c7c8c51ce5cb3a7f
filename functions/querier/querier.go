package querier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

// Sentinel errors of Query. Parse errors wrap syntax.ErrParse; engine
// errors keep their engine sentinels (engine.ErrLimit, ...).
var (
	// ErrBadRequest: the request is malformed (kind, tenant, day, shard
	// bounds, direction).
	ErrBadRequest = errors.New("bad querier request")
	// ErrLimit: a label, series or volume answer is over
	// Config.MaxLabelResults.
	ErrLimit = fmt.Errorf("label results limit: %w", engine.ErrLimit)
)

// Querier answers shards. It holds the index cache across invocations and
// no per-request state; it is safe for concurrent use.
type Querier struct {
	cfg    Config
	bkt    bucket.Bucket
	recent Recent
	logger *slog.Logger
	eng    *engine.Engine
	cache  *indexCache
	small  smallCache // manifests and delete markers
	m      metrics
}

type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	bytesRead prometheus.Counter
	gets      prometheus.Counter
	cacheHits prometheus.Counter
	cacheMiss prometheus.Counter
	lines     prometheus.Counter
	ingFailed prometheus.Counter
	// earlyStops counts limited log shards answered before their last
	// time window (earlystop.go).
	earlyStops prometheus.Counter
}

// New returns a Querier over bkt, asking recent (nil: nobody) for data
// not yet in the bucket. It panics ("BUG:") on an invalid Config, which
// callers validate first.
func New(cfg Config, bkt bucket.Bucket, recent Recent, logger *slog.Logger, reg prometheus.Registerer) *Querier {
	if err := cfg.Validate(); err != nil {
		panic("BUG: querier.New: " + err.Error())
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(reg)
	return &Querier{
		cfg:    cfg,
		bkt:    bkt,
		recent: recent,
		logger: logger.With("component", "querier"),
		eng:    engine.New(engine.Opts{MaxSeries: cfg.MaxSeries, MaxEntries: cfg.MaxEntries, MaxInternalSeries: cfg.MaxInternalSeries}),
		cache:  newIndexCache(cfg.IndexCacheBytes),
		m: metrics{
			requests: f.NewCounterVec(prometheus.CounterOpts{Name: "kmlog_querier_requests_total",
				Help: "Shards answered, by kind and outcome."}, []string{"kind", "status"}),
			duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "kmlog_querier_request_duration_seconds",
				Help: "Wall time of a shard.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"kind"}),
			bytesRead: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_bucket_read_bytes_total",
				Help: "Bytes read from the bucket."}),
			gets: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_bucket_gets_total",
				Help: "GETs and ranged GETs made on the bucket."}),
			cacheHits: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_index_cache_hits_total",
				Help: "Index objects served from memory."}),
			cacheMiss: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_index_cache_misses_total",
				Help: "Index objects read from the bucket."}),
			lines: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_lines_scanned_total",
				Help: "Entries handed to the engine."}),
			ingFailed: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_ingester_failures_total",
				Help: "Ingesters that failed to answer while their replicas did."}),
			earlyStops: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_querier_early_stops_total",
				Help: "Limited log shards that stopped before reading their oldest (forward: newest) time windows."}),
		},
	}
}

// Query answers one shard. Every answer, and every error, is logged once
// with its cost; the Response carries the same Stats.
func (q *Querier) Query(ctx context.Context, req Request) (Response, error) {
	start := time.Now()
	var bs bucket.Stats
	c := &counters{}
	resp, err := q.query(ctx, req, &bs, c)
	if errors.Is(err, bucket.ErrNotExist) && ctx.Err() == nil {
		// An object listed a moment ago is gone: a compactor retired it
		// after writing its replacement. A fresh listing sees that one.
		q.logger.Info("object vanished, listing again", "tenant", string(req.Tenant), "day", req.Day, "err", err)
		resp, err = q.query(ctx, req, &bs, c)
	}
	resp.Stats = q.stats(&bs, c, time.Since(start))
	st := resp.Stats

	status := "ok"
	if err != nil {
		status = statusOf(err)
	}
	q.m.requests.WithLabelValues(string(req.Kind), status).Inc()
	q.m.duration.WithLabelValues(string(req.Kind)).Observe(st.DurationSeconds)
	q.m.bytesRead.Add(float64(st.BytesRead))
	q.m.gets.Add(float64(st.GetRequests))
	q.m.cacheHits.Add(float64(st.CacheHits))
	q.m.cacheMiss.Add(float64(st.CacheMisses))
	q.m.lines.Add(float64(st.LinesScanned))
	q.m.ingFailed.Add(float64(st.IngesterFailures))

	attrs := []any{"tenant", string(req.Tenant), "kind", string(req.Kind), "day", req.Day,
		"duration_seconds", st.DurationSeconds, "bytes_read", st.BytesRead, "get_requests", st.GetRequests,
		"cache_hits", st.CacheHits, "cache_misses", st.CacheMisses, "index_objects", st.IndexObjects,
		"data_objects", st.DataObjects, "blocks_total", st.BlocksTotal, "blocks_skipped", st.BlocksSkipped,
		"lines_scanned", st.LinesScanned, "bytes_scanned", st.BytesScanned,
		"ingester_entries", st.IngesterEntries, "ingester_failures", st.IngesterFailures}
	if req.Kind == KindQuery {
		attrs = append(attrs, "query", req.Query)
	}
	if err != nil {
		q.logger.Log(ctx, levelOf(status), "shard failed", append(attrs, "status", status, "err", err)...)
		return resp, err
	}
	q.logger.Info("shard done", attrs...)
	return resp, nil
}

func levelOf(status string) slog.Level {
	if status == "internal" {
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (q *Querier) stats(bs *bucket.Stats, c *counters, dur time.Duration) Stats {
	cs := bs.Snapshot()
	return Stats{
		IndexObjects:     c.indexObjects.Load(),
		DataObjects:      c.dataObjects.Load(),
		GetRequests:      cs.Gets + cs.RangeGets,
		BytesRead:        cs.BytesRead,
		BytesStored:      c.bytesStored.Load(),
		CacheHits:        c.cacheHits.Load(),
		CacheMisses:      c.cacheMisses.Load(),
		BlocksTotal:      c.blocksTotal.Load(),
		BlocksSkipped:    c.blocksSkipped.Load(),
		LinesScanned:     c.linesScanned.Load(),
		BytesScanned:     c.bytesScanned.Load(),
		IngesterEntries:  c.ingesterEntries.Load(),
		IngesterFailures: c.ingesterFailures.Load(),
		DurationSeconds:  dur.Seconds(),
	}
}

func (q *Querier) query(ctx context.Context, req Request, bs *bucket.Stats, c *counters) (Response, error) {
	if req.Kind == KindQuery && req.Day == "" {
		return q.whole(ctx, req, bs, c)
	}
	d, err := q.newDay(req, bs, c)
	if err != nil {
		return Response{}, err
	}
	var resp Response
	switch req.Kind {
	case KindQuery:
		resp.Partial, err = q.partial(ctx, req, d)
	case KindLabels:
		resp.Values, err = d.labelNames(ctx, req.Query)
	case KindLabelValues:
		if req.Name == "" {
			return Response{}, fmt.Errorf("%w: label_values needs a name", ErrBadRequest)
		}
		resp.Values, err = d.labelValues(ctx, req.Query, req.Name)
	case KindSeries:
		resp.Series, err = d.series(ctx, req.Query)
	case KindStats:
		resp.IndexStats, err = d.indexStats(ctx, req.Query)
	case KindVolume:
		resp.Volumes, err = d.volume(ctx, req.Query, req.TargetLabels, req.AggregateBy)
	default:
		return Response{}, fmt.Errorf("%w: unknown kind %q", ErrBadRequest, req.Kind)
	}
	return resp, err
}

// newDay checks the shard and prepares its reads.
func (q *Querier) newDay(req Request, bs *bucket.Stats, c *counters) (*day, error) {
	if _, err := tenant.Parse(string(req.Tenant)); err != nil {
		return nil, fmt.Errorf("%w: tenant: %w", ErrBadRequest, err)
	}
	dd, err := objkey.ParseDay(req.Day)
	if err != nil {
		return nil, fmt.Errorf("%w: day: %w", ErrBadRequest, err)
	}
	from, through := max(req.ShardFrom, dd.StartNano()), min(req.ShardThrough, dd.EndNano())
	if req.ShardFrom == 0 && req.ShardThrough == 0 {
		from, through = dd.StartNano(), dd.EndNano()
	}
	if req.ShardThrough < req.ShardFrom {
		return nil, fmt.Errorf("%w: shard_through %d before shard_from %d", ErrBadRequest, req.ShardThrough, req.ShardFrom)
	}
	return &day{
		q: q, t: req.Tenant, d: dd, c: c, from: from, through: through,
		bkt:    &limitedBucket{Bucket: bucket.Metered(q.bkt, bs), sem: make(chan struct{}, q.cfg.MaxParallelReads)},
		recent: req.Recent,
	}, nil
}

// params turns the request into engine parameters.
func params(req Request) (engine.Params, error) {
	p := engine.Params{
		Query: req.Query,
		Start: time.Unix(0, req.Start), End: time.Unix(0, req.End),
		Step: time.Duration(req.Step), Interval: time.Duration(req.Interval),
		Limit: req.Limit,
	}
	switch req.Direction {
	case "", "backward", "BACKWARD":
		p.Direction = engine.Backward
	case "forward", "FORWARD":
		p.Direction = engine.Forward
	default:
		return p, fmt.Errorf("%w: direction %q, want forward or backward", ErrBadRequest, req.Direction)
	}
	return p, nil
}

// TenantLabel is the label a multi-tenant query adds to every stream.
const TenantLabel = "__tenant_id__"

func (q *Querier) partial(ctx context.Context, req Request, d *day) ([]byte, error) {
	p, err := params(req)
	if err != nil {
		return nil, err
	}
	expr, err := syntax.Parse(req.Query)
	if err != nil {
		return nil, err
	}
	p.Expr = expr
	// A log query whose pipeline is only |= filters (which the ingesters
	// apply) can let the ingesters cut at the limit: the best lines of
	// their answer are the best lines of all their data.
	if sel, ok := expr.(*syntax.LogSelectorExpr); ok && req.Interval == 0 &&
		len(syntax.LineFilterLiterals(sel)) == len(sel.Pipeline) {
		d.recentLimit = p.Limit
		if d.recentLimit == 0 {
			d.recentLimit = 100
		}
		d.recentBackward = p.Direction == engine.Backward
	}
	if req.TenantLabel {
		src := engine.WithLabel(d, TenantLabel, string(req.Tenant))
		part, err := q.eng.Partial(ctx, src, p, time.Unix(0, d.from), time.Unix(0, d.through))
		if err != nil {
			return nil, err
		}
		return part.MarshalBinary()
	}
	if sel, ok := expr.(*syntax.LogSelectorExpr); ok && !q.cfg.NoEarlyStop {
		part, ok, err := q.windowedPartial(ctx, d, p, sel)
		if err != nil {
			return nil, err
		}
		if ok {
			return part.MarshalBinary()
		}
	}
	part, err := q.eng.Partial(ctx, d, p, time.Unix(0, d.from), time.Unix(0, d.through))
	if err != nil {
		return nil, err
	}
	return part.MarshalBinary()
}
