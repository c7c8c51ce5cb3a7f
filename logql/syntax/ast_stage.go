package syntax

import "github.com/kubemate/kmlog/format/labels"

// Stage is one step of a log pipeline. The concrete types are *LineFilter,
// *JSONParser, *LogfmtParser, *RegexpParser, *PatternParser, *UnpackParser,
// *Decolorize, *LabelFilterStage, *LineFormat, *LabelFormat, *Drop and *Keep.
type Stage interface {
	Node
	stageNode()
}

// LineFilterOp is the operator of a line filter.
type LineFilterOp int

// Line filter operators. Regex filters are not anchored (they match a
// substring, as in Loki); pattern filters use Loki's pattern syntax with
// <_> placeholders and must match the whole line.
const (
	LineContains     LineFilterOp = iota // |=
	LineNotContains                      // !=
	LineMatchRegexp                      // |~
	LineNotRegexp                        // !~
	LineMatchPattern                     // |>
	LineNotPattern                       // !>
)

func (op LineFilterOp) String() string {
	switch op {
	case LineContains:
		return "|="
	case LineNotContains:
		return "!="
	case LineMatchRegexp:
		return "|~"
	case LineNotRegexp:
		return "!~"
	case LineMatchPattern:
		return "|>"
	case LineNotPattern:
		return "!>"
	}
	return "LineFilterOp(?)"
}

// Negated reports whether the operator keeps lines that do not match.
func (op LineFilterOp) Negated() bool {
	return op == LineNotContains || op == LineNotRegexp || op == LineNotPattern
}

// LineFilterValue is one operand of a line filter: a literal, regex or
// pattern, or with IP set an ip("…") address, range or CIDR.
type LineFilterValue struct {
	Value string
	IP    bool
}

// LineFilter is |= "a", |~ "(?i)err", != ip("10.0.0.0/8"), |> "<_> GET <_>".
// More than one value means "or" alternatives (|= "a" or "b"): a positive
// operator keeps a line when any value matches, a negated one when none does.
// Consecutive filters are separate stages.
type LineFilter struct {
	Op     LineFilterOp
	Values []LineFilterValue
}

// ExtractExpr names one label to extract: for json, Path is a JSON path
// such as `a.b[0]` or `a["k"]` (see ParseJSONPath); for logfmt, a key.
// A bare identifier (json level) has Path equal to Label.
type ExtractExpr struct {
	Label string
	Path  string
}

// JSONParser is | json, optionally with extraction expressions.
type JSONParser struct {
	Exprs []ExtractExpr
}

// LogfmtParser is | logfmt [--strict] [--keep-empty] [a="key", …].
type LogfmtParser struct {
	Strict    bool
	KeepEmpty bool
	Exprs     []ExtractExpr
}

// RegexpParser is | regexp "…"; the regex has at least one named group and
// every group name is a valid label name.
type RegexpParser struct {
	Regex string
}

// PatternParser is | pattern "<ip> - <_> <status>"; it has at least one
// named capture.
type PatternParser struct {
	Pattern string
}

// UnpackParser is | unpack.
type UnpackParser struct{}

// Decolorize is | decolorize: it strips ANSI color sequences from the line.
type Decolorize struct{}

// LabelFilterStage is | <label filter expression>.
type LabelFilterStage struct {
	Filter LabelFilter
}

// LineFormat is | line_format "{{.a}}". Template has been checked with
// text/template and the names of Loki's template functions (TemplateFuncNames).
type LineFormat struct {
	Template string
}

// LabelFormatItem is one assignment of label_format: Dst=Src when Rename,
// else Dst="template".
type LabelFormatItem struct {
	Dst    string
	Value  string
	Rename bool
}

// LabelFormat is | label_format a="{{.b}}", c=d. Destinations are distinct.
type LabelFormat struct {
	Items []LabelFormatItem
}

// NamedMatcher is an item of drop and keep: either a bare label Name or a
// Matcher (drop level="debug").
type NamedMatcher struct {
	Name    string
	Matcher *labels.Matcher
}

// Drop is | drop a, b="x".
type Drop struct {
	Items []NamedMatcher
}

// Keep is | keep a, b="x".
type Keep struct {
	Items []NamedMatcher
}

func (*LineFilter) stageNode()       {}
func (*JSONParser) stageNode()       {}
func (*LogfmtParser) stageNode()     {}
func (*RegexpParser) stageNode()     {}
func (*PatternParser) stageNode()    {}
func (*UnpackParser) stageNode()     {}
func (*Decolorize) stageNode()       {}
func (*LabelFilterStage) stageNode() {}
func (*LineFormat) stageNode()       {}
func (*LabelFormat) stageNode()      {}
func (*Drop) stageNode()             {}
func (*Keep) stageNode()             {}
