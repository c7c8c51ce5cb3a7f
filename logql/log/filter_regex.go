package log

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
)

// newRegexpFilter compiles `|~ re`. Like Loki it first tries to replace
// the expression by literal searches: `foo`, `.*foo.*`, `foo|bar`,
// `(?i)foo`, `f(oo|aa)`. Otherwise it runs the regexp, behind a cheap
// check for the literals every match must contain.
func newRegexpFilter(re string) (Filterer, error) {
	compiled, err := regexp.Compile(re)
	if err != nil {
		return nil, fmt.Errorf("compile line filter regexp %q: %w", re, err)
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("compile line filter regexp %q: %w", re, err)
	}
	parsed = parsed.Simplify()
	if f, ok := simplify(parsed); ok {
		return f, nil
	}
	rf := &regexpFilter{re: compiled}
	if chain, ok := literalChain(parsed); ok {
		rf.chain = chain
		rf.exact = true
	} else {
		rf.chain = requiredLiterals(parsed)
	}
	return rf, nil
}

// regexpFilter runs a regexp. chain lists literals that every match
// holds in this order; when exact is set the regexp is nothing but the
// chain joined by `.*`, so finding the chain without a newline between its
// parts decides the match.
type regexpFilter struct {
	re    *regexp.Regexp
	chain [][]byte
	exact bool
}

func (f *regexpFilter) Filter(line []byte) bool {
	if len(f.chain) == 0 {
		return f.re.Match(line)
	}
	pos, newline := 0, false
	for i, lit := range f.chain {
		j := bytes.Index(line[pos:], lit)
		if j < 0 {
			return false
		}
		if i > 0 && f.exact && bytes.IndexByte(line[pos:pos+j], '\n') >= 0 {
			newline = true
		}
		pos += j + len(lit)
	}
	if f.exact && !newline {
		return true
	}
	return f.re.Match(line)
}

func isFold(re *syntax.Regexp) bool { return re.Flags&syntax.FoldCase != 0 }

func isAnyStar(re *syntax.Regexp) bool {
	return re.Op == syntax.OpStar && re.Sub[0].Op == syntax.OpAnyCharNotNL
}

func literalBytes(re *syntax.Regexp) []byte { return []byte(string(re.Rune)) }

// simplify replaces a regexp by literal filters where Loki does.
func simplify(re *syntax.Regexp) (Filterer, bool) {
	switch re.Op {
	case syntax.OpAlternate:
		fs := make([]Filterer, 0, len(re.Sub))
		for _, sub := range re.Sub {
			f, ok := simplify(sub)
			if !ok {
				return nil, false
			}
			fs = append(fs, f)
		}
		return NewOrFilter(fs...), true
	case syntax.OpConcat:
		return simplifyConcat(re, nil)
	case syntax.OpCapture:
		return simplify(re.Sub[0])
	case syntax.OpLiteral:
		return NewContainsFilter(literalBytes(re), isFold(re)), true
	case syntax.OpStar:
		if re.Sub[0].Op == syntax.OpAnyCharNotNL {
			return TrueFilter, true
		}
	case syntax.OpPlus:
		if re.Sub[0].Op == syntax.OpAnyCharNotNL {
			return existsFilter{}, true
		}
	case syntax.OpEmptyMatch:
		return TrueFilter, true
	}
	return nil, false
}

// simplifyConcat handles `.*lit.*` (at most three parts, one literal) and
// a literal followed by alternatives, `lit(a|b)`, under the prefix base.
func simplifyConcat(re *syntax.Regexp, base []byte) (Filterer, bool) {
	subs := make([]*syntax.Regexp, 0, len(re.Sub))
	for _, s := range re.Sub {
		if s.Op == syntax.OpCapture {
			s = s.Sub[0]
		}
		if s.Op != syntax.OpEmptyMatch {
			subs = append(subs, s)
		}
	}
	if len(subs) > 3 {
		return nil, false
	}
	var (
		cur      Filterer
		literals int
		fold     bool
	)
	lit := bytes.Clone(base)
	for _, s := range subs {
		switch {
		case s.Op == syntax.OpLiteral:
			if literals != 0 {
				return nil, false
			}
			literals++
			lit = append(lit, literalBytes(s)...)
			fold = isFold(s)
		case s.Op == syntax.OpAlternate && lit != nil:
			f, ok := simplifyConcatAlternate(s, lit, fold)
			if !ok {
				return nil, false
			}
			if cur == nil {
				cur = f
			} else {
				cur = NewOrFilter(cur, f)
			}
		case isAnyStar(s):
		default:
			return nil, false
		}
	}
	if cur != nil {
		return cur, true
	}
	if lit != nil {
		return NewContainsFilter(lit, fold), true
	}
	return nil, false
}

func simplifyConcatAlternate(re *syntax.Regexp, lit []byte, fold bool) (Filterer, bool) {
	fs := make([]Filterer, 0, len(re.Sub))
	for _, alt := range re.Sub {
		if !fold && isFold(alt) {
			return nil, false
		}
		switch {
		case alt.Op == syntax.OpEmptyMatch || isAnyStar(alt):
			fs = append(fs, NewContainsFilter(lit, fold))
		case alt.Op == syntax.OpLiteral:
			fs = append(fs, NewContainsFilter(append(bytes.Clone(lit), literalBytes(alt)...), fold))
		case alt.Op == syntax.OpConcat:
			f, ok := simplifyConcat(alt, lit)
			if !ok {
				return nil, false
			}
			fs = append(fs, f)
		default:
			return nil, false
		}
	}
	if len(fs) == 0 {
		return nil, false
	}
	return NewOrFilter(fs...), true
}

// literalChain recognises `lit(.*lit)+` with optional leading and trailing
// `.*`, all literals case-sensitive.
func literalChain(re *syntax.Regexp) ([][]byte, bool) {
	if re.Op != syntax.OpConcat {
		return nil, false
	}
	var chain [][]byte
	for _, s := range re.Sub {
		switch {
		case s.Op == syntax.OpLiteral && !isFold(s):
			chain = append(chain, literalBytes(s))
		case isAnyStar(s):
		default:
			return nil, false
		}
	}
	return chain, len(chain) > 1
}

// requiredLiterals returns the case-sensitive literals of a top-level
// concatenation, in order: every match contains them.
func requiredLiterals(re *syntax.Regexp) [][]byte {
	if re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	switch re.Op {
	case syntax.OpLiteral:
		if !isFold(re) {
			return [][]byte{literalBytes(re)}
		}
	case syntax.OpConcat:
		var out [][]byte
		for _, s := range re.Sub {
			if s.Op == syntax.OpCapture {
				s = s.Sub[0]
			}
			if s.Op == syntax.OpLiteral && !isFold(s) {
				out = append(out, literalBytes(s))
			}
			if s.Op == syntax.OpPlus && s.Sub[0].Op == syntax.OpLiteral && !isFold(s.Sub[0]) {
				out = append(out, literalBytes(s.Sub[0]))
			}
		}
		return out
	}
	return nil
}

// mustFoldRegexp matches a non-ASCII literal ignoring case.
func mustFoldRegexp(lit []byte) Filterer {
	return &regexpFilter{re: regexp.MustCompile("(?i)" + regexp.QuoteMeta(string(lit)))}
}
