package labels

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every error from Parse.
var ErrSyntax = errors.New("invalid label set")

// Parse reads the text form {a="b", c="d"} (whitespace allowed, values in
// Go/Prometheus double-quoted string syntax) as the Loki push protobuf
// carries it. Names must be valid label names; a repeated name is an error.
func Parse(s string) (Labels, error) {
	p := parser{s: s}
	ls, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("%w %q: at byte %d: %v", ErrSyntax, truncate(s), p.pos, err)
	}
	return ls, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

type parser struct {
	s   string
	pos int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) expect(c byte) error {
	p.skipSpace()
	if p.pos >= len(p.s) || p.s[p.pos] != c {
		return fmt.Errorf("expected %q", c)
	}
	p.pos++
	return nil
}

func (p *parser) parse() (Labels, error) {
	if err := p.expect('{'); err != nil {
		return nil, err
	}
	var ls []Label
	for {
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			break
		}
		if len(ls) > 0 {
			if err := p.expect(','); err != nil {
				return nil, err
			}
			p.skipSpace()
			if p.pos < len(p.s) && p.s[p.pos] == '}' { // trailing comma
				p.pos++
				break
			}
		}
		start := p.pos
		for p.pos < len(p.s) && isNameByte(p.s[p.pos], p.pos == start) {
			p.pos++
		}
		name := p.s[start:p.pos]
		if name == "" {
			return nil, errors.New("expected a label name")
		}
		if err := p.expect('='); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return nil, errors.New("expected a quoted value")
		}
		q, err := strconv.QuotedPrefix(p.s[p.pos:])
		if err != nil {
			return nil, errors.New("unterminated or malformed quoted value")
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, err
		}
		p.pos += len(q)
		ls = append(ls, Label{name, v})
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return nil, errors.New("unexpected text after '}'")
	}
	out := New(ls...)
	if len(out) != len(ls) {
		return nil, errors.New("duplicate label name")
	}
	return out, nil
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// ValidName reports whether s is a valid label name: [a-zA-Z_][a-zA-Z0-9_]*.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// IsReserved reports whether a name is reserved for internal use (__x__).
func IsReserved(name string) bool {
	return strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") && len(name) > 4
}
