package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// jmesPath is a compiled expression of the JMESPath subset that Promtail
// json stages use in practice:
//
//	level               identifier ([A-Za-z_][A-Za-z0-9_]*)
//	"user.name"         quoted identifier (JSON string escapes)
//	request.headers.ua  sub-expressions
//	items[0], items[-1] index (negative counts from the end)
//	items[*].id         list projection
//	items[].id          flatten, then projection
//	labels.*            object projection (values in key order)
//	@                   the current value
//
// Missing fields, out-of-range indexes and type mismatches give null, as
// in JMESPath. Functions, filters ([?...]), slices, pipes, multi-selects
// and literals are not supported: compiling them is an error naming the
// offset.
type jmesPath struct {
	src   string
	steps []jmesStep
}

type jmesKind uint8

const (
	jmesField   jmesKind = iota // object member
	jmesIndex                   // array element
	jmesProject                 // [*]: project over an array
	jmesValues                  // .*: project over an object's values
	jmesFlatten                 // []: flatten one level, then project
	jmesCurrent                 // @
)

type jmesStep struct {
	kind  jmesKind
	name  string
	index int
}

// ErrJMESPath is wrapped by expression compile errors.
var ErrJMESPath = errors.New("invalid JMESPath expression")

func compileJMESPath(s string) (*jmesPath, error) {
	p := &jmesParser{s: s}
	steps, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrJMESPath, s, err)
	}
	return &jmesPath{src: s, steps: steps}, nil
}

type jmesParser struct {
	s   string
	i   int
	out []jmesStep
}

func (p *jmesParser) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{p.i}, args...)...)
}

func (p *jmesParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *jmesParser) parse() ([]jmesStep, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.errf("empty expression")
	}
	// First element: identifier, quoted identifier, *, @ or a bracket.
	switch c := p.s[p.i]; {
	case c == '[':
		if err := p.bracket(); err != nil {
			return nil, err
		}
	case c == '*':
		p.i++
		p.out = append(p.out, jmesStep{kind: jmesValues})
	case c == '@':
		p.i++
		p.out = append(p.out, jmesStep{kind: jmesCurrent})
	default:
		if err := p.identifier(); err != nil {
			return nil, err
		}
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return p.out, nil
		}
		switch p.s[p.i] {
		case '.':
			p.i++
			p.skipSpace()
			if p.i < len(p.s) && p.s[p.i] == '*' {
				p.i++
				p.out = append(p.out, jmesStep{kind: jmesValues})
				continue
			}
			if p.i < len(p.s) && (p.s[p.i] == '[' || p.s[p.i] == '{') {
				return nil, p.errf("multi-select is not supported")
			}
			if err := p.identifier(); err != nil {
				return nil, err
			}
		case '[':
			if err := p.bracket(); err != nil {
				return nil, err
			}
		case '|':
			return nil, p.errf("pipe expressions are not supported")
		default:
			return nil, p.errf("unexpected %q (only identifiers, '.', [n], [*], [] and .* are supported)", p.s[p.i])
		}
	}
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentByte(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }

func (p *jmesParser) identifier() error {
	if p.i >= len(p.s) {
		return p.errf("expected an identifier")
	}
	c := p.s[p.i]
	if c == '"' {
		// A JSON string.
		j := p.i + 1
		for j < len(p.s) && p.s[j] != '"' {
			if p.s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(p.s) {
			return p.errf("unterminated quoted identifier")
		}
		name, err := strconv.Unquote(p.s[p.i : j+1])
		if err != nil {
			return p.errf("bad quoted identifier: %v", err)
		}
		p.i = j + 1
		p.out = append(p.out, jmesStep{kind: jmesField, name: name})
		return nil
	}
	if !isIdentStart(c) {
		switch c {
		case '`', '\'':
			return p.errf("literals are not supported")
		case '{':
			return p.errf("multi-select is not supported")
		case '&', '!':
			return p.errf("expression references and not-expressions are not supported")
		}
		return p.errf("expected an identifier, got %q", c)
	}
	j := p.i
	for j < len(p.s) && isIdentByte(p.s[j]) {
		j++
	}
	name := p.s[p.i:j]
	p.i = j
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		return p.errf("function %s() is not supported", name)
	}
	p.out = append(p.out, jmesStep{kind: jmesField, name: name})
	return nil
}

func (p *jmesParser) bracket() error {
	p.i++ // '['
	p.skipSpace()
	if p.i >= len(p.s) {
		return p.errf("unterminated '['")
	}
	switch c := p.s[p.i]; {
	case c == ']':
		p.i++
		p.out = append(p.out, jmesStep{kind: jmesFlatten})
		return nil
	case c == '*':
		p.i++
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ']' {
			return p.errf("expected ']' after '[*'")
		}
		p.i++
		p.out = append(p.out, jmesStep{kind: jmesProject})
		return nil
	case c == '?':
		return p.errf("filter expressions are not supported")
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return p.errf("bad index %q", p.s[p.i:j])
		}
		p.i = j
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ':' {
			return p.errf("slices are not supported")
		}
		if p.i >= len(p.s) || p.s[p.i] != ']' {
			return p.errf("expected ']'")
		}
		p.i++
		p.out = append(p.out, jmesStep{kind: jmesIndex, index: n})
		return nil
	case c == ':':
		return p.errf("slices are not supported")
	}
	return p.errf("multi-select lists are not supported")
}

// search evaluates the expression on a value decoded by encoding/json
// (map[string]any, []any, string, float64, bool, nil).
func (jp *jmesPath) search(v any) any { return evalSteps(jp.steps, v) }

func evalSteps(steps []jmesStep, v any) any {
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		switch st.kind {
		case jmesCurrent:
		case jmesField:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[st.name]
		case jmesIndex:
			a, ok := v.([]any)
			if !ok {
				return nil
			}
			n := st.index
			if n < 0 {
				n += len(a)
			}
			if n < 0 || n >= len(a) {
				return nil
			}
			v = a[n]
		case jmesProject, jmesValues, jmesFlatten:
			var elems []any
			switch st.kind {
			case jmesProject:
				a, ok := v.([]any)
				if !ok {
					return nil
				}
				elems = a
			case jmesValues:
				m, ok := v.(map[string]any)
				if !ok {
					return nil
				}
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					elems = append(elems, m[k])
				}
			case jmesFlatten:
				a, ok := v.([]any)
				if !ok {
					return nil
				}
				for _, x := range a {
					if inner, ok := x.([]any); ok {
						elems = append(elems, inner...)
					} else {
						elems = append(elems, x)
					}
				}
			}
			// The projection's right-hand side runs up to the next
			// flatten, which applies to the projected list.
			end := len(steps)
			for j := i + 1; j < len(steps); j++ {
				if steps[j].kind == jmesFlatten {
					end = j
					break
				}
			}
			out := make([]any, 0, len(elems))
			for _, x := range elems {
				if r := evalSteps(steps[i+1:end], x); r != nil {
					out = append(out, r)
				}
			}
			v = out
			i = end - 1
		}
	}
	return v
}
