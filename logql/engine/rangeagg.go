package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// combine is how the samples of one step window fold into a cell.
type combine uint8

const (
	combSum   combine = iota // n counts, v sums
	combMin                  // v is the minimum
	combMax                  // v is the maximum
	combFirst                // v at the smallest t
	combLast                 // v at the largest t
	combRaw                  // samples kept whole (not shardable)
)

func combineOf(op string) combine {
	switch op {
	case syntax.OpRangeMin:
		return combMin
	case syntax.OpRangeMax:
		return combMax
	case syntax.OpRangeFirst:
		return combFirst
	case syntax.OpRangeLast:
		return combLast
	case syntax.OpRangeQuantile, syntax.OpRangeStddev, syntax.OpRangeStdvar, syntax.OpRangeRateCounter:
		return combRaw
	}
	return combSum
}

// cell is the partial state of one series at one step: the fold of the
// samples of its window that one shard saw. n == 0 means no sample.
type cell struct {
	n int64
	v float64
	t int64
}

func (c *cell) add(comb combine, t int64, v float64) {
	if c.n == 0 {
		c.n, c.v, c.t = 1, v, t
		return
	}
	c.n++
	switch comb {
	case combSum:
		c.v += v
	case combMin:
		if v < c.v || math.IsNaN(c.v) {
			c.v = v
		}
	case combMax:
		if v > c.v || math.IsNaN(c.v) {
			c.v = v
		}
	case combFirst:
		if t < c.t {
			c.v, c.t = v, t
		}
	case combLast:
		if t >= c.t {
			c.v, c.t = v, t
		}
	}
}

// merge folds o (from another shard) into c.
func (c *cell) merge(comb combine, o cell) {
	if o.n == 0 {
		return
	}
	if c.n == 0 {
		*c = o
		return
	}
	n := c.n + o.n
	switch comb {
	case combSum:
		c.v += o.v
	default:
		c.add(comb, o.t, o.v)
	}
	c.n = n
}

type rawSample struct {
	t int64
	v float64
}

// rseries is the state of one series of a range aggregation.
type rseries struct {
	lbls  labels.Labels
	hash  uint64
	base  int // step index of cells[0]
	cells []cell
	raw   []rawSample
	// sorted reports whether raw is in time order.
	sorted bool
}

func (s *rseries) cellAt(k int) *cell {
	if len(s.cells) == 0 {
		s.base = k
		s.cells = append(s.cells, cell{})
		return &s.cells[0]
	}
	if k < s.base {
		grow := s.base - k
		s.cells = append(make([]cell, grow, grow+len(s.cells)), s.cells...)
		s.base = k
	}
	i := k - s.base
	for i >= len(s.cells) {
		s.cells = append(s.cells, cell{})
	}
	return &s.cells[i]
}

func (s *rseries) get(k int) (cell, bool) {
	i := k - s.base
	if i < 0 || i >= len(s.cells) || s.cells[i].n == 0 {
		return cell{}, false
	}
	return s.cells[i], true
}

// rangeState is the partial state of one range aggregation node: its
// series and their cells per step.
type rangeState struct {
	comb   combine
	series []*rseries
	index  map[uint64][]int32
}

func newRangeState(comb combine) *rangeState {
	return &rangeState{comb: comb, index: make(map[uint64][]int32)}
}

func (r *rangeState) lookup(lbls labels.Labels, h uint64, create bool) *rseries {
	for _, i := range r.index[h] {
		if labels.Equal(r.series[i].lbls, lbls) {
			return r.series[i]
		}
	}
	if !create {
		return nil
	}
	s := &rseries{lbls: lbls, hash: h, sorted: true}
	r.index[h] = append(r.index[h], int32(len(r.series)))
	r.series = append(r.series, s)
	return s
}

// merge folds o into r.
func (r *rangeState) merge(o *rangeState) {
	for _, os := range o.series {
		s := r.lookup(os.lbls, os.hash, true)
		for i, c := range os.cells {
			if c.n == 0 {
				continue
			}
			s.cellAt(os.base+i).merge(r.comb, c)
		}
		if len(os.raw) > 0 {
			s.raw = append(s.raw, os.raw...)
			s.sorted = false
		}
	}
}

// grid is the step grid of a metric query, in nanoseconds.
type grid struct {
	start, step int64
	n           int
}

func (g grid) at(k int) int64 { return g.start + int64(k)*g.step }

// stepsFor returns the steps whose window (t-off-rng, t-off] holds ts.
func (g grid) stepsFor(ts, off, rng int64) (lo, hi int) {
	// t in [ts+off, ts+off+rng)
	a := ts + off - g.start
	b := ts + off + rng - 1 - g.start
	if b < 0 {
		return 0, -1
	}
	if g.step == 0 {
		if a <= 0 && b >= 0 {
			return 0, 0
		}
		return 0, -1
	}
	if a <= 0 {
		lo = 0
	} else {
		lo = int((a + g.step - 1) / g.step)
	}
	hi = int(b / g.step)
	if hi >= g.n {
		hi = g.n - 1
	}
	return lo, hi
}

// rangeNode is a compiled range aggregation.
type rangeNode struct {
	expr     *syntax.RangeAggregationExpr
	comb     combine
	grouping log.Grouping
	pushed   bool // grouping came from the parent sum
}

// newExtractor builds the sample extractor of the node.
func (rn *rangeNode) newExtractor() (*log.SampleExtractor, error) {
	r := rn.expr.Range
	stages, err := compileStages(r.Selector.Pipeline)
	if err != nil {
		return nil, err
	}
	if r.Unwrap == nil {
		v := log.CountValue
		if rn.expr.Op == syntax.OpRangeBytes || rn.expr.Op == syntax.OpRangeBytesRate {
			v = log.BytesValue
		}
		return log.NewLineSampleExtractor(v, stages, rn.grouping), nil
	}
	post := make([]log.Stage, 0, len(r.Unwrap.PostFilters))
	for _, f := range r.Unwrap.PostFilters {
		s, err := compileLabelFilter(f)
		if err != nil {
			return nil, fmt.Errorf("compile unwrap filter %s: %w", f, err)
		}
		post = append(post, s)
	}
	conv := log.ConvertFloat
	switch r.Unwrap.Conv {
	case syntax.ConvBytes:
		conv = log.ConvertBytes
	case syntax.ConvDuration, syntax.ConvDurationSeconds:
		conv = log.ConvertDuration
	}
	return log.NewLabelSampleExtractor(r.Unwrap.Label, conv, stages, post, rn.grouping)
}

// groupingOf converts a syntax grouping to the extractor's.
func groupingOf(g *syntax.Grouping) log.Grouping {
	if g == nil {
		return log.Grouping{}
	}
	if g.Without {
		return log.Grouping{By: g.Labels, Without: true}
	}
	if len(g.Labels) == 0 {
		return log.Grouping{NoLabels: true}
	}
	return log.Grouping{By: g.Labels}
}

// canPushGrouping reports whether sum by/without over op equals the same
// op computed on samples whose labels were already reduced.
func canPushGrouping(op string) bool {
	switch op {
	case syntax.OpRangeCount, syntax.OpRangeRate, syntax.OpRangeBytes, syntax.OpRangeBytesRate, syntax.OpRangeSum:
		return true
	}
	return false
}

// dataRange is the span of entry times [from, through) the node reads
// for grid g.
func (rn *rangeNode) dataRange(g grid) (from, through int64) {
	r := rn.expr.Range
	off, rng := int64(r.Offset), int64(r.Range)
	return g.at(0) - off - rng + 1, g.at(g.n-1) - off + 1
}

// fill reads the node's entries with from <= t < through into st.
func (e *Engine) fill(ctx context.Context, src Source, rn *rangeNode, g grid, from, through int64, st *rangeState, stats *Stats) error {
	df, dt := rn.dataRange(g)
	from, through = max(from, df), min(through, dt)
	if from >= through {
		return nil
	}
	ex, err := rn.newExtractor()
	if err != nil {
		return err
	}
	r := rn.expr.Range
	off, rng := int64(r.Offset), int64(r.Range)
	req := SelectRequest{Matchers: r.Selector.Matchers, From: from, Through: through,
		LineFilterLiterals: syntax.LineFilterLiterals(r.Selector), Direction: Forward}
	byResult := make(map[*log.LabelsResult]*rseries)
	sxs := newStreamCache(ex.ForStream)
	var n int64
	for ent, err := range src.Select(ctx, req) {
		if err != nil {
			return fmt.Errorf("select %s: %w", r.Selector, err)
		}
		n++
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		stats.EntriesScanned++
		stats.BytesScanned += int64(len(ent.Line))
		if ent.Timestamp < from || ent.Timestamp >= through {
			continue
		}
		lo, hi := g.stepsFor(ent.Timestamp, off, rng)
		if lo > hi {
			continue
		}
		v, lr, ok := sxs.get(ent.Labels).Process(ent.Timestamp, ent.Line, ent.Metadata)
		if !ok {
			continue
		}
		stats.PostFilterLines++
		s := byResult[lr]
		if s == nil {
			s = st.lookup(lr.Labels(), lr.Hash(), true)
			if len(st.series) > e.opts.MaxInternalSeries {
				return &SeriesLimitError{Limit: e.opts.MaxInternalSeries}
			}
			if len(byResult) > 1<<16 {
				clear(byResult)
			}
			byResult[lr] = s
		}
		if rn.comb == combRaw {
			if k := len(s.raw); k > 0 && s.raw[k-1].t > ent.Timestamp {
				s.sorted = false
			}
			s.raw = append(s.raw, rawSample{ent.Timestamp, v})
			continue
		}
		for k := lo; k <= hi; k++ {
			s.cellAt(k).add(rn.comb, ent.Timestamp, v)
		}
	}
	return nil
}

// vectorAt finalises the node at step k into a vector.
func (rn *rangeNode) vectorAt(st *rangeState, g grid, k int) ([]sample, error) {
	r := rn.expr.Range
	rngSec := r.Range.Seconds()
	op := rn.expr.Op
	if op == syntax.OpRangeAbsent {
		for _, s := range st.series {
			if _, ok := s.get(k); ok {
				return nil, nil
			}
		}
		return []sample{{lbls: absentLabels(r.Selector.Matchers), v: 1}}, nil
	}
	var out []sample
	t := g.at(k)
	for _, s := range st.series {
		var v float64
		if rn.comb == combRaw {
			if !s.sorted {
				sort.SliceStable(s.raw, func(i, j int) bool { return s.raw[i].t < s.raw[j].t })
				s.sorted = true
			}
			hiT := t - int64(r.Offset)
			loT := hiT - int64(r.Range)
			i := sort.Search(len(s.raw), func(i int) bool { return s.raw[i].t > loT })
			j := sort.Search(len(s.raw), func(i int) bool { return s.raw[i].t > hiT })
			if i >= j {
				continue
			}
			var ok bool
			v, ok = rawAggregate(rn.expr, s.raw[i:j], loT, hiT)
			if !ok {
				continue
			}
		} else {
			c, ok := s.get(k)
			if !ok {
				continue
			}
			switch op {
			case syntax.OpRangeRate, syntax.OpRangeBytesRate:
				v = c.v / rngSec
			case syntax.OpRangeAvg:
				v = c.v / float64(c.n)
			default:
				v = c.v
			}
		}
		if s.lbls.Has(log.ErrorLabel) {
			return nil, newPipelineError(s.lbls)
		}
		out = append(out, sample{lbls: s.lbls, h: s.hash, v: v})
	}
	return out, nil
}

// absentLabels are the labels absent_over_time reports: those of the
// selector's equality matchers, except names matched more than once.
func absentLabels(ms []*labels.Matcher) labels.Labels {
	seen := make(map[string]int)
	for _, m := range ms {
		seen[m.Name]++
	}
	var out []labels.Label
	for _, m := range ms {
		if m.Type == labels.MatchEqual && seen[m.Name] == 1 {
			out = append(out, labels.Label{Name: m.Name, Value: m.Value})
		}
	}
	return labels.New(out...)
}

// rawAggregate computes the non-shardable range functions over the
// samples of one window (lo, hi], in time order.
func rawAggregate(e *syntax.RangeAggregationExpr, xs []rawSample, lo, hi int64) (float64, bool) {
	switch e.Op {
	case syntax.OpRangeStdvar, syntax.OpRangeStddev:
		// Welford's algorithm, as Loki.
		var aux, count, mean float64
		for _, x := range xs {
			count++
			delta := x.v - mean
			mean += delta / count
			aux += delta * (x.v - mean)
		}
		v := aux / count
		if e.Op == syntax.OpRangeStddev {
			v = math.Sqrt(v)
		}
		return v, true
	case syntax.OpRangeQuantile:
		q := 0.0
		if e.Param != nil {
			q = *e.Param
		}
		vs := make([]float64, len(xs))
		for i, x := range xs {
			vs[i] = x.v
		}
		return quantile(q, vs), true
	case syntax.OpRangeRateCounter:
		return extrapolatedRate(xs, e.Range.Range), true
	}
	return 0, false
}

// quantile is Prometheus's: linear interpolation between closest ranks.
func quantile(q float64, vs []float64) float64 {
	if len(vs) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(1)
	}
	slices.Sort(vs)
	n := float64(len(vs))
	rank := q * (n - 1)
	lower := math.Max(0, math.Floor(rank))
	upper := math.Min(n-1, lower+1)
	w := rank - math.Floor(rank)
	return vs[int(lower)]*(1-w) + vs[int(upper)]*w
}

// extrapolatedRate is rate_counter as Loki computes it: Prometheus's
// extrapolation anchored on the samples rather than on the window, with
// Loki's units (nanosecond timestamps divided by 1000 as if they were
// milliseconds). The result is reproduced, quirks included, so that
// answers match Loki's.
func extrapolatedRate(xs []rawSample, rng time.Duration) float64 {
	if len(xs) < 2 {
		return 0
	}
	first, last := xs[0], xs[len(xs)-1]
	rangeStart := first.t - rng.Milliseconds()
	rangeEnd := last.t
	result := last.v - first.v
	var prev float64
	for _, x := range xs {
		if x.v < prev {
			result += prev
		}
		prev = x.v
	}
	durToStart := float64(first.t-rangeStart) / 1000
	durToEnd := float64(rangeEnd-last.t) / 1000
	sampled := float64(last.t-first.t) / 1000
	avgGap := sampled / float64(len(xs)-1)
	if result > 0 && first.v >= 0 {
		if dz := sampled * (first.v / result); dz < durToStart {
			durToStart = dz
		}
	}
	threshold := avgGap * 1.1
	ext := sampled
	if durToStart < threshold {
		ext += durToStart
	} else {
		ext += avgGap / 2
	}
	if durToEnd < threshold {
		ext += durToEnd
	} else {
		ext += avgGap / 2
	}
	return result * (ext / sampled) / rng.Seconds()
}
