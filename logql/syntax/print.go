package syntax

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
)

// printer writes the canonical form of a tree. The canonical form uses
// lower-case keywords, one space around binary operators and between
// pipeline stages, ", " between matchers, double-quoted strings, grouping
// before the body of vector aggregations, and only the parentheses that the
// tree's shape needs.
type printer struct {
	sb strings.Builder
	// normalize sorts selector matchers and drops "by ()" on vector
	// aggregations; used by CanonicalString for cache keys.
	normalize bool
}

func (p *printer) str(s string) { p.sb.WriteString(s) }

func (p *printer) quote(s string) { p.sb.WriteString(strconv.Quote(s)) }

// formatFloat prints a number; -0 prints as 0, since the lexer, like
// Loki's, reads "-0" as a duration.
func formatFloat(v float64) string {
	if v == 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func print(n Node, normalize bool) string {
	p := &printer{normalize: normalize}
	p.node(n)
	return p.sb.String()
}

// CanonicalString prints e in canonical form with the matchers of every
// selector sorted (and exact duplicates removed) and "by ()" dropped from
// vector aggregations: equivalent queries that differ only in those respects
// print the same, which makes it a good results-cache key.
func CanonicalString(e Expr) string { return print(e, true) }

func (e *LogSelectorExpr) String() string       { return print(e, false) }
func (e *RangeAggregationExpr) String() string  { return print(e, false) }
func (e *VectorAggregationExpr) String() string { return print(e, false) }
func (e *BinOpExpr) String() string             { return print(e, false) }
func (e *LiteralExpr) String() string           { return print(e, false) }
func (e *VectorExpr) String() string            { return print(e, false) }
func (e *LabelReplaceExpr) String() string      { return print(e, false) }
func (r *LogRange) String() string              { return print(r, false) }
func (u *Unwrap) String() string                { return print(u, false) }
func (g *Grouping) String() string              { return print(g, false) }

func (s *LineFilter) String() string       { return print(s, false) }
func (s *JSONParser) String() string       { return print(s, false) }
func (s *LogfmtParser) String() string     { return print(s, false) }
func (s *RegexpParser) String() string     { return print(s, false) }
func (s *PatternParser) String() string    { return print(s, false) }
func (s *UnpackParser) String() string     { return print(s, false) }
func (s *Decolorize) String() string       { return print(s, false) }
func (s *LabelFilterStage) String() string { return print(s, false) }
func (s *LineFormat) String() string       { return print(s, false) }
func (s *LabelFormat) String() string      { return print(s, false) }
func (s *Drop) String() string             { return print(s, false) }
func (s *Keep) String() string             { return print(s, false) }

func (f *BinaryLabelFilter) String() string   { return print(f, false) }
func (f *StringLabelFilter) String() string   { return print(f, false) }
func (f *NumberLabelFilter) String() string   { return print(f, false) }
func (f *DurationLabelFilter) String() string { return print(f, false) }
func (f *BytesLabelFilter) String() string    { return print(f, false) }
func (f *IPLabelFilter) String() string       { return print(f, false) }

func (p *printer) node(n Node) {
	switch n := n.(type) {
	case *LogSelectorExpr:
		p.selector(n)
	case *RangeAggregationExpr:
		p.str(n.Op)
		p.str("(")
		if n.Param != nil {
			p.str(formatFloat(*n.Param))
			p.str(", ")
		}
		p.node(n.Range)
		p.str(")")
		if n.Grouping != nil {
			p.str(" ")
			p.node(n.Grouping)
		}
	case *LogRange:
		p.selector(n.Selector)
		if n.Unwrap != nil {
			p.str(" ")
			p.node(n.Unwrap)
		}
		if len(n.Selector.Pipeline) > 0 || n.Unwrap != nil {
			p.str(" ")
		}
		p.str("[")
		p.str(formatDuration(n.Range))
		p.str("]")
		if n.Offset != 0 {
			p.str(" offset ")
			p.str(formatDuration(n.Offset))
		}
	case *Unwrap:
		p.str("| unwrap ")
		if n.Conv != "" {
			p.str(n.Conv)
			p.str("(")
			p.str(n.Label)
			p.str(")")
		} else {
			p.str(n.Label)
		}
		for _, f := range n.PostFilters {
			p.str(" | ")
			p.labelFilter(f, 0)
		}
	case *Grouping:
		if n.Without {
			p.str("without (")
		} else {
			p.str("by (")
		}
		p.str(strings.Join(n.Labels, ", "))
		p.str(")")
	case *VectorAggregationExpr:
		p.str(n.Op)
		if g := n.Grouping; g != nil && !(p.normalize && !g.Without && len(g.Labels) == 0) {
			p.str(" ")
			p.node(g)
			p.str(" ")
		}
		p.str("(")
		if n.Op == OpAggTopK || n.Op == OpAggBottomK {
			p.str(strconv.Itoa(n.Param))
			p.str(", ")
		}
		p.node(n.Expr)
		p.str(")")
	case *BinOpExpr:
		p.binOp(n)
	case *LiteralExpr:
		p.str(formatFloat(n.Value))
	case *VectorExpr:
		p.str("vector(")
		p.str(formatFloat(n.Value))
		p.str(")")
	case *LabelReplaceExpr:
		p.str("label_replace(")
		p.node(n.Expr)
		for _, s := range []string{n.Dst, n.Replacement, n.Src, n.Regex} {
			p.str(", ")
			p.quote(s)
		}
		p.str(")")
	case Stage:
		p.stage(n)
	case LabelFilter:
		p.labelFilter(n, 0)
	default:
		p.str("<unknown node>")
	}
}

func (p *printer) matchers(ms []*labels.Matcher) {
	if p.normalize {
		ms = slices.Clone(ms)
		slices.SortFunc(ms, func(a, b *labels.Matcher) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Value, b.Value))
		})
		ms = slices.CompactFunc(ms, func(a, b *labels.Matcher) bool {
			return a.Name == b.Name && a.Type == b.Type && a.Value == b.Value
		})
	}
	p.str("{")
	for i, m := range ms {
		if i > 0 {
			p.str(", ")
		}
		p.str(m.String())
	}
	p.str("}")
}

func (p *printer) selector(s *LogSelectorExpr) {
	p.matchers(s.Matchers)
	for _, st := range s.Pipeline {
		p.str(" ")
		p.stage(st)
	}
}

func (p *printer) extracts(xs []ExtractExpr) {
	for i, x := range xs {
		if i > 0 {
			p.str(",")
		}
		p.str(" ")
		p.str(x.Label)
		if x.Path != x.Label {
			p.str("=")
			p.quote(x.Path)
		}
	}
}

func (p *printer) namedMatchers(items []NamedMatcher) {
	for i, it := range items {
		if i > 0 {
			p.str(",")
		}
		p.str(" ")
		if it.Matcher != nil {
			p.str(it.Matcher.String())
		} else {
			p.str(it.Name)
		}
	}
}

func (p *printer) stage(s Stage) {
	switch s := s.(type) {
	case *LineFilter:
		p.str(s.Op.String())
		for i, v := range s.Values {
			if i > 0 {
				p.str(" or")
			}
			p.str(" ")
			if v.IP {
				p.str("ip(")
				p.quote(v.Value)
				p.str(")")
			} else {
				p.quote(v.Value)
			}
		}
	case *JSONParser:
		p.str("| json")
		p.extracts(s.Exprs)
	case *LogfmtParser:
		p.str("| logfmt")
		if s.Strict {
			p.str(" " + FlagStrict)
		}
		if s.KeepEmpty {
			p.str(" " + FlagKeepEmpty)
		}
		p.extracts(s.Exprs)
	case *RegexpParser:
		p.str("| regexp ")
		p.quote(s.Regex)
	case *PatternParser:
		p.str("| pattern ")
		p.quote(s.Pattern)
	case *UnpackParser:
		p.str("| unpack")
	case *Decolorize:
		p.str("| decolorize")
	case *LabelFilterStage:
		p.str("| ")
		p.labelFilter(s.Filter, 0)
	case *LineFormat:
		p.str("| line_format ")
		p.quote(s.Template)
	case *LabelFormat:
		p.str("| label_format")
		for i, it := range s.Items {
			if i > 0 {
				p.str(",")
			}
			p.str(" ")
			p.str(it.Dst)
			p.str("=")
			if it.Rename {
				p.str(it.Value)
			} else {
				p.quote(it.Value)
			}
		}
	case *Drop:
		p.str("| drop")
		p.namedMatchers(s.Items)
	case *Keep:
		p.str("| keep")
		p.namedMatchers(s.Items)
	default:
		p.str("<unknown stage>")
	}
}

// labelFilter prints f; parent is 0 at the top, 1 under "or", 2 under "and",
// and 3 for a right operand that must keep its own grouping.
func (p *printer) labelFilter(f LabelFilter, parent int) {
	switch f := f.(type) {
	case *BinaryLabelFilter:
		prec := 1
		op := " or "
		if f.And {
			prec, op = 2, " and "
		}
		paren := prec < parent
		if paren {
			p.str("(")
		}
		p.labelFilter(f.Left, prec)
		p.str(op)
		p.labelFilter(f.Right, prec+1)
		if paren {
			p.str(")")
		}
	case *StringLabelFilter:
		p.str(f.Matcher.String())
	case *NumberLabelFilter:
		p.str(f.Name + " " + f.Op.String() + " " + formatFloat(f.Value))
	case *DurationLabelFilter:
		p.str(f.Name + " " + f.Op.String() + " " + formatDuration(f.Value))
	case *BytesLabelFilter:
		p.str(f.Name + " " + f.Op.String() + " " + formatBytes(f.Value))
	case *IPLabelFilter:
		op := "="
		if f.Op == CmpNeq {
			op = "!="
		}
		p.str(f.Name + " " + op + " ip(")
		p.quote(f.Pattern)
		p.str(")")
	default:
		p.str("<unknown label filter>")
	}
}

var bytesUnitsDesc = []struct {
	name string
	n    uint64
}{
	{"PiB", 1 << 50}, {"PB", 1e15}, {"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30},
	{"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3},
}

// formatBytes prints b with the largest unit that divides it exactly.
func formatBytes(b uint64) string {
	if b != 0 {
		for _, u := range bytesUnitsDesc {
			if b%u.n == 0 {
				return strconv.FormatUint(b/u.n, 10) + u.name
			}
		}
	}
	return strconv.FormatUint(b, 10) + "B"
}

// binOpPrec returns the precedence of a binary operator: higher binds
// tighter, as in PromQL.
func binOpPrec(op string) int {
	switch op {
	case OpOr:
		return 1
	case OpAnd, OpUnless:
		return 2
	case OpCmpEq, OpNeq, OpGT, OpGTE, OpLT, OpLTE:
		return 3
	case OpAdd, OpSub:
		return 4
	case OpMul, OpDiv, OpMod:
		return 5
	case OpPow:
		return 6
	}
	return 0
}

func (p *printer) binOp(e *BinOpExpr) {
	prec := binOpPrec(e.Op)
	rightAssoc := e.Op == OpPow
	side := func(x SampleExpr, left bool) {
		paren := false
		if b, ok := x.(*BinOpExpr); ok {
			cp := binOpPrec(b.Op)
			paren = cp < prec || (cp == prec && left == rightAssoc)
		}
		if paren {
			p.str("(")
		}
		p.node(x)
		if paren {
			p.str(")")
		}
	}
	side(e.LHS, true)
	p.str(" ")
	p.str(e.Op)
	if e.ReturnBool {
		p.str(" bool")
	}
	if m := e.Matching; m != nil {
		if m.On {
			p.str(" on (")
		} else {
			p.str(" ignoring (")
		}
		p.str(strings.Join(m.Labels, ", "))
		p.str(")")
		switch m.Card {
		case CardManyToOne:
			p.str(" group_left")
		case CardOneToMany:
			p.str(" group_right")
		}
		if m.Card != CardOneToOne && len(m.Include) > 0 {
			p.str(" (")
			p.str(strings.Join(m.Include, ", "))
			p.str(")")
		}
	}
	p.str(" ")
	side(e.RHS, false)
}
