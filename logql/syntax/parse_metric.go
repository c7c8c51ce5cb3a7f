package syntax

import (
	"regexp"
	"strconv"
)

var binOps = map[tokKind]string{
	tOr: OpOr, tAnd: OpAnd, tUnless: OpUnless,
	tAdd: OpAdd, tSub: OpSub, tMul: OpMul, tDiv: OpDiv, tMod: OpMod, tPow: OpPow,
	tCmpEq: OpCmpEq, tNeq: OpNeq, tGT: OpGT, tGTE: OpGTE, tLT: OpLT, tLTE: OpLTE,
}

// parseExpr parses binary operations by precedence climbing: operators
// bind as in PromQL (or < and, unless < comparisons < + - < * / % < ^),
// all left-associative except ^.
func (p *parser) parseExpr(minPrec int) (Expr, *ParseError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	lhs, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for {
		opTok := p.peek()
		op, ok := binOps[opTok.kind]
		if !ok {
			return lhs, nil
		}
		prec := binOpPrec(op)
		if prec < minPrec {
			return lhs, nil
		}
		p.next()
		e := &BinOpExpr{Op: op}
		if p.peek().kind == tBool {
			p.next()
			e.ReturnBool = true
		}
		if k := p.peek().kind; k == tOn || k == tIgnoring {
			p.next()
			m := &VectorMatching{On: k == tOn}
			if m.Labels, err = p.parseIdentList(); err != nil {
				return nil, err
			}
			if k := p.peek().kind; k == tGroupLeft || k == tGroupRight {
				p.next()
				m.Card = CardManyToOne
				if k == tGroupRight {
					m.Card = CardOneToMany
				}
				if p.peek().kind == tLParen {
					if m.Include, err = p.parseIdentList(); err != nil {
						return nil, err
					}
				}
			}
			// "ignoring ()" alone is the default matching.
			if m.On || len(m.Labels) > 0 || m.Card != CardOneToOne {
				e.Matching = m
			}
		}
		next := prec + 1
		if op == OpPow {
			next = prec
		}
		rhs, err := p.parseExpr(next)
		if err != nil {
			return nil, err
		}
		if e.LHS, err = p.sampleLeg(lhs, op, "left", opTok); err != nil {
			return nil, err
		}
		if e.RHS, err = p.sampleLeg(rhs, op, "right", opTok); err != nil {
			return nil, err
		}
		lhs = e
	}
}

// sampleLeg checks one operand of a binary operation as Loki does.
func (p *parser) sampleLeg(x Expr, op, side string, opTok token) (SampleExpr, *ParseError) {
	s, ok := x.(SampleExpr)
	if !ok {
		return nil, p.errAt(opTok.pos, "unexpected type for %s leg of binary operation (%s): %T", side, op, x)
	}
	if IsSetOp(op) {
		if v, ok := scalarValue(s); ok {
			return nil, p.errAt(opTok.pos, "unexpected literal for %s leg of logical/set binary operation (%s): %f", side, op, v)
		}
	}
	return s, nil
}

// scalarValue reports whether e is made only of literals (Loki folds such
// expressions into one literal) and a rough value for error messages.
func scalarValue(e SampleExpr) (float64, bool) {
	switch e := e.(type) {
	case *LiteralExpr:
		return e.Value, true
	case *BinOpExpr:
		l, lok := scalarValue(e.LHS)
		_, rok := scalarValue(e.RHS)
		return l, lok && rok
	}
	return 0, false
}

func (p *parser) parsePrimary() (Expr, *ParseError) {
	t := p.peek()
	switch t.kind {
	case tNumber, tAdd, tSub:
		return p.parseNumberLiteral()
	case tLBrace:
		sel, err := p.parseLogSelector(false)
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind == tRange {
			return nil, p.unexpected(t)
		}
		return sel, nil
	case tLParen:
		p.next()
		e, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return e, nil
	case tFunc:
		switch t.text {
		case OpRangeCount, OpRangeRate, OpRangeRateCounter, OpRangeBytes, OpRangeBytesRate,
			OpRangeAvg, OpRangeSum, OpRangeMin, OpRangeMax, OpRangeStdvar, OpRangeStddev,
			OpRangeQuantile, OpRangeFirst, OpRangeLast, OpRangeAbsent:
			return p.parseRangeAggregation()
		case OpAggSum, OpAggAvg, OpAggMax, OpAggMin, OpAggCount, OpAggStddev, OpAggStdvar,
			OpAggBottomK, OpAggTopK, OpAggSort, OpAggSortDesc:
			return p.parseVectorAggregation()
		case "vector":
			p.next()
			if _, err := p.expect(tLParen); err != nil {
				return nil, err
			}
			n, err := p.expect(tNumber)
			if err != nil {
				return nil, err
			}
			v, perr := strconv.ParseFloat(n.text, 64)
			if perr != nil {
				return nil, p.errAt(n.pos, "unable to parse vectorExpr as a float: %s", perr.Error())
			}
			if _, err := p.expect(tRParen); err != nil {
				return nil, err
			}
			return &VectorExpr{Value: v}, nil
		case "label_replace":
			return p.parseLabelReplace()
		}
	}
	return nil, p.unexpected(t)
}

func (p *parser) parseGrouping() (*Grouping, *ParseError) {
	t := p.next()
	g := &Grouping{Without: t.kind == tWithout}
	var err *ParseError
	g.Labels, err = p.parseIdentList()
	return g, err
}

func (p *parser) parseRangeAggregation() (Expr, *ParseError) {
	opTok := p.next()
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	e := &RangeAggregationExpr{Op: opTok.text}
	var paramTok *token
	if p.peek().kind == tNumber && p.peekN(1).kind == tComma {
		t := p.next()
		paramTok = &t
		p.next()
	}
	lr, err := p.parseLogRange()
	if err != nil {
		return nil, err
	}
	e.Range = lr
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	if k := p.peek().kind; k == tBy || k == tWithout {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if paramTok != nil {
		if e.Op != OpRangeQuantile {
			return nil, noPos("parameter %s not supported for operation %s", paramTok.text, e.Op)
		}
		v, perr := strconv.ParseFloat(paramTok.text, 64)
		if perr != nil {
			return nil, p.errAt(paramTok.pos, "invalid parameter for operation %s: %s", e.Op, perr.Error())
		}
		e.Param = &v
	} else if e.Op == OpRangeQuantile {
		return nil, noPos("parameter required for operation %s", e.Op)
	}
	if msg := checkRangeAggregation(e); msg != "" {
		return nil, noPos("%s", msg)
	}
	return e, nil
}

// checkRangeAggregation applies Loki's rules on grouping and unwrap.
func checkRangeAggregation(e *RangeAggregationExpr) string {
	if e.Grouping != nil {
		switch e.Op {
		case OpRangeAvg, OpRangeStddev, OpRangeStdvar, OpRangeQuantile, OpRangeMax, OpRangeMin, OpRangeFirst, OpRangeLast:
		default:
			return "grouping not allowed for " + e.Op + " aggregation"
		}
	}
	if e.Range.Unwrap != nil {
		switch e.Op {
		case OpRangeAvg, OpRangeSum, OpRangeMax, OpRangeMin, OpRangeStddev, OpRangeStdvar, OpRangeQuantile,
			OpRangeRate, OpRangeRateCounter, OpRangeAbsent, OpRangeFirst, OpRangeLast:
			return ""
		}
		return "invalid aggregation " + e.Op + " with unwrap"
	}
	switch e.Op {
	case OpRangeBytes, OpRangeBytesRate, OpRangeCount, OpRangeRate, OpRangeAbsent:
		return ""
	}
	return "invalid aggregation " + e.Op + " without unwrap"
}

// parseLogRange parses the argument of a range aggregation in any of the
// shapes Loki accepts: {…} | stages | unwrap x [5m] offset 1h,
// {…}[5m] offset 1h | stages | unwrap x, ({…} | stages)[5m], ({…}[5m]).
func (p *parser) parseLogRange() (*LogRange, *ParseError) {
	if p.peek().kind != tLParen {
		lr, err := p.parseLogRangeBare()
		if err != nil {
			return nil, err
		}
		if lr == nil {
			return nil, p.unexpected(p.peek())
		}
		return lr, nil
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.next()
	var lr *LogRange
	var err *ParseError
	if p.peek().kind == tLParen {
		lr, err = p.parseLogRange()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return lr, nil
	}
	sel, unwrap, err := p.parseSelectorUnwrap()
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tRange {
		// ({…}[5m] …): a whole range inside the parentheses.
		lr, err = p.finishRange(sel, unwrap, len(sel.Pipeline) == 0 && unwrap == nil)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return lr, nil
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	if p.peek().kind != tRange {
		return nil, p.unexpected(p.peek(), "RANGE")
	}
	rng := p.next()
	lr = &LogRange{Selector: sel, Range: rng.dur, Unwrap: unwrap}
	if err := p.parseOffset(lr); err != nil {
		return nil, err
	}
	return lr, nil
}

// parseLogRangeBare parses an unparenthesized range; nil means the range
// was missing.
func (p *parser) parseLogRangeBare() (*LogRange, *ParseError) {
	if p.peek().kind != tLBrace {
		return nil, p.unexpected(p.peek())
	}
	sel, unwrap, err := p.parseSelectorUnwrap()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tRange {
		return nil, nil
	}
	return p.finishRange(sel, unwrap, len(sel.Pipeline) == 0 && unwrap == nil)
}

// parseSelectorUnwrap parses a selector, its pipeline and an optional unwrap.
func (p *parser) parseSelectorUnwrap() (*LogSelectorExpr, *Unwrap, *ParseError) {
	sel, err := p.parseLogSelector(true)
	if err != nil {
		return nil, nil, err
	}
	var u *Unwrap
	if p.peek().kind == tPipe && p.peekN(1).kind == tUnwrap {
		if u, err = p.parseUnwrap(); err != nil {
			return nil, nil, err
		}
	}
	return sel, u, nil
}

// finishRange consumes [range] and offset; when tail is set, a pipeline
// and unwrap may follow the range too ({…}[5m] | json | unwrap x).
func (p *parser) finishRange(sel *LogSelectorExpr, u *Unwrap, tail bool) (*LogRange, *ParseError) {
	rng := p.next()
	lr := &LogRange{Selector: sel, Range: rng.dur, Unwrap: u}
	if err := p.parseOffset(lr); err != nil {
		return nil, err
	}
	if !tail {
		return lr, nil
	}
	stages, err := p.parsePipeline(true)
	if err != nil {
		return nil, err
	}
	sel.Pipeline = stages
	if p.peek().kind == tPipe && p.peekN(1).kind == tUnwrap {
		if lr.Unwrap, err = p.parseUnwrap(); err != nil {
			return nil, err
		}
	}
	return lr, nil
}

func (p *parser) parseOffset(lr *LogRange) *ParseError {
	if p.peek().kind != tOffset {
		return nil
	}
	p.next()
	d, err := p.expect(tDuration)
	if err != nil {
		return err
	}
	lr.Offset = d.dur
	return nil
}

// parseUnwrap parses | unwrap [conv(]label[)] and the label filters after it.
func (p *parser) parseUnwrap() (*Unwrap, *ParseError) {
	p.next() // |
	p.next() // unwrap
	u := &Unwrap{}
	t := p.next()
	switch {
	case t.kind == tIdent:
		u.Label = t.text
	case t.kind == tFunc && (t.text == ConvBytes || t.text == ConvDuration || t.text == ConvDurationSeconds):
		u.Conv = t.text
		if _, err := p.expect(tLParen); err != nil {
			return nil, err
		}
		id, err := p.expect(tIdent)
		if err != nil {
			return nil, err
		}
		u.Label = id.text
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
	default:
		return nil, p.unexpected(t, "IDENTIFIER")
	}
	for p.peek().kind == tPipe {
		p.next()
		f, err := p.parseLabelFilter()
		if err != nil {
			return nil, err
		}
		u.PostFilters = append(u.PostFilters, f)
	}
	return u, nil
}

func (p *parser) parseVectorAggregation() (Expr, *ParseError) {
	opTok := p.next()
	e := &VectorAggregationExpr{Op: opTok.text}
	var err *ParseError
	if k := p.peek().kind; k == tBy || k == tWithout {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	var paramTok *token
	if p.peek().kind == tNumber && p.peekN(1).kind == tComma {
		t := p.next()
		paramTok = &t
		p.next()
	}
	body, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	s, ok := body.(SampleExpr)
	if !ok {
		return nil, p.unexpected(p.peek())
	}
	e.Expr = s
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	if k := p.peek().kind; e.Grouping == nil && (k == tBy || k == tWithout) {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	switch e.Op {
	case OpAggTopK, OpAggBottomK:
		if paramTok == nil {
			return nil, p.errAt(opTok.pos, "parameter required for operation %s", e.Op)
		}
		n, perr := strconv.Atoi(paramTok.text)
		if perr != nil {
			return nil, p.errAt(paramTok.pos, "invalid parameter %s(%s,", e.Op, paramTok.text)
		}
		if n <= 0 {
			return nil, p.errAt(paramTok.pos, "invalid parameter (must be greater than 0) %s(%s", e.Op, paramTok.text)
		}
		e.Param = n
	default:
		if paramTok != nil {
			return nil, p.errAt(paramTok.pos, "unsupported parameter for operation %s(%s,", e.Op, paramTok.text)
		}
	}
	if (e.Op == OpAggSort || e.Op == OpAggSortDesc) && e.Grouping != nil && len(e.Grouping.Labels) > 0 {
		return nil, p.errAt(opTok.pos, "sort and sort_desc doesn't allow grouping by ")
	}
	return e, nil
}

func (p *parser) parseLabelReplace() (Expr, *ParseError) {
	p.next()
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	body, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	s, ok := body.(SampleExpr)
	if !ok {
		return nil, p.unexpected(p.peek())
	}
	var args [4]token
	for i := range args {
		if _, err := p.expect(tComma); err != nil {
			return nil, err
		}
		if args[i], err = p.expect(tString); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	if _, rerr := regexp.Compile("^(?:" + args[3].str + ")$"); rerr != nil {
		return nil, p.errAt(args[3].pos, "invalid regex in label_replace: %s", rerr.Error())
	}
	return &LabelReplaceExpr{Expr: s, Dst: args[0].str, Replacement: args[1].str, Src: args[2].str, Regex: args[3].str}, nil
}
