package engine

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/syntax"
)

// sample is one element of an intermediate vector. h is the hash of lbls
// (0 when not computed yet).
type sample struct {
	lbls labels.Labels
	h    uint64
	v    float64
}

// stepValue is the value of an expression at one step: a scalar or a
// vector.
type stepValue struct {
	scalar bool
	s      float64
	vec    []sample
}

// evaluator computes a metric expression step by step over the states of
// its range aggregations.
type evaluator struct {
	g      grid
	nodes  map[*syntax.RangeAggregationExpr]*rangeNode
	states map[*syntax.RangeAggregationExpr]*rangeState
	regs   map[*syntax.LabelReplaceExpr]*regexp.Regexp
}

func (ev *evaluator) eval(e syntax.SampleExpr, k int) (stepValue, error) {
	switch e := e.(type) {
	case *syntax.LiteralExpr:
		return stepValue{scalar: true, s: e.Value}, nil
	case *syntax.VectorExpr:
		return stepValue{vec: []sample{{lbls: labels.Labels{}, v: e.Value}}}, nil
	case *syntax.RangeAggregationExpr:
		vec, err := ev.nodes[e].vectorAt(ev.states[e], ev.g, k)
		return stepValue{vec: vec}, err
	case *syntax.VectorAggregationExpr:
		in, err := ev.eval(e.Expr, k)
		if err != nil {
			return stepValue{}, err
		}
		return stepValue{vec: vectorAggregate(e, in.vec)}, nil
	case *syntax.BinOpExpr:
		l, err := ev.eval(e.LHS, k)
		if err != nil {
			return stepValue{}, err
		}
		r, err := ev.eval(e.RHS, k)
		if err != nil {
			return stepValue{}, err
		}
		return binop(e, l, r)
	case *syntax.LabelReplaceExpr:
		in, err := ev.eval(e.Expr, k)
		if err != nil {
			return stepValue{}, err
		}
		re := ev.regs[e]
		if re == nil {
			if re, err = regexp.Compile("^(?s:" + e.Regex + ")$"); err != nil {
				return stepValue{}, fmt.Errorf("%w: invalid regular expression in label_replace(): %s", ErrBadQuery, e.Regex)
			}
			ev.regs[e] = re
		}
		return stepValue{vec: labelReplace(e, re, in.vec)}, nil
	}
	return stepValue{}, fmt.Errorf("%w: unsupported expression %T", ErrBadQuery, e)
}

func hashOf(s *sample) uint64 {
	if s.h == 0 {
		s.h = s.lbls.Hash()
	}
	return s.h
}

// groupLabels returns the labels of s's group under g.
func groupLabels(ls labels.Labels, g *syntax.Grouping) labels.Labels {
	if g == nil {
		return labels.Labels{}
	}
	if g.Without {
		return ls.Without(g.Labels...)
	}
	return ls.Only(g.Labels...)
}

type aggGroup struct {
	lbls   labels.Labels
	sum    float64
	n      int
	min    float64
	max    float64
	vals   []float64
	member []sample
}

func vectorAggregate(e *syntax.VectorAggregationExpr, in []sample) []sample {
	switch e.Op {
	case syntax.OpAggSort, syntax.OpAggSortDesc:
		out := slices.Clone(in)
		desc := e.Op == syntax.OpAggSortDesc
		slices.SortStableFunc(out, func(a, b sample) int {
			c := cmpFloat(a.v, b.v)
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
			return labels.Compare(a.lbls, b.lbls)
		})
		return out
	}
	groups := make(map[uint64][]*aggGroup)
	var order []*aggGroup
	for _, s := range in {
		gl := groupLabels(s.lbls, e.Grouping)
		h := gl.Hash()
		var g *aggGroup
		for _, c := range groups[h] {
			if labels.Equal(c.lbls, gl) {
				g = c
				break
			}
		}
		if g == nil {
			g = &aggGroup{lbls: gl, min: s.v, max: s.v}
			groups[h] = append(groups[h], g)
			order = append(order, g)
		}
		g.n++
		g.sum += s.v
		if s.v < g.min || math.IsNaN(g.min) {
			g.min = s.v
		}
		if s.v > g.max || math.IsNaN(g.max) {
			g.max = s.v
		}
		switch e.Op {
		case syntax.OpAggStddev, syntax.OpAggStdvar:
			g.vals = append(g.vals, s.v)
		case syntax.OpAggTopK, syntax.OpAggBottomK:
			g.member = append(g.member, s)
		}
	}
	out := make([]sample, 0, len(order))
	for _, g := range order {
		var v float64
		switch e.Op {
		case syntax.OpAggSum:
			v = g.sum
		case syntax.OpAggAvg:
			v = g.sum / float64(g.n)
		case syntax.OpAggCount:
			v = float64(g.n)
		case syntax.OpAggMin:
			v = g.min
		case syntax.OpAggMax:
			v = g.max
		case syntax.OpAggStddev, syntax.OpAggStdvar:
			mean := g.sum / float64(g.n)
			var ss float64
			for _, x := range g.vals {
				ss += (x - mean) * (x - mean)
			}
			v = ss / float64(g.n)
			if e.Op == syntax.OpAggStddev {
				v = math.Sqrt(v)
			}
		case syntax.OpAggTopK, syntax.OpAggBottomK:
			top := e.Op == syntax.OpAggTopK
			ms := g.member
			slices.SortStableFunc(ms, func(a, b sample) int {
				c := cmpFloat(a.v, b.v)
				if top {
					c = -c
				}
				if c != 0 {
					return c
				}
				return labels.Compare(a.lbls, b.lbls)
			})
			if e.Param < len(ms) {
				ms = ms[:max(e.Param, 0)]
			}
			out = append(out, ms...)
			continue
		}
		out = append(out, sample{lbls: g.lbls, v: v})
	}
	return out
}

// cmpFloat orders numbers ascending with NaN last.
func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

func labelReplace(e *syntax.LabelReplaceExpr, re *regexp.Regexp, in []sample) []sample {
	out := make([]sample, 0, len(in))
	for _, s := range in {
		src := s.lbls.Get(e.Src)
		idx := re.FindStringSubmatchIndex(src)
		if idx == nil {
			out = append(out, s)
			continue
		}
		res := string(re.ExpandString(nil, e.Replacement, src, idx))
		b := labels.NewBuilder(s.lbls)
		if res == "" {
			b.Del(e.Dst)
		} else {
			b.Set(e.Dst, res)
		}
		out = append(out, sample{lbls: b.Labels(), v: s.v})
	}
	return out
}

// arith applies an arithmetic or comparison operator. For comparisons it
// returns whether the pair is kept (and 1 or 0 as the value).
func arith(op string, l, r float64) (float64, bool) {
	switch op {
	case syntax.OpAdd:
		return l + r, true
	case syntax.OpSub:
		return l - r, true
	case syntax.OpMul:
		return l * r, true
	case syntax.OpDiv:
		return l / r, true
	case syntax.OpMod:
		return math.Mod(l, r), true
	case syntax.OpPow:
		return math.Pow(l, r), true
	case syntax.OpCmpEq:
		return b2f(l == r), l == r
	case syntax.OpNeq:
		return b2f(l != r), l != r
	case syntax.OpGT:
		return b2f(l > r), l > r
	case syntax.OpGTE:
		return b2f(l >= r), l >= r
	case syntax.OpLT:
		return b2f(l < r), l < r
	case syntax.OpLTE:
		return b2f(l <= r), l <= r
	}
	panic("BUG: unknown binary operator " + op)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func binop(e *syntax.BinOpExpr, l, r stepValue) (stepValue, error) {
	cmpOp := syntax.IsComparisonOp(e.Op)
	switch {
	case l.scalar && r.scalar:
		v, keep := arith(e.Op, l.s, r.s)
		if cmpOp && !e.ReturnBool && !keep {
			// Parse rejects scalar comparisons without bool; be safe.
			return stepValue{scalar: true, s: math.NaN()}, nil
		}
		if cmpOp {
			v = b2f(keep)
		}
		return stepValue{scalar: true, s: v}, nil
	case l.scalar || r.scalar:
		if syntax.IsSetOp(e.Op) {
			return stepValue{}, fmt.Errorf("%w: set operator %q not allowed in binary scalar expression", ErrBadQuery, e.Op)
		}
		vec, sc, swap := r.vec, l.s, true
		if r.scalar {
			vec, sc, swap = l.vec, r.s, false
		}
		out := make([]sample, 0, len(vec))
		for _, s := range vec {
			lv, rv := s.v, sc
			if swap {
				lv, rv = sc, s.v
			}
			v, keep := arith(e.Op, lv, rv)
			if cmpOp {
				if e.ReturnBool {
					v, keep = b2f(keep), true
				} else {
					v = s.v
				}
			}
			if keep {
				out = append(out, sample{lbls: s.lbls, h: s.h, v: v})
			}
		}
		return stepValue{vec: out}, nil
	}
	if syntax.IsSetOp(e.Op) {
		return stepValue{vec: setOp(e, l.vec, r.vec)}, nil
	}
	vec, err := vectorBinop(e, l.vec, r.vec)
	return stepValue{vec: vec}, err
}

// signature returns the matching key of ls under m.
func signature(ls labels.Labels, m *syntax.VectorMatching) (labels.Labels, uint64) {
	var k labels.Labels
	switch {
	case m == nil:
		k = ls
	case m.On:
		k = ls.Only(m.Labels...)
	default:
		k = ls.Without(m.Labels...)
	}
	return k, k.Hash()
}

func setOp(e *syntax.BinOpExpr, l, r []sample) []sample {
	rsig := make(map[uint64]bool, len(r))
	for _, s := range r {
		_, h := signature(s.lbls, e.Matching)
		rsig[h] = true
	}
	var out []sample
	switch e.Op {
	case syntax.OpAnd:
		for _, s := range l {
			if _, h := signature(s.lbls, e.Matching); rsig[h] {
				out = append(out, s)
			}
		}
	case syntax.OpUnless:
		for _, s := range l {
			if _, h := signature(s.lbls, e.Matching); !rsig[h] {
				out = append(out, s)
			}
		}
	case syntax.OpOr:
		lsig := make(map[uint64]bool, len(l))
		for _, s := range l {
			_, h := signature(s.lbls, e.Matching)
			lsig[h] = true
			out = append(out, s)
		}
		for _, s := range r {
			if _, h := signature(s.lbls, e.Matching); !lsig[h] {
				out = append(out, s)
			}
		}
	}
	return out
}

func vectorBinop(e *syntax.BinOpExpr, l, r []sample) ([]sample, error) {
	m := e.Matching
	card := syntax.CardOneToOne
	if m != nil {
		card = m.Card
	}
	// The "one" side is indexed; the "many" side is iterated.
	many, one := l, r
	if card == syntax.CardOneToMany {
		many, one = r, l
	}
	oneIdx := make(map[uint64]sample, len(one))
	for _, s := range one {
		k, h := signature(s.lbls, m)
		if prev, dup := oneIdx[h]; dup {
			side := "right"
			if card == syntax.CardOneToMany {
				side = "left"
			}
			return nil, fmt.Errorf("%w: found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s];many-to-many matching not allowed: matching labels must be unique on one side",
				ErrBadQuery, k, side, prev.lbls, s.lbls)
		}
		oneIdx[h] = s
	}
	cmpOp := syntax.IsComparisonOp(e.Op)
	var matched map[uint64]bool
	if card == syntax.CardOneToOne {
		matched = make(map[uint64]bool)
	}
	var out []sample
	seen := make(map[uint64]labels.Labels)
	for _, ms := range many {
		_, h := signature(ms.lbls, m)
		os, ok := oneIdx[h]
		if !ok {
			continue
		}
		if matched != nil {
			if matched[h] {
				return nil, fmt.Errorf("%w: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)", ErrBadQuery)
			}
			matched[h] = true
		}
		lv, rv := ms.v, os.v
		if card == syntax.CardOneToMany {
			lv, rv = os.v, ms.v
		}
		v, keep := arith(e.Op, lv, rv)
		if cmpOp {
			if e.ReturnBool {
				v, keep = b2f(keep), true
			} else {
				v = lv
			}
		}
		if !keep {
			continue
		}
		lbls := resultLabels(ms.lbls, os.lbls, m)
		rh := lbls.Hash()
		if prev, dup := seen[rh]; dup && labels.Equal(prev, lbls) {
			return nil, fmt.Errorf("%w: vector cannot contain metrics with the same labelset", ErrBadQuery)
		}
		seen[rh] = lbls
		out = append(out, sample{lbls: lbls, h: rh, v: v})
	}
	return out, nil
}

// resultLabels is Prometheus's resultMetric for a pair matched by m:
// one-to-one keeps the "on" labels or drops the "ignoring" ones;
// group_left/right copies the include labels from the "one" side.
func resultLabels(many, one labels.Labels, m *syntax.VectorMatching) labels.Labels {
	if m == nil {
		return many
	}
	if m.Card == syntax.CardOneToOne {
		if m.On {
			return many.Only(m.Labels...)
		}
		return many.Without(m.Labels...)
	}
	if len(m.Include) == 0 {
		return many
	}
	b := labels.NewBuilder(many)
	for _, n := range m.Include {
		if v, ok := one.Lookup(n); ok && v != "" {
			b.Set(n, v)
		} else {
			b.Del(n)
		}
	}
	return b.Labels()
}

// sortByLabels sorts a vector by labels, as Loki returns instant vectors.
func sortByLabels(v Vector) {
	slices.SortStableFunc(v, func(a, b Sample) int { return labels.Compare(a.Labels, b.Labels) })
}
