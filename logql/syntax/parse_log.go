package syntax

import (
	"regexp"
	"regexp/syntax"
	"strconv"

	"github.com/kubemate/kmlog/format/labels"
)

const errEmptyCompatible = `queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will`

// parseSelector parses {matchers} and checks Loki's rule that at least one
// matcher must reject the empty value.
func (p *parser) parseSelector() ([]*labels.Matcher, *ParseError) {
	_, err := p.expect(tLBrace)
	if err != nil {
		return nil, err
	}
	var ms []*labels.Matcher
	if p.peek().kind == tRBrace {
		p.next()
	} else {
		for {
			m, err := p.parseMatcher()
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
			t := p.next()
			if t.kind == tRBrace {
				break
			}
			if t.kind != tComma {
				return nil, p.unexpected(t, "}", ",")
			}
		}
	}
	if p.anySelector {
		return ms, nil
	}
	for _, m := range ms {
		if !m.MatchesEmpty() {
			return ms, nil
		}
	}
	// Loki reports this one without a position.
	return nil, &ParseError{Msg: errEmptyCompatible}
}

func matchType(k tokKind) (labels.MatchType, bool) {
	switch k {
	case tEq:
		return labels.MatchEqual, true
	case tNeq:
		return labels.MatchNotEqual, true
	case tRe:
		return labels.MatchRegexp, true
	case tNre:
		return labels.MatchNotRegexp, true
	}
	return 0, false
}

// parseMatcher parses name op "value".
func (p *parser) parseMatcher() (*labels.Matcher, *ParseError) {
	name, err := p.expect(tIdent)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	mt, ok := matchType(opTok.kind)
	if !ok {
		return nil, p.unexpected(opTok, "=", "!=", "=~", "!~")
	}
	val, err := p.expect(tString)
	if err != nil {
		return nil, err
	}
	return p.newMatcher(mt, name.text, val)
}

func (p *parser) newMatcher(mt labels.MatchType, name string, val token) (*labels.Matcher, *ParseError) {
	if mt == labels.MatchRegexp || mt == labels.MatchNotRegexp {
		if _, err := syntax.Parse(val.str, syntax.Perl); err != nil {
			return nil, p.errAt(val.pos, "%s", err.Error())
		}
	}
	m, err := labels.NewMatcher(mt, name, val.str)
	if err != nil {
		return nil, p.errAt(val.pos, "%s", err.Error())
	}
	return m, nil
}

// parseLogSelector parses a selector and its pipeline. With inRange set it
// stops before "| unwrap", which belongs to the enclosing range.
func (p *parser) parseLogSelector(inRange bool) (*LogSelectorExpr, *ParseError) {
	ms, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	stages, err := p.parsePipeline(inRange)
	if err != nil {
		return nil, err
	}
	return &LogSelectorExpr{Matchers: ms, Pipeline: stages}, nil
}

func (p *parser) parsePipeline(inRange bool) ([]Stage, *ParseError) {
	var stages []Stage
	for {
		t := p.peek()
		switch t.kind {
		case tPipeExact, tPipeMatch, tPipePattern, tNeq, tNre, tNpa:
			s, err := p.parseLineFilter()
			if err != nil {
				return nil, err
			}
			stages = append(stages, s)
		case tPipe:
			nt := p.peekN(1)
			if nt.kind == tUnwrap {
				if inRange {
					return stages, nil
				}
				return nil, p.unexpected(nt)
			}
			p.next()
			s, err := p.parseStage()
			if err != nil {
				return nil, err
			}
			stages = append(stages, s)
		default:
			return stages, nil
		}
	}
}

func lineFilterOp(k tokKind) LineFilterOp {
	switch k {
	case tPipeExact:
		return LineContains
	case tNeq:
		return LineNotContains
	case tPipeMatch:
		return LineMatchRegexp
	case tNre:
		return LineNotRegexp
	case tPipePattern:
		return LineMatchPattern
	}
	return LineNotPattern
}

func (p *parser) parseLineFilter() (*LineFilter, *ParseError) {
	op := lineFilterOp(p.next().kind)
	f := &LineFilter{Op: op}
	for {
		t := p.peek()
		var v LineFilterValue
		switch {
		case t.kind == tString:
			p.next()
			v = LineFilterValue{Value: t.str}
		case t.kind == tFunc && t.text == "ip":
			p.next()
			s, err := p.parseParenString()
			if err != nil {
				return nil, err
			}
			if op != LineContains && op != LineNotContains {
				return nil, p.errAt(t.pos, "only '|=' and '!=' operations are allowed for ip filter")
			}
			v = LineFilterValue{Value: s.str, IP: true}
		default:
			return nil, p.unexpected(t, "STRING", "ip")
		}
		if err := checkLineFilterValue(op, v); err != nil {
			return nil, p.errAt(t.pos, "%s", err.Error())
		}
		f.Values = append(f.Values, v)
		if p.peek().kind != tOr {
			return f, nil
		}
		p.next()
	}
}

// parseParenString parses ("…") after ip.
func (p *parser) parseParenString() (token, *ParseError) {
	if _, err := p.expect(tLParen); err != nil {
		return token{}, err
	}
	s, err := p.expect(tString)
	if err != nil {
		return token{}, err
	}
	if _, err := p.expect(tRParen); err != nil {
		return token{}, err
	}
	return s, nil
}

func checkLineFilterValue(op LineFilterOp, v LineFilterValue) error {
	switch {
	case v.IP:
		return checkIPPattern(v.Value)
	case op == LineMatchRegexp || op == LineNotRegexp:
		_, err := regexp.Compile(v.Value)
		return err
	case op == LineMatchPattern || op == LineNotPattern:
		return checkLineFilterPattern(v.Value)
	}
	return nil
}

// parseStage parses the stage after a "|".
func (p *parser) parseStage() (Stage, *ParseError) {
	t := p.peek()
	switch t.kind {
	case tJSON:
		p.next()
		xs, err := p.parseExtracts(true)
		if err != nil {
			return nil, err
		}
		return &JSONParser{Exprs: xs}, nil
	case tLogfmt:
		p.next()
		s := &LogfmtParser{}
		for p.peek().kind == tFlag {
			switch p.next().text {
			case FlagStrict:
				s.Strict = true
			case FlagKeepEmpty:
				s.KeepEmpty = true
			}
		}
		xs, err := p.parseExtracts(false)
		if err != nil {
			return nil, err
		}
		s.Exprs = xs
		return s, nil
	case tRegexp:
		p.next()
		s, err := p.expect(tString)
		if err != nil {
			return nil, err
		}
		if err := checkRegexpParser(s.str); err != nil {
			return nil, noPos("invalid regexp parser: %s", err.Error())
		}
		return &RegexpParser{Regex: s.str}, nil
	case tPattern:
		p.next()
		s, err := p.expect(tString)
		if err != nil {
			return nil, err
		}
		if err := checkPatternParser(s.str); err != nil {
			return nil, p.errAt(s.pos, "invalid pattern parser: %s", err.Error())
		}
		return &PatternParser{Pattern: s.str}, nil
	case tUnpack:
		p.next()
		return &UnpackParser{}, nil
	case tDecolorize:
		p.next()
		return &Decolorize{}, nil
	case tLineFmt:
		p.next()
		s, err := p.expect(tString)
		if err != nil {
			return nil, err
		}
		if err := CheckTemplate(s.str); err != nil {
			return nil, noPos("stage '%s' : invalid line template: %s", (&LineFormat{Template: s.str}).String(), err.Error())
		}
		return &LineFormat{Template: s.str}, nil
	case tLabelFmt:
		p.next()
		return p.parseLabelFormat()
	case tDrop, tKeep:
		p.next()
		items, err := p.parseNamedMatchers()
		if err != nil {
			return nil, err
		}
		if t.kind == tDrop {
			return &Drop{Items: items}, nil
		}
		return &Keep{Items: items}, nil
	case tIdent, tLParen:
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		return &LabelFilterStage{Filter: f}, nil
	}
	return nil, p.unexpected(t)
}

// parseExtracts parses an optional list of name[="expr"] items.
func (p *parser) parseExtracts(json bool) ([]ExtractExpr, *ParseError) {
	if p.peek().kind != tIdent {
		return nil, nil
	}
	var out []ExtractExpr
	for {
		name, err := p.expect(tIdent)
		if err != nil {
			return nil, err
		}
		x := ExtractExpr{Label: name.text, Path: name.text}
		if p.peek().kind == tEq {
			p.next()
			s, err := p.expect(tString)
			if err != nil {
				return nil, err
			}
			x.Path = s.str
			if json {
				if _, err := ParseJSONPath(s.str); err != nil {
					return nil, p.errAt(s.pos, "%s", err.Error())
				}
			}
		}
		out = append(out, x)
		if p.peek().kind != tComma {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) parseLabelFormat() (Stage, *ParseError) {
	s := &LabelFormat{}
	seen := map[string]bool{}
	for {
		dst, err := p.expect(tIdent)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tEq); err != nil {
			return nil, err
		}
		v := p.next()
		var it LabelFormatItem
		switch v.kind {
		case tIdent:
			it = LabelFormatItem{Dst: dst.text, Value: v.text, Rename: true}
		case tString:
			if err := CheckTemplate(v.str); err != nil {
				return nil, p.errAt(v.pos, "invalid label template: %s", err.Error())
			}
			it = LabelFormatItem{Dst: dst.text, Value: v.str}
		default:
			return nil, p.unexpected(v, "IDENTIFIER", "STRING")
		}
		if seen[it.Dst] {
			return nil, p.errAt(dst.pos, "multiple label name '%s' not allowed in a single format operation", it.Dst)
		}
		seen[it.Dst] = true
		s.Items = append(s.Items, it)
		if p.peek().kind != tComma {
			return s, nil
		}
		p.next()
	}
}

func (p *parser) parseNamedMatchers() ([]NamedMatcher, *ParseError) {
	var out []NamedMatcher
	for {
		name, err := p.expect(tIdent)
		if err != nil {
			return nil, err
		}
		if mt, ok := matchType(p.peek().kind); ok {
			p.next()
			v, err := p.expect(tString)
			if err != nil {
				return nil, err
			}
			m, err := p.newMatcher(mt, name.text, v)
			if err != nil {
				return nil, err
			}
			out = append(out, NamedMatcher{Matcher: m})
		} else {
			out = append(out, NamedMatcher{Name: name.text})
		}
		if p.peek().kind != tComma {
			return out, nil
		}
		p.next()
	}
}

// parseLabelFilter parses "or"-separated terms of "and"-joined factors.
func (p *parser) parseLabelFilter() (LabelFilter, *ParseError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.parseLabelFilterAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		right, err := p.parseLabelFilterAnd()
		if err != nil {
			return nil, err
		}
		left = &BinaryLabelFilter{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseLabelFilterAnd() (LabelFilter, *ParseError) {
	left, err := p.parseLabelFilterFactor()
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek().kind {
		case tAnd, tComma:
			p.next()
		case tIdent, tLParen: // juxtaposition means and
		default:
			return left, nil
		}
		right, err := p.parseLabelFilterFactor()
		if err != nil {
			return nil, err
		}
		left = &BinaryLabelFilter{And: true, Left: left, Right: right}
	}
}

func cmpOp(k tokKind) (CmpOp, bool) {
	switch k {
	case tEq, tCmpEq:
		return CmpEq, true
	case tNeq:
		return CmpNeq, true
	case tGT:
		return CmpGT, true
	case tGTE:
		return CmpGTE, true
	case tLT:
		return CmpLT, true
	case tLTE:
		return CmpLTE, true
	}
	return 0, false
}

func (p *parser) parseLabelFilterFactor() (LabelFilter, *ParseError) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return f, nil
	}
	name, err := p.expect(tIdent)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	v := p.peek()
	// String matchers.
	if mt, ok := matchType(opTok.kind); ok && v.kind == tString {
		p.next()
		m, err := p.newMatcher(mt, name.text, v)
		if err != nil {
			return nil, err
		}
		return &StringLabelFilter{Matcher: m}, nil
	}
	op, ok := cmpOp(opTok.kind)
	if !ok {
		if opTok.kind == tRe || opTok.kind == tNre {
			return nil, p.unexpected(v, "STRING")
		}
		return nil, p.unexpected(opTok)
	}
	switch v.kind {
	case tFunc:
		if v.text == "ip" && (opTok.kind == tEq || opTok.kind == tNeq) {
			p.next()
			s, err := p.parseParenString()
			if err != nil {
				return nil, err
			}
			if err := checkIPPattern(s.str); err != nil {
				return nil, p.errAt(s.pos, "%s", err.Error())
			}
			return &IPLabelFilter{Name: name.text, Op: op, Pattern: s.str}, nil
		}
	case tDuration:
		p.next()
		return &DurationLabelFilter{Name: name.text, Op: op, Value: v.dur}, nil
	case tBytes:
		p.next()
		return &BytesLabelFilter{Name: name.text, Op: op, Value: v.bytes}, nil
	case tNumber, tAdd, tSub:
		lit, err := p.parseNumberLiteral()
		if err != nil {
			return nil, err
		}
		return &NumberLabelFilter{Name: name.text, Op: op, Value: lit.Value}, nil
	}
	return nil, p.unexpected(v)
}

// parseNumberLiteral parses NUMBER, +NUMBER or -NUMBER.
func (p *parser) parseNumberLiteral() (*LiteralExpr, *ParseError) {
	t := p.next()
	neg := false
	if t.kind == tAdd || t.kind == tSub {
		neg = t.kind == tSub
		n := p.next()
		if n.kind != tNumber {
			return nil, p.unexpected(n, "NUMBER")
		}
		t = n
	}
	if t.kind != tNumber {
		return nil, p.unexpected(t, "NUMBER")
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		return nil, p.errAt(t.pos, "unable to parse literal as a float: %s", err.Error())
	}
	if neg {
		v = -v
	}
	return &LiteralExpr{Value: v}, nil
}
