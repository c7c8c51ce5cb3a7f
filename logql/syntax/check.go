package syntax

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/kubemate/kmlog/format/labels"
)

// templateFuncNames are the functions that Loki's line_format and
// label_format templates may call. The engine must provide all of them.
var templateFuncNames = []string{
	"__line__", "__timestamp__",
	"ToLower", "ToUpper", "Replace", "Trim", "TrimLeft", "TrimRight", "TrimPrefix", "TrimSuffix", "TrimSpace",
	"regexReplaceAll", "regexReplaceAllLiteral", "count", "urldecode", "urlencode",
	"bytes", "duration", "duration_seconds", "unixEpochMillis", "unixEpochNanos", "toDateInZone",
	"unixToTime", "alignLeft", "alignRight",
	"b64enc", "b64dec", "lower", "upper", "title", "trunc", "substr", "contains", "hasPrefix", "hasSuffix",
	"indent", "nindent", "replace", "repeat", "trim", "trimAll", "trimSuffix", "trimPrefix",
	"int", "float64", "add", "sub", "mul", "div", "mod", "addf", "subf", "mulf", "divf",
	"max", "min", "maxf", "minf", "ceil", "floor", "round", "fromJson", "date", "toDate", "now",
	"unixEpoch", "default",
}

// TemplateFuncNames returns the names of the template functions that
// line_format and label_format accept, in a new slice.
func TemplateFuncNames() []string { return slices.Clone(templateFuncNames) }

// CheckTemplate parses a line_format or label_format template with stubs of
// the template functions, as Loki does when it builds the stage.
func CheckTemplate(text string) error {
	funcs := make(template.FuncMap, len(templateFuncNames))
	stub := func(...any) any { return nil }
	for _, n := range templateFuncNames {
		funcs[n] = stub
	}
	_, err := template.New("line").Option("missingkey=zero").Funcs(funcs).Parse(text)
	return err
}

func checkRegexpParser(re string) error {
	r, err := regexp.Compile(re)
	if err != nil {
		return err
	}
	named := false
	for _, n := range r.SubexpNames()[1:] {
		if n == "" {
			continue
		}
		if !labels.ValidName(n) {
			return fmt.Errorf("invalid extracted label name '%s'", n)
		}
		named = true
	}
	if !named {
		return errors.New("at least one named capture must be supplied")
	}
	return nil
}

// patternNode is a capture (<name>, <_>) or a run of literal text.
type patternNode struct {
	capture bool
	text    string
}

// parsePattern splits a Loki pattern into captures and literals.
func parsePattern(s string) []patternNode {
	var out []patternNode
	lit := func(t string) {
		if n := len(out); n > 0 && !out[n-1].capture {
			out[n-1].text += t
			return
		}
		out = append(out, patternNode{text: t})
	}
	for i := 0; i < len(s); {
		if s[i] == '<' {
			j := i + 1
			for j < len(s) && (s[j] == '_' || isAlpha(s[j]) || (j > i+1 && isDecimal(s[j]))) {
				j++
			}
			if j > i+1 && j < len(s) && s[j] == '>' {
				out = append(out, patternNode{capture: true, text: s[i+1 : j]})
				i = j + 1
				continue
			}
		}
		lit(s[i : i+1])
		i++
	}
	return out
}

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func checkConsecutiveCaptures(ns []patternNode) error {
	for i := 1; i < len(ns); i++ {
		if ns[i].capture && ns[i-1].capture {
			return errors.New("found consecutive capture: invalid expression")
		}
	}
	return nil
}

func checkLineFilterPattern(s string) error {
	return checkConsecutiveCaptures(parsePattern(s))
}

func checkPatternParser(s string) error {
	ns := parsePattern(s)
	seen := map[string]bool{}
	for _, n := range ns {
		if n.capture && n.text != "_" {
			if seen[n.text] {
				return fmt.Errorf("duplicate capture name (%s): invalid expression", n.text)
			}
			seen[n.text] = true
		}
	}
	if len(seen) == 0 {
		return errors.New("at least one capture is required")
	}
	return checkConsecutiveCaptures(ns)
}

// checkIPPattern accepts an address, a CIDR prefix or a range "a-b" of
// addresses of one family.
func checkIPPattern(s string) error {
	s = strings.TrimSpace(s)
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		from, err1 := netip.ParseAddr(strings.TrimSpace(a))
		to, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 == nil && err2 == nil && from.Is4() == to.Is4() && from.Compare(to) <= 0 {
			return nil
		}
	}
	return fmt.Errorf("ip: invalid pattern %q", s)
}

// JSONPathElem is one step of a JSON path: an object Field or an array Index.
type JSONPathElem struct {
	Field   string
	Index   int
	IsIndex bool
}

// ParseJSONPath parses the expression of a json extraction such as
// `a.b[0]`, `a["key with.dots"]` or `[2].x`.
func ParseJSONPath(s string) ([]JSONPathElem, error) {
	var out []JSONPathElem
	i := 0
	field := func() (string, bool) {
		j := i
		for j < len(s) && !strings.ContainsRune(".[]\" \t\n", rune(s[j])) {
			j++
		}
		if j == i {
			return "", false
		}
		f := s[i:j]
		i = j
		return f, true
	}
	bad := func() ([]JSONPathElem, error) {
		return nil, fmt.Errorf("invalid json expression %q at offset %d", s, i)
	}
	if s == "" {
		return bad()
	}
	for i < len(s) {
		switch {
		case s[i] == '[':
			i++
			if i < len(s) && s[i] == '"' {
				j := i + 1
				for j < len(s) && s[j] != '"' {
					if s[j] == '\\' {
						j++
					}
					j++
				}
				if j >= len(s) {
					return bad()
				}
				key, err := strconv.Unquote(s[i : j+1])
				if err != nil {
					return bad()
				}
				out = append(out, JSONPathElem{Field: key})
				i = j + 1
			} else {
				j := i
				for j < len(s) && isDecimal(s[j]) {
					j++
				}
				n, err := strconv.Atoi(s[i:j])
				if err != nil {
					return bad()
				}
				out = append(out, JSONPathElem{Index: n, IsIndex: true})
				i = j
			}
			if i >= len(s) || s[i] != ']' {
				return bad()
			}
			i++
		case s[i] == '.' && len(out) > 0:
			i++
			f, ok := field()
			if !ok {
				return bad()
			}
			out = append(out, JSONPathElem{Field: f})
		case len(out) == 0:
			f, ok := field()
			if !ok {
				return bad()
			}
			out = append(out, JSONPathElem{Field: f})
		default:
			return bad()
		}
	}
	return out, nil
}
