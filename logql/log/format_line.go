package log

import (
	"bytes"
	"fmt"
	"regexp"
	"text/template"
	"text/template/parse"
	"unsafe"

	"github.com/kubemate/kmlog/format/labels"
)

// LineFormatter is `| line_format "{{.level}} {{.msg}}"`: the template,
// run over the current labels (a missing label reads as ""), replaces the
// line. A template that fails at run time keeps the line and sets
// __error__=TemplateFormatErr. See templateFuncs for the functions.
type LineFormatter struct {
	tmpl *template.Template
	buf  bytes.Buffer
	// simpleKey is set for `{{.name}}`, copied without running the template.
	simpleKey string

	line []byte
	ts   int64
}

// NewLineFormatter compiles the `| line_format` stage.
func NewLineFormatter(text string) (*LineFormatter, error) {
	lf := &LineFormatter{}
	t, err := newTemplate("line", text, lf.currentLine, lf.currentTS)
	if err != nil {
		return nil, fmt.Errorf("compile line_format: %w", err)
	}
	lf.tmpl = t
	if nodes := t.Root.Nodes; len(nodes) == 1 {
		if a, ok := nodes[0].(*parse.ActionNode); ok && len(a.Pipe.Decl) == 0 && len(a.Pipe.Cmds) == 1 && len(a.Pipe.Cmds[0].Args) == 1 {
			if f, ok := a.Pipe.Cmds[0].Args[0].(*parse.FieldNode); ok && len(f.Ident) == 1 {
				lf.simpleKey = f.Ident[0]
			}
		}
	}
	return lf, nil
}

func newTemplate(name, text string, line func() string, ts func() int64) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=zero").Funcs(templateFuncs(line, ts)).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTemplate, err)
	}
	return t, nil
}

// currentLine gives the template the line without copying it: the string
// lives only while the template runs.
func (lf *LineFormatter) currentLine() string {
	return unsafe.String(unsafe.SliceData(lf.line), len(lf.line))
}
func (lf *LineFormatter) currentTS() int64 { return lf.ts }

// Process implements Stage. The new line is valid until the next call.
func (lf *LineFormatter) Process(ts int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	lf.buf.Reset()
	if lf.simpleKey != "" {
		v, _ := lb.Get(lf.simpleKey)
		lf.buf.WriteString(v)
		return lf.buf.Bytes(), true
	}
	lf.line, lf.ts = line, ts
	err := lf.tmpl.Execute(&lf.buf, lb.Map())
	lf.line = nil
	if err != nil {
		lb.setError(TemplateFormatErr, err)
		return line, true
	}
	return lf.buf.Bytes(), true
}

// LabelFmt is one `label_format` item: Name="{{template}}", or with Rename
// Name=Value where Value names the source label.
type LabelFmt struct {
	Name, Value string
	Rename      bool
}

// LabelsFormatter is `| label_format a="{{.b}}", dst=src`. A rename moves
// the source label's value to the new name (nothing happens when the
// source is missing); a template sets its label, even to "". As in Loki,
// templates see the labels as they were at the first template of the
// stage.
type LabelsFormatter struct {
	fmts  []LabelFmt
	tmpls []*template.Template
	buf   bytes.Buffer
	data  map[string]string

	line []byte
	ts   int64
}

// NewLabelsFormatter compiles the `| label_format` stage. A label may be
// named once per stage and __error__ may not be formatted.
func NewLabelsFormatter(fmts []LabelFmt) (*LabelsFormatter, error) {
	lf := &LabelsFormatter{fmts: fmts, tmpls: make([]*template.Template, len(fmts))}
	seen := make(map[string]bool)
	for i, f := range fmts {
		if f.Name == ErrorLabel {
			return nil, fmt.Errorf("compile label_format: %s cannot be formatted: %w", f.Name, ErrInvalidOperation)
		}
		if !validLabelName(f.Name) {
			return nil, fmt.Errorf("compile label_format: %q: %w", f.Name, ErrInvalidLabelName)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("compile label_format: %q: %w", f.Name, ErrDuplicateLabel)
		}
		seen[f.Name] = true
		if f.Rename {
			continue
		}
		t, err := newTemplate("label", f.Value, lf.currentLine, lf.currentTS)
		if err != nil {
			return nil, fmt.Errorf("compile label_format %s: %w", f.Name, err)
		}
		lf.tmpls[i] = t
	}
	return lf, nil
}

func (lf *LabelsFormatter) currentLine() string {
	return unsafe.String(unsafe.SliceData(lf.line), len(lf.line))
}
func (lf *LabelsFormatter) currentTS() int64 { return lf.ts }

// Process implements Stage.
func (lf *LabelsFormatter) Process(ts int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	lf.line, lf.ts = line, ts
	defer func() { lf.line = nil }()
	filled := false
	for i, f := range lf.fmts {
		if f.Rename {
			if v, ok := lb.Get(f.Value); ok {
				lb.Set(f.Name, v)
				lb.Del(f.Value)
			}
			continue
		}
		if !filled {
			if lf.data == nil {
				lf.data = make(map[string]string)
			}
			clear(lf.data)
			lb.Range(func(n, v string) { lf.data[n] = v })
			filled = true
		}
		lf.buf.Reset()
		if err := lf.tmpls[i].Execute(&lf.buf, lf.data); err != nil {
			lb.setError(TemplateFormatErr, err)
			continue
		}
		lb.Set(f.Name, lf.buf.String())
	}
	return line, true
}

// LabelMatch names a label for drop and keep: by name alone, or, with a
// Matcher, only when its value matches.
type LabelMatch struct {
	Name    string
	Matcher *labels.Matcher
}

// DropLabels is `| drop a, b="x"`. Dropping __error__ or
// __error_details__ clears the line's error.
type DropLabels struct{ ms []LabelMatch }

// NewDropLabels returns the `| drop` stage.
func NewDropLabels(ms []LabelMatch) *DropLabels { return &DropLabels{ms: ms} }

// Process implements Stage.
func (d *DropLabels) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	for _, m := range d.ms {
		name := m.Name
		if m.Matcher != nil {
			name = m.Matcher.Name
		}
		var v string
		switch name {
		case ErrorLabel:
			v = lb.Err()
		case ErrorDetailsLabel:
			v = lb.ErrDetails()
		default:
			v, _ = lb.Get(name)
		}
		if m.Matcher != nil && !m.Matcher.Matches(v) {
			continue
		}
		switch name {
		case ErrorLabel:
			lb.ResetError()
		case ErrorDetailsLabel:
			lb.ResetErrorDetails()
		default:
			lb.Del(name)
		}
	}
	return line, true
}

// KeepLabels is `| keep a, b="x"`: every other label is removed, stream
// labels included; __error__ and __error_details__ always stay.
type KeepLabels struct {
	ms  []LabelMatch
	del []string
}

// NewKeepLabels returns the `| keep` stage.
func NewKeepLabels(ms []LabelMatch) *KeepLabels { return &KeepLabels{ms: ms} }

// Process implements Stage.
func (k *KeepLabels) Process(_ int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	if len(k.ms) == 0 {
		return line, true
	}
	k.del = k.del[:0]
	lb.Range(func(n, v string) {
		if n == ErrorLabel || n == ErrorDetailsLabel {
			return
		}
		for _, m := range k.ms {
			if m.Matcher != nil {
				if m.Matcher.Name == n && m.Matcher.Matches(v) {
					return
				}
				continue
			}
			if m.Name == n {
				return
			}
		}
		k.del = append(k.del, n)
	})
	for _, n := range k.del {
		lb.Del(n)
	}
	return line, true
}

// ansiRE matches ANSI escape sequences (the expression of acarl005/stripansi
// that Loki uses).
var ansiRE = regexp.MustCompile("[\u001B\u009B][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u0007)|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))")

// Decolorizer is `| decolorize`: ANSI colour codes are removed.
type Decolorizer struct{}

// NewDecolorizer returns the `| decolorize` stage.
func NewDecolorizer() Decolorizer { return Decolorizer{} }

// Process implements Stage.
func (Decolorizer) Process(_ int64, line []byte, _ *LabelsBuilder) ([]byte, bool) {
	if bytes.IndexByte(line, 0x1b) < 0 && !bytes.Contains(line, []byte("\u009b")) {
		return line, true
	}
	return ansiRE.ReplaceAll(line, nil), true
}
