package syntax

import (
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

// LabelFilter is a predicate over the labels of a line (after parsers):
// | status >= 400 and (level="error" or latency > 250ms).
// The concrete types are *BinaryLabelFilter, *StringLabelFilter,
// *NumberLabelFilter, *DurationLabelFilter, *BytesLabelFilter and
// *IPLabelFilter.
type LabelFilter interface {
	Node
	labelFilterNode()
}

// CmpOp is the comparison of a numeric, duration or bytes label filter.
type CmpOp int

// Comparison operators. A label whose value does not convert to the
// filter's type fails the filter with __error__ set (engine behaviour).
const (
	CmpEq CmpOp = iota
	CmpNeq
	CmpGT
	CmpGTE
	CmpLT
	CmpLTE
)

func (op CmpOp) String() string {
	switch op {
	case CmpEq:
		return "=="
	case CmpNeq:
		return "!="
	case CmpGT:
		return ">"
	case CmpGTE:
		return ">="
	case CmpLT:
		return "<"
	case CmpLTE:
		return "<="
	}
	return "CmpOp(?)"
}

// BinaryLabelFilter combines two filters. And is written "and", "," or
// just white space; it binds tighter than "or".
type BinaryLabelFilter struct {
	And         bool // false: or
	Left, Right LabelFilter
}

// StringLabelFilter is a label matcher: level="error", __error__="".
type StringLabelFilter struct {
	Matcher *labels.Matcher
}

// NumberLabelFilter compares a label as a float64: status >= 400.
type NumberLabelFilter struct {
	Name  string
	Op    CmpOp
	Value float64
}

// DurationLabelFilter compares a label as a duration: latency > 250ms.
type DurationLabelFilter struct {
	Name  string
	Op    CmpOp
	Value time.Duration
}

// BytesLabelFilter compares a label as a byte size: size > 20MB.
type BytesLabelFilter struct {
	Name  string
	Op    CmpOp
	Value uint64
}

// IPLabelFilter is addr = ip("10.0.0.0/8") or addr != ip("…"). Op is CmpEq
// or CmpNeq. Pattern is an address, a CIDR prefix or a range a-b.
type IPLabelFilter struct {
	Name    string
	Op      CmpOp
	Pattern string
}

func (*BinaryLabelFilter) labelFilterNode()   {}
func (*StringLabelFilter) labelFilterNode()   {}
func (*NumberLabelFilter) labelFilterNode()   {}
func (*DurationLabelFilter) labelFilterNode() {}
func (*BytesLabelFilter) labelFilterNode()    {}
func (*IPLabelFilter) labelFilterNode()       {}
