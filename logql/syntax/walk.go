package syntax

import "github.com/kubemate/kmlog/format/labels"

// Walk calls fn for n and then, depth first and left to right, for every
// node below it, unless fn returns false for a node, in which case that
// node's children are skipped. Children of a *LogSelectorExpr are its
// stages; of a *LabelFilterStage, its filter; of a *LogRange, its selector
// and unwrap; of an *Unwrap, its post filters.
func Walk(n Node, fn func(Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	switch n := n.(type) {
	case *LogSelectorExpr:
		for _, s := range n.Pipeline {
			Walk(s, fn)
		}
	case *LabelFilterStage:
		Walk(n.Filter, fn)
	case *BinaryLabelFilter:
		Walk(n.Left, fn)
		Walk(n.Right, fn)
	case *RangeAggregationExpr:
		Walk(n.Range, fn)
	case *LogRange:
		Walk(n.Selector, fn)
		if n.Unwrap != nil {
			Walk(n.Unwrap, fn)
		}
	case *Unwrap:
		for _, f := range n.PostFilters {
			Walk(f, fn)
		}
	case *VectorAggregationExpr:
		Walk(n.Expr, fn)
	case *BinOpExpr:
		Walk(n.LHS, fn)
		Walk(n.RHS, fn)
	case *LabelReplaceExpr:
		Walk(n.Expr, fn)
	}
}

// Selectors returns every log selector of e, left to right.
func Selectors(e Expr) []*LogSelectorExpr {
	var out []*LogSelectorExpr
	Walk(e, func(n Node) bool {
		if s, ok := n.(*LogSelectorExpr); ok {
			out = append(out, s)
			return false
		}
		return true
	})
	return out
}

// Matchers returns the stream matchers of every selector of e, one slice
// per selector, left to right.
func Matchers(e Expr) [][]*labels.Matcher {
	sels := Selectors(e)
	out := make([][]*labels.Matcher, len(sels))
	for i, s := range sels {
		out[i] = s.Matchers
	}
	return out
}

// IsLogQuery reports whether e returns log lines.
func IsLogQuery(e Expr) bool {
	_, ok := e.(*LogSelectorExpr)
	return ok
}

// IsMetricQuery reports whether e returns samples.
func IsMetricQuery(e Expr) bool {
	_, ok := e.(SampleExpr)
	return ok
}

// LineFilterLiterals returns the strings that every line selected by s must
// contain, for the token-filter index: the values of |= filters with a
// single, non-empty, non-ip operand that come before the first parser or
// formatting stage (json, logfmt, regexp, pattern, unpack, line_format,
// label_format, decolorize). Matching is case-sensitive, as |= is. Label
// filters, drop and keep do not change the line and do not stop the scan.
func LineFilterLiterals(s *LogSelectorExpr) []string {
	var out []string
	for _, st := range s.Pipeline {
		switch st := st.(type) {
		case *LineFilter:
			if st.Op == LineContains && len(st.Values) == 1 && !st.Values[0].IP && st.Values[0].Value != "" {
				out = append(out, st.Values[0].Value)
			}
		case *LabelFilterStage, *Drop, *Keep:
		default:
			return out
		}
	}
	return out
}
