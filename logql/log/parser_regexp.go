package log

import (
	"fmt"
	"regexp"
)

// RegexpParser is `| regexp "(?P<name>re)"`: each named group of the
// first match becomes a label. A line that does not match keeps its
// labels and is not dropped.
type RegexpParser struct {
	re    *regexp.Regexp
	names []string // per group index; "" for unnamed groups
}

// NewRegexpParser compiles the `| regexp` stage. The expression needs at
// least one named group; names must be valid label names and distinct.
func NewRegexpParser(expr string) (*RegexpParser, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("compile regexp parser %q: %w", expr, err)
	}
	names := re.SubexpNames()
	seen := make(map[string]bool)
	for _, n := range names {
		if n == "" {
			continue
		}
		if !validLabelName(n) {
			return nil, fmt.Errorf("compile regexp parser: capture %q: %w", n, ErrInvalidLabelName)
		}
		if seen[n] {
			return nil, fmt.Errorf("compile regexp parser: capture %q: %w", n, ErrDuplicateLabel)
		}
		seen[n] = true
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("compile regexp parser %q: %w", expr, ErrNoCapture)
	}
	return &RegexpParser{re: re, names: names}, nil
}

// Process implements Stage.
func (r *RegexpParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	for i, v := range r.re.FindSubmatch(line) {
		if name := r.names[i]; name != "" {
			lb.SetParsed(lb.ParsedName(name), string(v))
		}
	}
	return line, true
}

// PatternParser is `| pattern "<ip> - <_> <status>"`: see compilePattern
// and patternExpr.matches for the matching rules. Captures that the line
// does not reach are not set.
type PatternParser struct {
	e    *patternExpr
	caps [][]byte
}

// NewPatternParser compiles the `| pattern` stage.
func NewPatternParser(p string) (*PatternParser, error) {
	e, err := compilePattern(p, true)
	if err != nil {
		return nil, err
	}
	return &PatternParser{e: e}, nil
}

// Process implements Stage.
func (p *PatternParser) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	p.caps = p.e.matches(line, p.caps)
	for i, c := range p.caps {
		lb.SetParsed(lb.ParsedName(p.e.names[i]), string(c))
	}
	return line, true
}
