package log

import (
	"regexp/syntax"
	"strings"
)

// Loki does not run a label filter's regular expression as the anchored
// Prometheus matcher it appears to be: it first tries to turn it into
// literal tests with the simplifier of its line filters, and only runs the
// (anchored) regexp when that fails. The simplified forms are:
//
//	foo, foo|bar          equal (anchored, as the regexp)
//	.*                    always true
//	.+                    not empty
//	foo.*, .*foo, .*foo.* contains "foo"   (not anchored: "a.*" matches "carol")
//	foo(bar|baz)          contains "foobar" or "foobaz"
//
// (?i) makes the tests case-insensitive. kmlog applies the same rules so
// that label filters keep the lines Loki keeps.

// simplifyLabelRegexp returns Loki's literal test for re, or false when
// Loki would run the regexp.
func simplifyLabelRegexp(re string) (func(string) bool, bool) {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil, false
	}
	return simplifyLabelNode(r.Simplify())
}

func foldCase(r *syntax.Regexp) bool { return r.Flags&syntax.FoldCase != 0 }

func labelEqualTest(lit string, fold bool) func(string) bool {
	if fold {
		return func(v string) bool { return strings.EqualFold(v, lit) }
	}
	return func(v string) bool { return v == lit }
}

func labelContainsTest(lit string, fold bool) func(string) bool {
	if fold {
		l := strings.ToLower(lit)
		return func(v string) bool { return strings.Contains(strings.ToLower(v), l) }
	}
	return func(v string) bool { return strings.Contains(v, lit) }
}

func labelOrTest(a, b func(string) bool) func(string) bool {
	if a == nil {
		return b
	}
	return func(v string) bool { return a(v) || b(v) }
}

func simplifyLabelNode(r *syntax.Regexp) (func(string) bool, bool) {
	switch r.Op {
	case syntax.OpAlternate:
		var f func(string) bool
		for _, s := range r.Sub {
			g, ok := simplifyLabelNode(s)
			if !ok {
				return nil, false
			}
			f = labelOrTest(f, g)
		}
		return f, true
	case syntax.OpConcat:
		return simplifyLabelConcat(r)
	case syntax.OpCapture:
		return simplifyLabelNode(r.Sub[0])
	case syntax.OpLiteral:
		return labelEqualTest(string(r.Rune), foldCase(r)), true
	case syntax.OpStar:
		if isAnyStar(r) {
			return func(string) bool { return true }, true
		}
	case syntax.OpPlus:
		if len(r.Sub) == 1 && r.Sub[0].Op == syntax.OpAnyCharNotNL {
			return func(v string) bool { return v != "" }, true
		}
	case syntax.OpEmptyMatch:
		return func(string) bool { return true }, true
	}
	return nil, false
}

// simplifyConcat handles a literal with .* around it, or a literal
// followed by alternatives: at most three parts, one literal.
func simplifyLabelConcat(r *syntax.Regexp) (func(string) bool, bool) {
	var subs []*syntax.Regexp
	for _, s := range r.Sub {
		if s.Op == syntax.OpCapture && len(s.Sub) == 1 {
			s = s.Sub[0]
		}
		if s.Op != syntax.OpEmptyMatch {
			subs = append(subs, s)
		}
	}
	if len(subs) > 3 {
		return nil, false
	}
	var lit string
	var fold, haveLit bool
	var alt func(string) bool
	for _, s := range subs {
		switch {
		case s.Op == syntax.OpLiteral:
			if haveLit {
				return nil, false
			}
			lit, fold, haveLit = string(s.Rune), foldCase(s), true
		case s.Op == syntax.OpAlternate && haveLit:
			for _, a := range s.Sub {
				if a.Op == syntax.OpCapture && len(a.Sub) == 1 {
					a = a.Sub[0]
				}
				if !fold && foldCase(a) {
					return nil, false
				}
				switch a.Op {
				case syntax.OpEmptyMatch:
					alt = labelOrTest(alt, labelContainsTest(lit, fold))
				case syntax.OpLiteral:
					alt = labelOrTest(alt, labelContainsTest(lit+string(a.Rune), fold))
				default:
					return nil, false
				}
			}
		case isAnyStar(s):
		default:
			return nil, false
		}
	}
	if alt != nil {
		return alt, true
	}
	if haveLit {
		return labelContainsTest(lit, fold), true
	}
	return nil, false
}
