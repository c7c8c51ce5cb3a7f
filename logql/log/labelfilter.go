package log

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

// LabelFilterType is the comparison of a typed label filter.
type LabelFilterType int

// Comparison operators of numeric, duration and bytes label filters.
const (
	LabelFilterEqual LabelFilterType = iota // == (and = with a number)
	LabelFilterNotEqual
	LabelFilterGreaterThan
	LabelFilterGreaterThanOrEqual
	LabelFilterLesserThan
	LabelFilterLesserThanOrEqual
)

func (t LabelFilterType) String() string {
	switch t {
	case LabelFilterEqual:
		return "=="
	case LabelFilterNotEqual:
		return "!="
	case LabelFilterGreaterThan:
		return ">"
	case LabelFilterGreaterThanOrEqual:
		return ">="
	case LabelFilterLesserThan:
		return "<"
	case LabelFilterLesserThanOrEqual:
		return "<="
	}
	return fmt.Sprintf("LabelFilterType(%d)", int(t))
}

func compare[T int64 | uint64 | float64](t LabelFilterType, a, b T) bool {
	switch t {
	case LabelFilterEqual:
		return a == b
	case LabelFilterNotEqual:
		return a != b
	case LabelFilterGreaterThan:
		return a > b
	case LabelFilterGreaterThanOrEqual:
		return a >= b
	case LabelFilterLesserThan:
		return a < b
	case LabelFilterLesserThanOrEqual:
		return a <= b
	}
	return false
}

// binaryLabelFilter is `a and b` / `a or b`. As in Loki, `and` runs both
// sides (so both may record an error); `or` stops at the first success.
type binaryLabelFilter struct {
	left, right Stage
	and         bool
}

func (f *binaryLabelFilter) Process(ts int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	line, lok := f.left.Process(ts, line, lb)
	if !f.and && lok {
		return line, true
	}
	line, rok := f.right.Process(ts, line, lb)
	if f.and {
		return line, lok && rok
	}
	return line, rok
}

// NewAndLabelFilter is `left and right` (also written `left, right` or
// `left right`).
func NewAndLabelFilter(left, right Stage) Stage {
	return &binaryLabelFilter{left: left, right: right, and: true}
}

// NewOrLabelFilter is `left or right`.
func NewOrLabelFilter(left, right Stage) Stage {
	return &binaryLabelFilter{left: left, right: right}
}

// stringLabelFilter is `name op "value"` with a string matcher. A missing
// label reads as "". `__error__` and `__error_details__` test the line's
// error.
type stringLabelFilter struct {
	m *labels.Matcher
	// match, when set, replaces m's regexp with Loki's literal test
	// (labelfilter_regex.go).
	match func(string) bool
}

// NewStringLabelFilter is `| name = "v"`, `!=`, `=~`, `!~`. Regular
// expressions are simplified as Loki simplifies them.
func NewStringLabelFilter(m *labels.Matcher) Stage {
	f := stringLabelFilter{m: m}
	if m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp {
		if t, ok := simplifyLabelRegexp(m.Value); ok {
			f.match = t
			if m.Type == labels.MatchNotRegexp {
				f.match = func(v string) bool { return !t(v) }
			}
		}
	}
	return f
}

func (f stringLabelFilter) matches(v string) bool {
	if f.match != nil {
		return f.match(v)
	}
	return f.m.Matches(v)
}

func (f stringLabelFilter) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	switch f.m.Name {
	case ErrorLabel:
		return line, f.matches(lb.Err())
	case ErrorDetailsLabel:
		return line, f.matches(lb.ErrDetails())
	}
	v, _ := lb.Get(f.m.Name)
	return line, f.matches(v)
}

// typedFilter is shared by the numeric, duration and bytes filters: a
// missing label drops the line; a value that does not convert keeps the
// line and sets __error__=LabelFilterErr unless an error is already set.
func typedFilter(lb *LabelsBuilder, name string, cmp func(string) (bool, error)) bool {
	v, ok := lb.Get(name)
	if !ok {
		return false
	}
	keep, err := cmp(v)
	if err != nil {
		if !lb.HasErr() {
			lb.setError(LabelFilterErr, err)
		}
		return true
	}
	return keep
}

type numericLabelFilter struct {
	t     LabelFilterType
	name  string
	value float64
}

// NewNumericLabelFilter is `| name > 1.5`: the label is parsed as a float.
func NewNumericLabelFilter(t LabelFilterType, name string, v float64) Stage {
	return &numericLabelFilter{t: t, name: name, value: v}
}

func (f *numericLabelFilter) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	return line, typedFilter(lb, f.name, func(s string) (bool, error) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, err
		}
		return compare(f.t, v, f.value), nil
	})
}

type durationLabelFilter struct {
	t     LabelFilterType
	name  string
	value time.Duration
}

// NewDurationLabelFilter is `| name > 250ms`: the label is parsed with
// time.ParseDuration.
func NewDurationLabelFilter(t LabelFilterType, name string, d time.Duration) Stage {
	return &durationLabelFilter{t: t, name: name, value: d}
}

func (f *durationLabelFilter) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	return line, typedFilter(lb, f.name, func(s string) (bool, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return false, err
		}
		return compare(f.t, int64(d), int64(f.value)), nil
	})
}

type bytesLabelFilter struct {
	t     LabelFilterType
	name  string
	value uint64
}

// NewBytesLabelFilter is `| size > 20MB`: the label is parsed with
// ParseBytes.
func NewBytesLabelFilter(t LabelFilterType, name string, b uint64) Stage {
	return &bytesLabelFilter{t: t, name: name, value: b}
}

func (f *bytesLabelFilter) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	return line, typedFilter(lb, f.name, func(s string) (bool, error) {
		b, err := ParseBytes(s)
		if err != nil {
			return false, err
		}
		return compare(f.t, b, f.value), nil
	})
}

type ipLabelFilter struct {
	m     *ipMatcher
	name  string
	equal bool
}

// NewIPLabelFilter is `| addr = ip("10.0.0.0/8")` (equal) or `!= ip(...)`.
// A line with an error passes; a missing label drops the line.
func NewIPLabelFilter(pattern, name string, equal bool) (Stage, error) {
	m, err := parseIPMatcher(pattern)
	if err != nil {
		return nil, err
	}
	return &ipLabelFilter{m: m, name: name, equal: equal}, nil
}

func (f *ipLabelFilter) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	if lb.HasErr() {
		return line, true
	}
	v, ok := lb.Get(f.name)
	if !ok {
		return line, false
	}
	return line, f.m.find([]byte(v)) == f.equal
}

// bytesUnits are go-humanize's size names, lower case.
var bytesUnits = map[string]uint64{
	"": 1, "b": 1,
	"kib": 1 << 10, "ki": 1 << 10, "kb": 1e3, "k": 1e3,
	"mib": 1 << 20, "mi": 1 << 20, "mb": 1e6, "m": 1e6,
	"gib": 1 << 30, "gi": 1 << 30, "gb": 1e9, "g": 1e9,
	"tib": 1 << 40, "ti": 1 << 40, "tb": 1e12, "t": 1e12,
	"pib": 1 << 50, "pi": 1 << 50, "pb": 1e15, "p": 1e15,
	"eib": 1 << 60, "ei": 1 << 60, "eb": 1e18, "e": 1e18,
}

// ParseBytes parses a human size such as "42", "1.5 MB", "20MiB" or
// "1,024kb" with go-humanize's rules, which Loki uses: a decimal number
// (commas ignored), optional spaces, a case-insensitive unit; k, kb are
// powers of 1000 and ki, kib powers of 1024.
func ParseBytes(s string) (uint64, error) {
	n := 0
	comma := false
	for n < len(s) && (isDigit(s[n]) || s[n] == '.' || s[n] == ',') {
		comma = comma || s[n] == ','
		n++
	}
	num := s[:n]
	if comma {
		num = strings.ReplaceAll(num, ",", "")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("parse bytes %q: %w", s, err)
	}
	unit := strings.ToLower(strings.TrimSpace(s[n:]))
	m, ok := bytesUnits[unit]
	if !ok {
		return 0, fmt.Errorf("parse bytes %q: unhandled size name: %v", s, unit)
	}
	f *= float64(m)
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("parse bytes %q: too large", s)
	}
	return uint64(f), nil
}
