package log

import (
	"bytes"
	"fmt"
)

// patternNode is one part of a pattern expression: a literal, or a
// capture <name> (name "_" captures nothing).
type patternNode struct {
	lit  []byte
	name string // "" for a literal
}

func (n patternNode) isCapture() bool { return n.name != "" }

// patternExpr is a compiled pattern such as `<ip> - - <_> "<method> <uri>"`.
type patternExpr struct {
	nodes []patternNode
	names []string // named captures in order
}

// compilePattern parses a pattern. A capture is `<` followed by a letter or
// `_`, then letters, digits or `_`, then `>`; anything else is literal.
// Two captures in a row are rejected, as are repeated names; needCapture
// asks for at least one named capture.
func compilePattern(p string, needCapture bool) (*patternExpr, error) {
	e := &patternExpr{}
	var lit []byte
	for i := 0; i < len(p); {
		if p[i] == '<' {
			if j := captureEnd(p, i); j > 0 {
				if len(lit) > 0 {
					e.nodes = append(e.nodes, patternNode{lit: lit})
					lit = nil
				}
				name := p[i+1 : j]
				if n := len(e.nodes); n > 0 && e.nodes[n-1].isCapture() {
					return nil, fmt.Errorf("compile pattern %q: consecutive captures at %d: %w", p, i, ErrInvalidPattern)
				}
				e.nodes = append(e.nodes, patternNode{name: name})
				i = j + 1
				continue
			}
		}
		lit = append(lit, p[i])
		i++
	}
	if len(lit) > 0 {
		e.nodes = append(e.nodes, patternNode{lit: lit})
	}
	seen := make(map[string]bool)
	for _, n := range e.nodes {
		if !n.isCapture() || n.name == "_" {
			continue
		}
		if seen[n.name] {
			return nil, fmt.Errorf("compile pattern %q: duplicate capture name %q: %w", p, n.name, ErrInvalidPattern)
		}
		seen[n.name] = true
		e.names = append(e.names, n.name)
	}
	if needCapture && len(e.names) == 0 {
		return nil, fmt.Errorf("compile pattern %q: %w", p, ErrNoCapture)
	}
	return e, nil
}

// captureEnd returns the index of the '>' closing a capture that starts
// at p[i] == '<', or -1.
func captureEnd(p string, i int) int {
	j := i + 1
	if j >= len(p) || !(isAlpha(p[j]) || p[j] == '_') {
		return -1
	}
	for j++; j < len(p); j++ {
		c := p[j]
		if c == '>' {
			return j
		}
		if !(isAlpha(c) || c == '_' || (c >= '0' && c <= '9')) {
			return -1
		}
	}
	return -1
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// matches extracts the named captures of in into dst, Loki's way: a
// leading literal must start the line; each capture runs to the next
// occurrence of the literal after it; when that literal is missing the
// capture takes the rest of the line and matching stops; a trailing
// capture takes the rest. A line that does not start with the leading
// literal yields nothing. Captures alias in.
func (e *patternExpr) matches(in []byte, dst [][]byte) [][]byte {
	dst = dst[:0]
	if len(in) == 0 || len(e.nodes) == 0 {
		return dst
	}
	nodes := e.nodes
	if !nodes[0].isCapture() {
		if !bytes.HasPrefix(in, nodes[0].lit) {
			return dst
		}
		in = in[len(nodes[0].lit):]
		nodes = nodes[1:]
	}
	for len(nodes) > 0 {
		c := nodes[0]
		if len(nodes) == 1 {
			if c.name != "_" {
				dst = append(dst, in)
			}
			return dst
		}
		lit := nodes[1].lit
		nodes = nodes[2:]
		i := bytes.Index(in, lit)
		if i < 0 {
			if c.name != "_" {
				dst = append(dst, in)
			}
			return dst
		}
		if c.name != "_" {
			dst = append(dst, in[:i])
		}
		in = in[i+len(lit):]
	}
	return dst
}

// test reports whether the whole line matches, for `|>`: literals appear
// in order, the leading literal starts the line, captures are not empty,
// and a trailing literal ends the line.
func (e *patternExpr) test(in []byte) bool {
	if len(in) == 0 || len(e.nodes) == 0 {
		return len(in) == 0 && len(e.nodes) == 0
	}
	off := 0
	for i, n := range e.nodes {
		if n.isCapture() {
			continue
		}
		j := bytes.Index(in[off:], n.lit)
		if j < 0 {
			return false
		}
		if i == 0 && j != 0 {
			return false // the leading literal must start the line
		}
		if i != 0 && j == 0 {
			return false // an empty capture before this literal
		}
		off += j + len(n.lit)
	}
	endsOnLiteral := !e.nodes[len(e.nodes)-1].isCapture()
	return endsOnLiteral == (off == len(in))
}

// patternFilter is `|> "pattern"`.
type patternFilter struct{ e *patternExpr }

func newPatternFilter(p string) (Filterer, error) {
	e, err := compilePattern(p, false)
	if err != nil {
		return nil, err
	}
	return patternFilter{e}, nil
}

func (f patternFilter) Filter(line []byte) bool { return f.e.test(line) }
