package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// sourceInput returns the text a parsing stage reads: the line, or the
// extracted value named by source. ok is false when source is missing or
// does not convert to a string; the stage then does nothing.
func sourceInput(e *Entry, source *string) (string, bool) {
	if source == nil {
		return e.Line, true
	}
	v, ok := e.Extracted[*source]
	if !ok {
		return "", false
	}
	return getString(v)
}

func checkSource(source *string) error {
	if source != nil && *source == "" {
		return errKey("source", "empty source")
	}
	return nil
}

// regex: named capture groups become extracted values.
type regexStage struct {
	link
	source *string
	re     *regexp.Regexp
	names  []string
}

type regexConfig struct {
	Expression string  `yaml:"expression"`
	Source     *string `yaml:"source"`
}

func newRegex(cfg *yaml.Node) (stage, error) {
	var c regexConfig
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.Expression == "" {
		return nil, errKey("expression", "expression is required")
	}
	if err := checkSource(c.Source); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(c.Expression)
	if err != nil {
		return nil, errKey("expression", "compile regular expression: %v", err)
	}
	named := false
	for _, n := range re.SubexpNames() {
		named = named || n != ""
	}
	if !named {
		return nil, errKey("expression", "the regular expression has no named capture group")
	}
	return &regexStage{source: c.Source, re: re, names: re.SubexpNames()}, nil
}

func (s *regexStage) run(ctx context.Context, e *Entry) {
	if in, ok := sourceInput(e, s.source); ok {
		if m := s.re.FindStringSubmatchIndex(in); m != nil {
			for i, n := range s.names {
				if i == 0 || n == "" {
					continue
				}
				v := ""
				if m[2*i] >= 0 {
					v = in[m[2*i]:m[2*i+1]]
				}
				e.Extracted[n] = v
			}
		}
	}
	s.next(ctx, e)
}

// output: the line becomes an extracted value.
type outputStage struct {
	link
	source string
}

func newOutput(cfg *yaml.Node) (stage, error) {
	var c struct {
		Source string `yaml:"source"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.Source == "" {
		return nil, errKey("source", "output source value is required")
	}
	return &outputStage{source: c.Source}, nil
}

func (s *outputStage) run(ctx context.Context, e *Entry) {
	if v, ok := e.Extracted[s.source]; ok {
		if str, ok := getString(v); ok {
			e.Line = str
		}
	}
	s.next(ctx, e)
}

// tenant: the entry's tenant from a fixed value, an extracted value or a
// label.
type tenantStage struct {
	link
	label, source, value string
}

func newTenant(cfg *yaml.Node) (stage, error) {
	var c struct {
		Label  string `yaml:"label"`
		Source string `yaml:"source"`
		Value  string `yaml:"value"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	n := 0
	for _, s := range []string{c.Label, c.Source, c.Value} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, errors.New("label, source or value config are required")
	case n > 1:
		return nil, fmt.Errorf("label, source and value are mutually exclusive: set one of them")
	}
	return &tenantStage{label: c.Label, source: c.Source, value: c.Value}, nil
}

func (s *tenantStage) run(ctx context.Context, e *Entry) {
	id := s.value
	switch {
	case s.source != "":
		if v, ok := e.Extracted[s.source]; ok {
			id, _ = getString(v)
		}
	case s.label != "":
		id = e.Labels.Get(s.label)
	}
	if id != "" {
		e.Tenant = id
	}
	s.next(ctx, e)
}
