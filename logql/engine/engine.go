package engine

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/syntax"
)

// Opts are the limits of an Engine. Zero fields take Loki's defaults.
type Opts struct {
	// MaxSeries caps the series of a metric result (Loki's
	// max_query_series, default 500).
	MaxSeries int
	// MaxEntries caps the limit of a log query (Loki's
	// max_entries_limit_per_query, default 5000).
	MaxEntries int
	// MaxInternalSeries caps the series one range aggregation may hold
	// before its outer aggregation reduces them (default 100000). It
	// bounds memory; Loki has no such limit.
	MaxInternalSeries int
}

// Defaults.
const (
	DefaultMaxSeries         = 500
	DefaultMaxEntries        = 5000
	DefaultMaxInternalSeries = 100000
)

// Engine evaluates LogQL queries over a Source. It holds no per-query
// state and is safe for concurrent use.
type Engine struct {
	opts Opts
}

// New returns an engine with opts (zero fields take the defaults).
func New(opts Opts) *Engine {
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = DefaultMaxSeries
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxInternalSeries <= 0 {
		opts.MaxInternalSeries = DefaultMaxInternalSeries
	}
	return &Engine{opts: opts}
}

// Query evaluates p over src.
func (e *Engine) Query(ctx context.Context, src Source, p Params) (Result, error) {
	t0 := time.Now()
	pl, err := e.plan(p)
	if err != nil {
		return Result{}, err
	}
	part, err := e.partial(ctx, src, pl, minTime, maxTime)
	if err != nil {
		return Result{}, err
	}
	res, err := e.finalize(pl, part)
	res.Stats.ExecTimeSeconds = time.Since(t0).Seconds()
	return res, err
}

// Partial evaluates the part of p that the entries with shardFrom <= t <
// shardThrough contribute: for a log query, the best lines of the shard;
// for a metric query, the state of every step whose window overlaps the
// shard. Merging the partials of shards that cover the query's time
// range, then finalising, gives the answer of Query. It returns
// ErrNotShardable for queries that Shardable rejects.
func (e *Engine) Partial(ctx context.Context, src Source, p Params, shardFrom, shardThrough time.Time) (*Partial, error) {
	t0 := time.Now()
	pl, err := e.plan(p)
	if err != nil {
		return nil, err
	}
	if !Shardable(pl.expr) {
		return nil, fmt.Errorf("partial %s: %w", pl.query, ErrNotShardable)
	}
	if pl.log != nil && p.Interval > 0 {
		return nil, fmt.Errorf("partial %s with interval: %w", pl.query, ErrNotShardable)
	}
	part, err := e.partial(ctx, src, pl, shardFrom.UnixNano(), shardThrough.UnixNano())
	if err != nil {
		return nil, err
	}
	part.Stats.ExecTimeSeconds = time.Since(t0).Seconds()
	return part, nil
}

// Finalize turns a merged partial into the answer of p.
func (e *Engine) Finalize(ctx context.Context, p Params, part *Partial) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	pl, err := e.plan(p)
	if err != nil {
		return Result{}, err
	}
	if err := part.check(pl.header()); err != nil {
		return Result{}, err
	}
	return e.finalize(pl, part)
}

const (
	minTime = -1 << 63
	maxTime = 1<<63 - 1
)

// plan is a checked query with its compiled range nodes.
type plan struct {
	p     Params
	expr  syntax.Expr
	query string
	log   *syntax.LogSelectorExpr
	g     grid
	nodes []*rangeNode // walk order
	limit int
}

func (pl *plan) header() partialHeader {
	h := partialHeader{query: pl.query, start: pl.p.Start.UnixNano(), end: pl.p.End.UnixNano(), step: int64(pl.p.Step)}
	if pl.log != nil {
		h.limit, h.dir = int64(pl.limit), pl.p.Direction
	}
	return h
}

func (e *Engine) plan(p Params) (*plan, error) {
	expr, err := p.expr()
	if err != nil {
		return nil, err
	}
	pl := &plan{p: p, expr: expr, query: expr.String()}
	if sel, ok := expr.(*syntax.LogSelectorExpr); ok {
		if p.End.Before(p.Start) {
			return nil, fmt.Errorf("%w: end timestamp must not be before start time", ErrBadQuery)
		}
		pl.log = sel
		pl.limit = p.Limit
		if pl.limit <= 0 {
			pl.limit = DefaultLimit
		}
		if pl.limit > e.opts.MaxEntries {
			return nil, &EntriesLimitError{Requested: pl.limit, Limit: e.opts.MaxEntries}
		}
		return pl, nil
	}
	n, err := p.steps()
	if err != nil {
		return nil, err
	}
	pl.g = grid{start: p.Start.UnixNano(), step: int64(p.Step), n: n}
	var walk func(x syntax.SampleExpr, parent *syntax.VectorAggregationExpr)
	walk = func(x syntax.SampleExpr, parent *syntax.VectorAggregationExpr) {
		switch x := x.(type) {
		case *syntax.RangeAggregationExpr:
			rn := &rangeNode{expr: x, comb: combineOf(x.Op)}
			switch {
			case x.Op == syntax.OpRangeAbsent:
				rn.grouping.NoLabels = true
			case x.Grouping != nil:
				rn.grouping = groupingOf(x.Grouping)
			case parent != nil && parent.Op == syntax.OpAggSum && canPushGrouping(x.Op):
				rn.grouping = groupingOf(parent.Grouping)
				if parent.Grouping == nil {
					rn.grouping.NoLabels = true
				}
				rn.pushed = true
			}
			pl.nodes = append(pl.nodes, rn)
		case *syntax.VectorAggregationExpr:
			walk(x.Expr, x)
		case *syntax.BinOpExpr:
			walk(x.LHS, nil)
			walk(x.RHS, nil)
		case *syntax.LabelReplaceExpr:
			walk(x.Expr, nil)
		}
	}
	se, ok := expr.(syntax.SampleExpr)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported expression %T", ErrBadQuery, expr)
	}
	if err := checkScalarComparisons(se); err != nil {
		return nil, err
	}
	walk(se, nil)
	return pl, nil
}

// partial evaluates pl over the entries with from <= t < through.
func (e *Engine) partial(ctx context.Context, src Source, pl *plan, from, through int64) (*Partial, error) {
	part := &Partial{h: pl.header()}
	if pl.log != nil {
		f, t := max(from, pl.p.Start.UnixNano()), min(through, pl.p.End.UnixNano())
		es, err := e.selectLogs(ctx, src, pl.log, f, t, pl.limit, pl.p.Direction, pl.p.Interval > 0, &part.Stats)
		if err != nil {
			return nil, err
		}
		part.logs = es
		return part, nil
	}
	part.nodes = make([]*rangeState, 0, len(pl.nodes))
	for _, rn := range pl.nodes {
		st := newRangeState(rn.comb)
		if err := e.fill(ctx, src, rn, pl.g, from, through, st, &part.Stats); err != nil {
			return nil, err
		}
		part.nodes = append(part.nodes, st)
	}
	return part, nil
}

// finalize computes the result of pl from its (merged) partial.
func (e *Engine) finalize(pl *plan, part *Partial) (Result, error) {
	res := Result{Stats: part.Stats}
	if pl.log != nil {
		s := buildStreams(slices.Clone(part.logs), pl.limit, pl.p.Direction, int64(pl.p.Interval))
		for _, st := range s {
			res.Stats.EntriesReturned += int64(len(st.Entries))
		}
		res.Value = s
		return res, nil
	}
	if len(part.nodes) != len(pl.nodes) {
		return Result{}, fmt.Errorf("finalize: %d states for %d range aggregations: %w", len(part.nodes), len(pl.nodes), ErrBadPartial)
	}
	ev := &evaluator{g: pl.g, nodes: make(map[*syntax.RangeAggregationExpr]*rangeNode),
		states: make(map[*syntax.RangeAggregationExpr]*rangeState), regs: make(map[*syntax.LabelReplaceExpr]*regexp.Regexp)}
	for i, rn := range pl.nodes {
		if part.nodes[i].comb != rn.comb {
			return Result{}, fmt.Errorf("finalize: state %d kind mismatch: %w", i, ErrBadPartial)
		}
		ev.nodes[rn.expr] = rn
		ev.states[rn.expr] = part.nodes[i]
	}
	root := pl.expr.(syntax.SampleExpr)
	if pl.p.Instant() {
		v, err := ev.eval(root, 0)
		if err != nil {
			return Result{}, err
		}
		ms := pl.g.at(0) / 1e6
		if v.scalar {
			res.Value = Scalar{T: ms, V: v.s}
			return res, nil
		}
		if len(v.vec) > e.opts.MaxSeries {
			return Result{}, &SeriesLimitError{Limit: e.opts.MaxSeries}
		}
		out := make(Vector, len(v.vec))
		for i, s := range v.vec {
			out[i] = Sample{Labels: s.lbls, T: ms, V: s.v}
		}
		if va, ok := root.(*syntax.VectorAggregationExpr); !ok || (va.Op != syntax.OpAggSort && va.Op != syntax.OpAggSortDesc) {
			sortByLabels(out)
		}
		res.Value = out
		return res, nil
	}
	type acc struct {
		lbls labels.Labels
		pts  []Point
	}
	series := make(map[uint64][]*acc)
	count := 0
	for k := 0; k < pl.g.n; k++ {
		v, err := ev.eval(root, k)
		if err != nil {
			return Result{}, err
		}
		ms := pl.g.at(k) / 1e6
		if v.scalar {
			v.vec = []sample{{lbls: labels.Labels{}, v: v.s}}
		}
		if len(v.vec) > e.opts.MaxSeries {
			return Result{}, &SeriesLimitError{Limit: e.opts.MaxSeries}
		}
		for i := range v.vec {
			s := &v.vec[i]
			h := hashOf(s)
			var a *acc
			for _, c := range series[h] {
				if labels.Equal(c.lbls, s.lbls) {
					a = c
					break
				}
			}
			if a == nil {
				a = &acc{lbls: s.lbls}
				series[h] = append(series[h], a)
				count++
				if count > e.opts.MaxSeries {
					return Result{}, &SeriesLimitError{Limit: e.opts.MaxSeries}
				}
			}
			a.pts = append(a.pts, Point{T: ms, V: s.v})
		}
	}
	out := make(Matrix, 0, count)
	for _, k := range slices.Sorted(maps.Keys(series)) {
		for _, a := range series[k] {
			out = append(out, Series{Labels: a.lbls, Points: a.pts})
		}
	}
	slices.SortStableFunc(out, func(a, b Series) int { return labels.Compare(a.Labels, b.Labels) })
	res.Value = out
	return res, nil
}

// Shardable reports whether the answer of expr can be computed from
// partial results of time shards: log queries (without an interval) and
// metric queries whose range aggregations all have mergeable states.
// quantile_over_time, stddev_over_time, stdvar_over_time and rate_counter
// need every sample of a window at once and are not.
func Shardable(expr syntax.Expr) bool {
	ok := true
	syntax.Walk(expr, func(n syntax.Node) bool {
		if r, isRange := n.(*syntax.RangeAggregationExpr); isRange && combineOf(r.Op) == combRaw {
			ok = false
		}
		return ok
	})
	return ok
}

// isScalar reports whether e evaluates to a scalar.
func isScalar(e syntax.SampleExpr) bool {
	switch e := e.(type) {
	case *syntax.LiteralExpr:
		return true
	case *syntax.BinOpExpr:
		return isScalar(e.LHS) && isScalar(e.RHS)
	}
	return false
}

// checkScalarComparisons rejects what Loki's parser rejects and
// logql/syntax leaves to the engine: a comparison of two scalars without
// bool, and label_replace with a bad destination name or regex.
func checkScalarComparisons(e syntax.SampleExpr) error {
	var err error
	syntax.Walk(e, func(n syntax.Node) bool {
		if lr, ok := n.(*syntax.LabelReplaceExpr); ok && err == nil {
			if !labels.ValidName(lr.Dst) {
				err = &syntax.ParseError{Msg: "invalid destination label name in label_replace(): " + lr.Dst}
			} else if _, rerr := regexp.Compile("^(?s:" + lr.Regex + ")$"); rerr != nil {
				err = &syntax.ParseError{Msg: "invalid regular expression in label_replace(): " + lr.Regex}
			}
		}
		if b, ok := n.(*syntax.BinOpExpr); ok && err == nil && syntax.IsComparisonOp(b.Op) && !b.ReturnBool && isScalar(b.LHS) && isScalar(b.RHS) {
			err = &syntax.ParseError{Msg: "comparisons between scalars must use BOOL modifier"}
		}
		return err == nil
	})
	return err
}
