package pipeline

import (
	"bytes"
	"context"
	"regexp"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// template: an extracted value computed by a Go template over the
// extracted values (as strings), .Value (the source's current value) and
// .Entry (the line). An empty result deletes the value.
type templateStage struct {
	link
	source string
	tmpl   *template.Template
	buf    bytes.Buffer
}

func newTemplate(cfg *yaml.Node) (stage, error) {
	var c struct {
		Source   string `yaml:"source"`
		Template string `yaml:"template"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.Source == "" {
		return nil, errKey("source", "template source value is required")
	}
	t, err := parseTemplate(c.Template)
	if err != nil {
		return nil, errKey("template", "%v", err)
	}
	return &templateStage{source: c.Source, tmpl: t}, nil
}

func (s *templateStage) run(ctx context.Context, e *Entry) {
	td := make(map[string]any, len(e.Extracted)+2)
	for k, v := range e.Extracted {
		str, ok := getString(v)
		if !ok {
			continue
		}
		td[k] = str
		if k == s.source {
			td["Value"] = str
		}
	}
	td["Entry"] = e.Line
	s.buf.Reset()
	if err := s.tmpl.Execute(&s.buf, td); err == nil {
		if s.buf.Len() == 0 {
			delete(e.Extracted, s.source)
		} else {
			e.Extracted[s.source] = s.buf.String()
		}
	}
	s.next(ctx, e)
}

// replace: every capture group of every match of expression, in the line
// or in an extracted value, is replaced by the replace template, which
// sees the extracted values and .Value, the captured text. Named groups
// also set extracted values, to their replaced text in the first match.
type replaceStage struct {
	link
	source *string
	re     *regexp.Regexp
	tmpl   *template.Template
	static bool // the template has no actions: its text is the replacement
	repl   string
	buf    bytes.Buffer
}

func newReplace(cfg *yaml.Node) (stage, error) {
	var c struct {
		Expression string  `yaml:"expression"`
		Source     *string `yaml:"source"`
		Replace    string  `yaml:"replace"`
	}
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
	t, err := parseTemplate(c.Replace)
	if err != nil {
		return nil, errKey("replace", "%v", err)
	}
	s := &replaceStage{source: c.Source, re: re, tmpl: t, repl: c.Replace}
	s.static = !bytes.Contains([]byte(c.Replace), []byte("{{"))
	return s, nil
}

func (s *replaceStage) run(ctx context.Context, e *Entry) {
	s.apply(e)
	s.next(ctx, e)
}

func (s *replaceStage) apply(e *Entry) {
	in, ok := sourceInput(e, s.source)
	if !ok {
		return
	}
	all := s.re.FindAllStringSubmatchIndex(in, -1)
	if all == nil {
		return
	}
	var td map[string]string
	if !s.static {
		td = make(map[string]string, len(e.Extracted)+1)
		for k, v := range e.Extracted {
			if str, ok := getString(v); ok {
				td[k] = str
			}
		}
	}
	var out []byte
	replaced := make(map[string]string)
	prevEnd := 0
	for _, m := range all {
		for i := 2; i+1 < len(m); i += 2 {
			if m[i] < 0 {
				continue
			}
			captured := in[m[i]:m[i+1]]
			repl := s.repl
			if !s.static {
				td["Value"] = captured
				s.buf.Reset()
				if err := s.tmpl.Execute(&s.buf, td); err != nil {
					return
				}
				repl = s.buf.String()
			}
			// Promtail's rule, kept as is: a group is replaced when it
			// starts after the end of the last replaced one (so nested
			// and adjacent groups are skipped), or when nothing has been
			// replaced up to position 0.
			if prevEnd == 0 || prevEnd < m[i] {
				out = append(out, in[prevEnd:m[i]]...)
				out = append(out, repl...)
				prevEnd = m[i+1]
			}
			replaced[captured] = repl
		}
	}
	out = append(out, in[prevEnd:]...)
	if s.source != nil {
		e.Extracted[*s.source] = string(out)
	} else {
		e.Line = string(out)
	}
	first := all[0]
	for i, name := range s.re.SubexpNames() {
		if i == 0 || name == "" {
			continue
		}
		captured := ""
		if first[2*i] >= 0 {
			captured = in[first[2*i]:first[2*i+1]]
		}
		if v, ok := replaced[captured]; ok {
			e.Extracted[name] = v
		}
	}
}
