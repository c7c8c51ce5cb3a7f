package frontend

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
	"github.com/kubemate/kmlog/logql/syntax"
)

// QueryResult is the answer of Frontend.Query.
type QueryResult struct {
	engine.Result
	Stats Stats
}

// QueryLengthError is Loki's answer to a query longer than
// max_query_length.
type QueryLengthError struct{ Length, Limit time.Duration }

func (e *QueryLengthError) Error() string {
	return fmt.Sprintf("the query time range exceeds the limit (query length: %s, limit: %s)",
		promDuration(e.Length), promDuration(e.Limit))
}

// Unwrap makes errors.Is(err, engine.ErrLimit) true.
func (e *QueryLengthError) Unwrap() error { return engine.ErrLimit }

// partialMagic starts engine.Partial.MarshalBinary; a whole-query answer
// (see wholeRequest) is a Loki JSON body instead.
var partialMagic = []byte("KMLQP")

// Query answers a LogQL query for t: log queries shard by shard, newest
// (or, forward, oldest) first, stopping once the limit is met; shardable
// metric queries as merged partials of all shards; other queries as one
// multi-day request (see wholeRequest).
func (f *Frontend) Query(ctx context.Context, t tenant.ID, p engine.Params) (QueryResult, error) {
	return f.QueryTenants(ctx, []tenant.ID{t}, p)
}

// QueryTenants answers a query over several tenants at once (Loki's
// multi-tenant query, X-Scope-OrgID "a|b"): every stream carries the
// label __tenant_id__, which selectors may match and aggregations group
// by; log lines of all tenants share the limit. The first tenant's limits
// apply. Metric queries must be shardable (their partials merge across
// tenants as across days). One tenant is Query.
func (f *Frontend) QueryTenants(ctx context.Context, ts []tenant.ID, p engine.Params) (QueryResult, error) {
	if len(ts) == 0 {
		return QueryResult{}, errNoOrgID
	}
	t, multi := ts[0], len(ts) > 1
	lim := f.Limits(t)
	ctx, cancel := context.WithTimeout(ctx, lim.QueryTimeout)
	defer cancel()
	expr := p.Expr
	if expr == nil {
		var err error
		if expr, err = syntax.Parse(p.Query); err != nil {
			return QueryResult{}, err
		}
	}
	// The canonical text is what queriers see and what cache keys hold;
	// partial headers carry Parse(text).String(), so parse it back.
	canon := syntax.CanonicalString(expr)
	expr, err := syntax.Parse(canon)
	if err != nil {
		return QueryResult{}, fmt.Errorf("BUG: canonical query does not parse: %w", err)
	}
	p.Query, p.Expr = canon, nil
	if l := p.End.Sub(p.Start); lim.MaxQueryLength > 0 && l > lim.MaxQueryLength {
		return QueryResult{}, &QueryLengthError{Length: l, Limit: lim.MaxQueryLength}
	}
	eng := engine.New(engine.Opts{MaxSeries: lim.MaxQuerySeries, MaxEntries: lim.MaxEntriesLimitPerQuery})
	st := &runStats{}
	var res engine.Result
	if syntax.IsLogQuery(expr) {
		if p.Limit <= 0 {
			p.Limit = engine.DefaultLimit
		}
		if p.Limit > lim.MaxEntriesLimitPerQuery {
			return QueryResult{}, &engine.EntriesLimitError{Requested: p.Limit, Limit: lim.MaxEntriesLimitPerQuery}
		}
		if p.End.Before(p.Start) {
			return QueryResult{}, fmt.Errorf("%w: end timestamp must not be before start time", engine.ErrBadQuery)
		}
		all := engine.Streams{}
		for _, t := range ts {
			var r engine.Result
			if p.Interval > 0 {
				r, err = f.whole(ctx, t, multi, lim, p, p.Start.UnixNano(), p.End.UnixNano(), st)
			} else {
				r, err = f.logQuery(ctx, t, multi, lim, eng, p, st)
			}
			if err != nil {
				break
			}
			res.Stats.Add(r.Stats)
			ss, _ := r.Value.(engine.Streams)
			all = append(all, ss...)
		}
		if err == nil {
			res.Value = all
			if multi {
				res.Value = mergeStreams([]engine.Streams{all}, p.Limit, p.Direction)
			}
		}
	} else {
		res, err = f.metricQuery(ctx, ts, multi, lim, eng, engine.AlignStep(p), expr, st)
	}
	if err != nil {
		return QueryResult{}, err
	}
	return QueryResult{Result: res, Stats: st.stats()}, nil
}

func direction(d engine.Direction) string {
	if d == engine.Forward {
		return "forward"
	}
	return "backward"
}

// logQuery runs a log query shard by shard in the order of its direction,
// each shard with its own clipped range (so that whole days are cached
// independently of the query's range), and stops once the shards done so
// far hold the limit: later shards are strictly older (newer, forward)
// and cannot contribute.
func (f *Frontend) logQuery(ctx context.Context, t tenant.ID, tenantLabel bool, lim Limits, eng *engine.Engine, p engine.Params, st *runStats) (engine.Result, error) {
	p.Step = 0 // a log query has no step; its shards must not depend on one
	shards := splitRange(p.Start.UnixNano(), p.End.UnixNano(), lim.SplitQueriesByInterval)
	if p.Direction == engine.Backward {
		slices.Reverse(shards)
	}
	base := querier.Request{Kind: querier.KindQuery, Tenant: t, TenantLabel: tenantLabel, Query: p.Query, Limit: p.Limit, Direction: direction(p.Direction)}
	type shardRes struct {
		streams engine.Streams
		stats   engine.Stats
		n       int
	}
	total := 0
	request := func(i int) querier.Request {
		req := shards[i].request(base)
		req.Start, req.End = shards[i].from, shards[i].through
		return req
	}
	finish := func(ctx context.Context, i int, resp *querier.Response) (shardRes, error) {
		s := shards[i]
		sp := p
		sp.Start, sp.End = time.Unix(0, s.from), time.Unix(0, s.through)
		r, err := finalizePartial(ctx, eng, sp, resp)
		if err != nil {
			return shardRes{}, fmt.Errorf("shard %s: %w", shards[i].day, err)
		}
		ss, _ := r.Value.(engine.Streams)
		n := 0
		for _, s := range ss {
			n += len(s.Entries)
		}
		return shardRes{streams: ss, stats: r.Stats, n: n}, nil
	}
	parts, err := fanOutOrdered(ctx, len(shards), lim.MaxQueryParallelism,
		func(ctx context.Context, i int) (shardRes, error) {
			resp, err := f.invoke(ctx, lim, request(i), st) // peek already missed the cache
			if err != nil {
				return shardRes{}, err
			}
			return finish(ctx, i, resp)
		},
		func(ctx context.Context, i int) (shardRes, bool) {
			resp, ok := f.cached(ctx, lim, request(i), st)
			if !ok {
				return shardRes{}, false
			}
			r, err := finish(ctx, i, resp)
			return r, err == nil
		},
		func(_ int, r shardRes) bool {
			total += r.n
			return total >= p.Limit
		})
	f.cache.wait()
	if err != nil {
		return engine.Result{}, err
	}
	if len(parts) < len(shards) {
		f.m.earlyStops.Inc()
	}
	var out engine.Result
	all := make([]engine.Streams, len(parts))
	for i, r := range parts {
		all[i] = r.streams
		out.Stats.Add(r.stats)
	}
	out.Value = mergeStreams(all, p.Limit, p.Direction)
	out.Stats.EntriesReturned = 0
	for _, s := range out.Value.(engine.Streams) {
		out.Stats.EntriesReturned += int64(len(s.Entries))
	}
	return out, nil
}

// finalizePartial decodes a shard's partial and computes its answer.
func finalizePartial(ctx context.Context, eng *engine.Engine, p engine.Params, resp *querier.Response) (engine.Result, error) {
	var part engine.Partial
	if err := part.UnmarshalBinary(resp.Partial); err != nil {
		return engine.Result{}, fmt.Errorf("decode partial: %w", err)
	}
	return eng.Finalize(ctx, p, &part)
}

// mergeStreams merges the answers of time-disjoint shards given in the
// order of dir (newest first for Backward) into one answer of at most
// limit lines, chosen and grouped exactly as the engine does: by time in
// dir, ties broken by labels and then line.
func mergeStreams(parts []engine.Streams, limit int, dir engine.Direction) engine.Streams {
	type ent struct {
		key  string
		lbls labels.Labels
		e    engine.StreamEntry
	}
	var picked []ent
	for _, ss := range parts {
		if len(picked) >= limit {
			break
		}
		var es []ent
		for _, s := range ss {
			k := s.Labels.String()
			for _, e := range s.Entries {
				es = append(es, ent{k, s.Labels, e})
			}
		}
		slices.SortFunc(es, func(a, b ent) int {
			c := cmp.Compare(a.e.Timestamp, b.e.Timestamp)
			if dir == engine.Backward {
				c = -c
			}
			if c != 0 {
				return c
			}
			if c = strings.Compare(a.key, b.key); c != 0 {
				return c
			}
			return strings.Compare(a.e.Line, b.e.Line)
		})
		picked = append(picked, es[:min(len(es), limit-len(picked))]...)
	}
	idx := make(map[string]int)
	out := engine.Streams{}
	var keys []string
	for _, p := range picked {
		j, ok := idx[p.key]
		if !ok {
			j = len(out)
			idx[p.key] = j
			out = append(out, engine.Stream{Labels: p.lbls})
			keys = append(keys, p.key)
		}
		out[j].Entries = append(out[j].Entries, p.e)
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make(engine.Streams, len(out))
	for i, j := range order {
		sorted[i] = out[j]
	}
	return sorted
}

// lookback returns how far before a step (maximum of range+offset) and
// after it (minimum offset, if negative) the samples of expr lie.
func lookback(expr syntax.Expr) (before, after time.Duration, ok bool) {
	syntax.Walk(expr, func(n syntax.Node) bool {
		if r, isRange := n.(*syntax.RangeAggregationExpr); isRange {
			ok = true
			before = max(before, r.Range.Range+r.Range.Offset)
			after = max(after, -r.Range.Offset)
		}
		return true
	})
	return before, after, ok
}

// metricQuery runs a metric query: every shard of the samples' time range
// at once, partials merged and finalised here.
func (f *Frontend) metricQuery(ctx context.Context, ts []tenant.ID, tenantLabel bool, lim Limits, eng *engine.Engine, p engine.Params, expr syntax.Expr, st *runStats) (engine.Result, error) {
	t := ts[0]
	before, after, hasRange := lookback(expr)
	if !hasRange {
		// Literals and vector(): nothing to read.
		return eng.Query(ctx, engine.NewMemSource(nil), p)
	}
	from := p.Start.Add(-before).UnixNano()
	through := p.End.Add(after).UnixNano() + 1 // a step at t reads ts <= t
	if !engine.Shardable(expr) {
		if tenantLabel {
			return engine.Result{}, badRequest("multi-tenant queries support metric queries whose shards merge (sum, count, min, max, avg, topk and the like over range aggregations); this one does not")
		}
		return f.whole(ctx, t, false, lim, p, from, through, st)
	}
	shards := splitRange(from, through, lim.SplitQueriesByInterval)
	reqs := make([]querier.Request, 0, len(shards)*len(ts))
	for _, t := range ts {
		base := querier.Request{Kind: querier.KindQuery, Tenant: t, TenantLabel: tenantLabel, Query: p.Query,
			Start: p.Start.UnixNano(), End: p.End.UnixNano(), Step: int64(p.Step)}
		for _, s := range shards {
			reqs = append(reqs, s.request(base))
		}
	}
	// When every shard is cacheable the answer is final: keep it whole.
	var finalKey string
	if reqs[len(reqs)-1].ShardThrough <= f.now().UnixNano()-int64(max(lim.MaxCacheFreshness, lim.QueryIngestersWithin)) {
		h := sha256.New()
		for _, r := range reqs {
			k, ok := f.key(ctx, r)
			if !ok {
				h = nil
				break
			}
			h.Write([]byte(k))
		}
		if h != nil {
			finalKey = hex.EncodeToString(h.Sum(nil))
		}
		if r, ok := f.cache.getFinal(finalKey); finalKey != "" && ok {
			n := int64(len(reqs))
			st.shards.Add(n)
			st.mem.Add(n)
			f.m.shards.Add(float64(n))
			f.m.cacheHits.WithLabelValues("memory").Add(float64(n))
			return *r, nil
		}
	}
	resps, err := f.fanOut(ctx, lim, reqs, st)
	if err != nil {
		return engine.Result{}, err
	}
	parts := make([]*engine.Partial, len(resps))
	for i, r := range resps {
		parts[i] = new(engine.Partial)
		if err := parts[i].UnmarshalBinary(r.Partial); err != nil {
			return engine.Result{}, fmt.Errorf("decode partial of shard %s: %w", reqs[i].Day, err)
		}
	}
	merged, err := engine.Merge(parts...)
	if err != nil {
		return engine.Result{}, err
	}
	res, err := eng.Finalize(ctx, p, merged)
	if err == nil && finalKey != "" {
		f.cache.putFinal(finalKey, &res, resultCost(res.Value))
		f.cache.wait()
	}
	return res, err
}

// resultCost estimates the memory of a value, in bytes.
func resultCost(v engine.Value) int64 {
	var n int64 = 64
	switch v := v.(type) {
	case engine.Matrix:
		for _, s := range v {
			n += 64 + 16*int64(len(s.Points)) + 32*int64(len(s.Labels))
		}
	case engine.Vector:
		n += 96 * int64(len(v))
	}
	return n
}

// whole runs a query that cannot be split (quantile_over_time and the
// other raw-sample range functions, log queries with an interval) as ONE
// querier request spanning several days: Day is empty and [ShardFrom,
// ShardThrough) covers every sample the query reads. The querier answers
// it with engine.Query over those days and returns the final result as a
// Loki JSON body (lokijson, with the categorize-labels flag so that
// structured metadata and parsed labels survive) in Response.Partial; an
// engine partial is accepted too.
func (f *Frontend) whole(ctx context.Context, t tenant.ID, tenantLabel bool, lim Limits, p engine.Params, from, through int64, st *runStats) (engine.Result, error) {
	req := querier.Request{Kind: querier.KindQuery, Tenant: t, TenantLabel: tenantLabel, Query: p.Query,
		ShardFrom: from, ShardThrough: through,
		Start: p.Start.UnixNano(), End: p.End.UnixNano(), Step: int64(p.Step), Interval: int64(p.Interval)}
	if l, err := syntax.Parse(p.Query); err == nil && syntax.IsLogQuery(l) {
		req.Limit, req.Direction = p.Limit, direction(p.Direction)
	}
	resp, err := f.run(ctx, lim, req, st)
	f.cache.wait()
	if err != nil {
		return engine.Result{}, err
	}
	if bytes.HasPrefix(resp.Partial, partialMagic) {
		eng := engine.New(engine.Opts{MaxSeries: lim.MaxQuerySeries, MaxEntries: lim.MaxEntriesLimitPerQuery})
		return finalizePartial(ctx, eng, p, resp)
	}
	d, err := lokijson.Decode(resp.Partial)
	if err != nil {
		return engine.Result{}, fmt.Errorf("decode whole-query answer: %w", err)
	}
	v := d.Value
	if ss, ok := v.(engine.Streams); ok && d.CategorizeLabels {
		v = uncategorize(ss, p.Direction)
	}
	if m, ok := v.(engine.Matrix); ok && len(m) > lim.MaxQuerySeries {
		return engine.Result{}, &engine.SeriesLimitError{Limit: lim.MaxQuerySeries}
	}
	res := engine.Result{Value: v}
	res.Stats.EntriesScanned = d.Stats.Summary.TotalLinesProcessed
	res.Stats.BytesScanned = d.Stats.Summary.TotalBytesProcessed
	res.Stats.EntriesReturned = d.Stats.Summary.TotalEntriesReturned
	res.Stats.PostFilterLines = d.Stats.Summary.TotalPostFilterLines
	res.Stats.ExecTimeSeconds = d.Stats.Summary.ExecTime
	return res, nil
}

// uncategorize folds each entry's structured metadata and parsed labels
// back into its stream's labels, as Loki answers without the
// categorize-labels flag.
func uncategorize(ss engine.Streams, dir engine.Direction) engine.Streams {
	var parts []engine.Streams
	var flat engine.Streams
	for _, s := range ss {
		for _, e := range s.Entries {
			ls := s.Labels
			if len(e.StructuredMetadata) > 0 || len(e.Parsed) > 0 {
				b := labels.NewBuilder(s.Labels)
				for _, l := range e.StructuredMetadata {
					b.Set(l.Name, l.Value)
				}
				for _, l := range e.Parsed {
					b.Set(l.Name, l.Value)
				}
				ls = b.Labels()
			}
			flat = append(flat, engine.Stream{Labels: ls, Entries: []engine.StreamEntry{e}})
		}
	}
	parts = append(parts, flat)
	n := 0
	for _, s := range flat {
		n += len(s.Entries)
	}
	return mergeStreams(parts, n, dir)
}

// errNoOrgID is Loki's answer to a request without a tenant.
var errNoOrgID = errors.New("no org id")
