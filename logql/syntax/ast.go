package syntax

import (
	"fmt"
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

// Node is any element of the tree: an Expr, a Stage, a LabelFilter, a
// *LogRange or an *Unwrap. Walk visits Nodes.
type Node interface {
	fmt.Stringer
}

// Expr is a whole LogQL expression: either a *LogSelectorExpr (a log query)
// or a SampleExpr (a metric query). String prints the canonical form, which
// Parse reads back into an equal tree.
type Expr interface {
	Node
	exprNode()
}

// SampleExpr is an expression that yields samples: aggregations, binary
// operations, literals, vector() and label_replace().
type SampleExpr interface {
	Expr
	sampleExprNode()
}

// LogSelectorExpr is a stream selector and its pipeline:
//
//	{app="api", env=~"prod|stg"} |= "error" | json | level="error"
//
// Matchers hold at least one matcher that rejects the empty value (Parse
// enforces Loki's rule). Pipeline stages run left to right.
type LogSelectorExpr struct {
	Matchers []*labels.Matcher
	Pipeline []Stage
}

// Grouping is a by (...) or without (...) clause. Labels is nil for "by ()".
// A nil *Grouping means the clause was absent.
type Grouping struct {
	Without bool
	Labels  []string
}

// Range aggregation operators: the functions over a [range] of log lines.
const (
	OpRangeCount       = "count_over_time"
	OpRangeRate        = "rate"
	OpRangeRateCounter = "rate_counter"
	OpRangeBytes       = "bytes_over_time"
	OpRangeBytesRate   = "bytes_rate"
	OpRangeAvg         = "avg_over_time"
	OpRangeSum         = "sum_over_time"
	OpRangeMin         = "min_over_time"
	OpRangeMax         = "max_over_time"
	OpRangeStdvar      = "stdvar_over_time"
	OpRangeStddev      = "stddev_over_time"
	OpRangeQuantile    = "quantile_over_time"
	OpRangeFirst       = "first_over_time"
	OpRangeLast        = "last_over_time"
	OpRangeAbsent      = "absent_over_time"
)

// Vector aggregation operators.
const (
	OpAggSum      = "sum"
	OpAggAvg      = "avg"
	OpAggMax      = "max"
	OpAggMin      = "min"
	OpAggCount    = "count"
	OpAggStddev   = "stddev"
	OpAggStdvar   = "stdvar"
	OpAggBottomK  = "bottomk"
	OpAggTopK     = "topk"
	OpAggSort     = "sort"
	OpAggSortDesc = "sort_desc"
)

// Binary operators, in the spelling BinOpExpr.Op uses.
const (
	OpOr     = "or"
	OpAnd    = "and"
	OpUnless = "unless"
	OpAdd    = "+"
	OpSub    = "-"
	OpMul    = "*"
	OpDiv    = "/"
	OpMod    = "%"
	OpPow    = "^"
	OpCmpEq  = "=="
	OpNeq    = "!="
	OpGT     = ">"
	OpGTE    = ">="
	OpLT     = "<"
	OpLTE    = "<="
)

// Unwrap conversions (Unwrap.Conv); "" means the value is read as a float.
const (
	ConvBytes           = "bytes"
	ConvDuration        = "duration"
	ConvDurationSeconds = "duration_seconds"
)

// Parser flags of logfmt.
const (
	FlagStrict    = "--strict"
	FlagKeepEmpty = "--keep-empty"
)

// IsComparisonOp reports whether op is == != > >= < <=.
func IsComparisonOp(op string) bool {
	switch op {
	case OpCmpEq, OpNeq, OpGT, OpGTE, OpLT, OpLTE:
		return true
	}
	return false
}

// IsSetOp reports whether op is and, or or unless.
func IsSetOp(op string) bool {
	switch op {
	case OpAnd, OpOr, OpUnless:
		return true
	}
	return false
}

// LogRange is the [range] argument of a range aggregation: the lines of a
// selector over Range before each step, shifted back by Offset, optionally
// unwrapped into a value.
type LogRange struct {
	Selector *LogSelectorExpr
	Range    time.Duration
	Offset   time.Duration
	Unwrap   *Unwrap
}

// Unwrap turns a label into the sample value: "| unwrap latency",
// "| unwrap duration(latency)". PostFilters are the label filters written
// after it; they run on the unwrapped samples (and see __error__).
type Unwrap struct {
	Label       string
	Conv        string // "", ConvBytes, ConvDuration or ConvDurationSeconds
	PostFilters []LabelFilter
}

// RangeAggregationExpr applies Op to every stream of Range:
// rate({app="api"}[5m]), quantile_over_time(0.99, {…} | unwrap x [1m]) by (a).
// Param is set only for quantile_over_time. Grouping is set only for the
// operators that allow it (avg, min, max, stddev, stdvar, quantile, first, last).
type RangeAggregationExpr struct {
	Op       string
	Param    *float64
	Range    *LogRange
	Grouping *Grouping
}

// VectorAggregationExpr aggregates its operand across series:
// sum by (app) (…), topk(5, …). Param is k for topk and bottomk, else 0.
type VectorAggregationExpr struct {
	Op       string
	Param    int
	Grouping *Grouping
	Expr     SampleExpr
}

// Cardinality of a vector matching.
type Cardinality int

// Cardinalities: one-to-one is the default; group_left is many-to-one and
// group_right one-to-many.
const (
	CardOneToOne Cardinality = iota
	CardManyToOne
	CardOneToMany
)

// VectorMatching is the on/ignoring and group_left/group_right modifier of
// a binary operation. A nil *VectorMatching means the default: match on all
// labels, one-to-one.
type VectorMatching struct {
	On      bool     // on (...) rather than ignoring (...)
	Labels  []string // the labels listed in on/ignoring
	Card    Cardinality
	Include []string // the labels listed in group_left/group_right
}

// BinOpExpr is LHS Op RHS. Both sides may be any SampleExpr, including
// literals; Parse does not fold constants, so "1+1" stays a BinOpExpr.
type BinOpExpr struct {
	Op         string
	LHS, RHS   SampleExpr
	ReturnBool bool
	Matching   *VectorMatching
}

// LiteralExpr is a scalar number (always finite).
type LiteralExpr struct {
	Value float64
}

// VectorExpr is vector(Value): a single series with no labels.
type VectorExpr struct {
	Value float64
}

// LabelReplaceExpr is label_replace(Expr, Dst, Replacement, Src, Regex).
// Regex is anchored on both ends when applied, as in Prometheus.
type LabelReplaceExpr struct {
	Expr        SampleExpr
	Dst         string
	Replacement string
	Src         string
	Regex       string
}

func (*LogSelectorExpr) exprNode()       {}
func (*RangeAggregationExpr) exprNode()  {}
func (*VectorAggregationExpr) exprNode() {}
func (*BinOpExpr) exprNode()             {}
func (*LiteralExpr) exprNode()           {}
func (*VectorExpr) exprNode()            {}
func (*LabelReplaceExpr) exprNode()      {}

func (*RangeAggregationExpr) sampleExprNode()  {}
func (*VectorAggregationExpr) sampleExprNode() {}
func (*BinOpExpr) sampleExprNode()             {}
func (*LiteralExpr) sampleExprNode()           {}
func (*VectorExpr) sampleExprNode()            {}
func (*LabelReplaceExpr) sampleExprNode()      {}
