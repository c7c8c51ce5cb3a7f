package syntax

import (
	"fmt"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
)

// maxDepth bounds the nesting of parentheses, aggregations and binary
// operations, so a hostile query cannot exhaust the stack.
const maxDepth = 200

// Parse parses a LogQL query. It returns a *LogSelectorExpr for a log query
// and a SampleExpr for a metric query. Every error is a *ParseError that
// wraps ErrParse.
func Parse(input string) (Expr, error) { return parse(input, false) }

func parse(input string, anySelector bool) (Expr, error) {
	toks, perr := lex(input)
	if perr != nil {
		return nil, perr
	}
	p := &parser{toks: toks, anySelector: anySelector}
	e, perr := p.parseExpr(0)
	if perr != nil {
		return nil, perr
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return e, nil
}

// ParseSampleExpr parses a metric query.
func ParseSampleExpr(input string) (SampleExpr, error) {
	e, err := Parse(input)
	if err != nil {
		return nil, err
	}
	s, ok := e.(SampleExpr)
	if !ok {
		return nil, &ParseError{Msg: "only sample expression supported"}
	}
	return s, nil
}

// ParseLogSelector parses a log query (selector and pipeline).
func ParseLogSelector(input string) (*LogSelectorExpr, error) {
	return parseLogSelector(input, false)
}

// ParseLogSelectorAnyMatchers is ParseLogSelector without the rule that a
// selector needs a matcher that rejects the empty value: {app!="x"} and {}
// parse. Promtail's match stage parses its selector so.
func ParseLogSelectorAnyMatchers(input string) (*LogSelectorExpr, error) {
	return parseLogSelector(input, true)
}

func parseLogSelector(input string, anySelector bool) (*LogSelectorExpr, error) {
	e, err := parse(input, anySelector)
	if err != nil {
		return nil, err
	}
	s, ok := e.(*LogSelectorExpr)
	if !ok {
		return nil, &ParseError{Msg: "only log selector is supported"}
	}
	return s, nil
}

// ParseMatchers parses a bare stream selector such as a match[] parameter:
// {app="api"}. A pipeline is an error.
func ParseMatchers(input string) ([]*labels.Matcher, error) {
	s, err := ParseLogSelector(input)
	if err != nil {
		return nil, err
	}
	if len(s.Pipeline) > 0 {
		return nil, &ParseError{Msg: "only label matchers is supported"}
	}
	return s.Matchers, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
	// anySelector skips the empty-compatible selector check.
	anySelector bool
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(pos Pos, format string, args ...any) *ParseError {
	return &ParseError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// unexpected builds Loki's "syntax error: unexpected X[, expecting A or B]".
func (p *parser) unexpected(t token, expecting ...string) *ParseError {
	msg := "syntax error: unexpected " + t.describe()
	if len(expecting) > 0 {
		msg += ", expecting " + strings.Join(expecting, " or ")
	}
	return &ParseError{Pos: t.pos, Msg: msg}
}

func (p *parser) expect(k tokKind) (token, *ParseError) {
	t := p.peek()
	if t.kind != k {
		return t, p.unexpected(t, kindName(k))
	}
	return p.next(), nil
}

func (p *parser) enter() *ParseError {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(p.peek().pos, "syntax error: expression nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// parseIdentList parses "( [a {, b}] )".
func (p *parser) parseIdentList() ([]string, *ParseError) {
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	var out []string
	if p.peek().kind == tRParen {
		p.next()
		return nil, nil
	}
	for {
		t, err := p.expect(tIdent)
		if err != nil {
			return nil, err
		}
		out = append(out, t.text)
		switch t := p.next(); t.kind {
		case tComma:
			continue
		case tRParen:
			return out, nil
		default:
			return nil, p.unexpected(t, ",", ")")
		}
	}
}
