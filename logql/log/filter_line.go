package log

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Filterer tests one line. Filter must not keep line.
type Filterer interface {
	Filter(line []byte) bool
}

// LineMatchType is the operator of a line filter.
type LineMatchType int

// Line filter operators.
const (
	LineMatchEqual      LineMatchType = iota // |=
	LineMatchNotEqual                        // !=
	LineMatchRegexp                          // |~
	LineMatchNotRegexp                       // !~
	LineMatchPattern                         // |>
	LineMatchNotPattern                      // !>
)

func (t LineMatchType) String() string {
	switch t {
	case LineMatchEqual:
		return "|="
	case LineMatchNotEqual:
		return "!="
	case LineMatchRegexp:
		return "|~"
	case LineMatchNotRegexp:
		return "!~"
	case LineMatchPattern:
		return "|>"
	case LineMatchNotPattern:
		return "!>"
	}
	return fmt.Sprintf("LineMatchType(%d)", int(t))
}

// negative reports whether t drops the lines that match.
func (t LineMatchType) negative() bool {
	return t == LineMatchNotEqual || t == LineMatchNotRegexp || t == LineMatchNotPattern
}

// NewFilter compiles one line filter: `|= "x"`, `!~ "re"`, `|> "<_> x"`...
func NewFilter(match string, mt LineMatchType) (Filterer, error) {
	var f Filterer
	switch mt {
	case LineMatchEqual, LineMatchNotEqual:
		f = NewContainsFilter([]byte(match), false)
	case LineMatchRegexp, LineMatchNotRegexp:
		rf, err := newRegexpFilter(match)
		if err != nil {
			return nil, err
		}
		f = rf
	case LineMatchPattern, LineMatchNotPattern:
		pf, err := newPatternFilter(match)
		if err != nil {
			return nil, err
		}
		f = pf
	default:
		return nil, fmt.Errorf("compile line filter %v: %w", mt, ErrInvalidOperation)
	}
	if mt.negative() {
		return NewNotFilter(f), nil
	}
	return f, nil
}

// NewLineFilter compiles `op "a" or "b" ...`: for a positive operator the
// line must match one of the values; for a negative one it must match
// none of them (Loki's reading of `!= "a" or "b"`).
func NewLineFilter(mt LineMatchType, values ...string) (Filterer, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("compile line filter %v: no value: %w", mt, ErrInvalidOperation)
	}
	pos := mt
	switch mt {
	case LineMatchNotEqual:
		pos = LineMatchEqual
	case LineMatchNotRegexp:
		pos = LineMatchRegexp
	case LineMatchNotPattern:
		pos = LineMatchPattern
	}
	fs := make([]Filterer, 0, len(values))
	for _, v := range values {
		f, err := NewFilter(v, pos)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	f := NewOrFilter(fs...)
	if mt.negative() {
		return NewNotFilter(f), nil
	}
	return f, nil
}

// NewLineFilterStage makes a Stage of a Filterer. A pipeline made only of
// such stages skips the labels builder entirely.
func NewLineFilterStage(f Filterer) Stage { return lineFilterStage{f} }

type lineFilterStage struct{ f Filterer }

func (s lineFilterStage) Process(_ int64, line []byte, _ *LabelsBuilder) ([]byte, bool) {
	return line, s.f.Filter(line)
}

// TrueFilter keeps every line.
var TrueFilter Filterer = trueFilter{}

type trueFilter struct{}

func (trueFilter) Filter([]byte) bool { return true }

// existsFilter keeps non-empty lines (the simplified `.+`).
type existsFilter struct{}

func (existsFilter) Filter(line []byte) bool { return len(line) > 0 }

type notFilter struct{ f Filterer }

func (n notFilter) Filter(line []byte) bool { return !n.f.Filter(line) }

// NewNotFilter negates f.
func NewNotFilter(f Filterer) Filterer {
	if n, ok := f.(notFilter); ok {
		return n.f
	}
	return notFilter{f}
}

type andFilter []Filterer

func (a andFilter) Filter(line []byte) bool {
	for _, f := range a {
		if !f.Filter(line) {
			return false
		}
	}
	return true
}

type orFilter []Filterer

func (o orFilter) Filter(line []byte) bool {
	for _, f := range o {
		if f.Filter(line) {
			return true
		}
	}
	return false
}

// NewAndFilter keeps lines that every filter keeps.
func NewAndFilter(fs ...Filterer) Filterer {
	out := make(andFilter, 0, len(fs))
	for _, f := range fs {
		switch f := f.(type) {
		case trueFilter:
			continue
		case andFilter:
			out = append(out, f...)
		default:
			out = append(out, f)
		}
	}
	switch len(out) {
	case 0:
		return TrueFilter
	case 1:
		return out[0]
	}
	return out
}

// NewOrFilter keeps lines that any filter keeps. Case-sensitive literal
// alternatives are merged into one multi-literal search.
func NewOrFilter(fs ...Filterer) Filterer {
	out := make(orFilter, 0, len(fs))
	for _, f := range fs {
		switch f := f.(type) {
		case trueFilter:
			return TrueFilter
		case orFilter:
			out = append(out, f...)
		default:
			out = append(out, f)
		}
	}
	switch len(out) {
	case 0:
		return TrueFilter
	case 1:
		return out[0]
	}
	return out
}

// ContainsFilter keeps lines that contain a literal, optionally ignoring
// ASCII case.
type ContainsFilter struct {
	match []byte
	fold  bool
	// for the case-insensitive search: the lowered needle and its first
	// byte in both cases.
	lower      []byte
	first, alt byte
}

// NewContainsFilter returns the `|= "match"` filter; caseInsensitive is
// what `|~ "(?i)match"` simplifies to. An empty match keeps every line.
func NewContainsFilter(match []byte, caseInsensitive bool) Filterer {
	if len(match) == 0 {
		return TrueFilter
	}
	f := &ContainsFilter{match: bytes.Clone(match)}
	if caseInsensitive {
		if !isASCII(match) {
			// Unicode folding: let the regexp engine do it.
			return mustFoldRegexp(match)
		}
		f.fold = true
		f.lower = bytes.ToLower(match)
		f.first = f.lower[0]
		f.alt = toUpperASCII(f.first)
	}
	return f
}

// Filter reports whether line contains the literal.
func (f *ContainsFilter) Filter(line []byte) bool {
	if !f.fold {
		return bytes.Index(line, f.match) >= 0
	}
	return indexFoldASCII(line, f.lower, f.first, f.alt) >= 0
}

// indexFoldASCII finds lower (an ASCII, lowered needle) in s ignoring ASCII
// case. first and alt are the needle's first byte in both cases. It keeps
// the next position of each case so the scan stays linear.
func indexFoldASCII(s, lower []byte, first, alt byte) int {
	n := len(lower)
	end := len(s) - n + 1 // candidate starts are < end
	if end <= 0 {
		return -1
	}
	next := func(c byte, from int) int {
		j := bytes.IndexByte(s[from:end], c)
		if j < 0 {
			return -1
		}
		return from + j
	}
	na := next(first, 0)
	nb := na
	if alt != first {
		nb = next(alt, 0)
	}
	for {
		var p int
		switch {
		case na < 0 && nb < 0:
			return -1
		case na < 0:
			p = nb
		case nb < 0:
			p = na
		default:
			p = min(na, nb)
		}
		if equalFoldASCII(s[p+1:p+n], lower[1:]) {
			return p
		}
		if alt == first {
			na = next(first, p+1)
			nb = na
			continue
		}
		if na == p {
			na = next(first, p+1)
		}
		if nb == p {
			nb = next(alt, p+1)
		}
	}
}

// equalFoldASCII reports whether s equals lower ignoring ASCII case.
func equalFoldASCII(s, lower []byte) bool {
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func toUpperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
