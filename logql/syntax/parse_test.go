package syntax

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/labels"
)

// cmpOpts compares matchers by what they mean, not by their compiled regex.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b *labels.Matcher) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Type == b.Type && a.Name == b.Name && a.Value == b.Value
	}),
}

func TestParse(t *testing.T) {
	forValid(func(in, want string) {
		t.Helper()
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			return
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String()\n got: %s\nwant: %s", in, got, want)
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Errorf("Parse(String(%q)) = %q: %v", in, e.String(), err)
			return
		}
		if d := cmp.Diff(e, again, cmpOpts); d != "" {
			t.Errorf("round trip of %q changed the tree (-first +second):\n%s", in, d)
		}
		if again.String() != want {
			t.Errorf("canonical form of %q is not a fixed point: %q", in, again.String())
		}
	})
}

func TestParseErrors(t *testing.T) {
	forInvalid(func(in, want string) {
		t.Helper()
		e, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %s, want error %q", in, e, want)
			return
		}
		if err.Error() != want {
			t.Errorf("Parse(%q) error\n got: %s\nwant: %s", in, err, want)
		}
		if !errors.Is(err, ErrParse) {
			t.Errorf("Parse(%q) error %v does not wrap ErrParse", in, err)
		}
		pe, ok := errors.AsType[*ParseError](err)
		if !ok {
			t.Errorf("Parse(%q) error is %T, want *ParseError", in, err)
			return
		}
		if pe.Pos.Line > 0 && !strings.HasPrefix(pe.Msg, "input size") {
			// The offset and the line/column agree.
			line := 1 + strings.Count(in[:pe.Pos.Offset], "\n")
			lineStart := strings.LastIndexByte(in[:pe.Pos.Offset], '\n') + 1
			col := 1 + len([]rune(in[lineStart:pe.Pos.Offset]))
			if line != pe.Pos.Line || col != pe.Pos.Col {
				t.Errorf("Parse(%q): position %+v, but offset gives line %d col %d", in, pe.Pos, line, col)
			}
		}
	})
}

func TestCorpusSize(t *testing.T) {
	n := 0
	forValid(func(string, string) { n++ })
	forInvalid(func(string, string) { n++ })
	if n < 200 {
		t.Fatalf("only %d cases", n)
	}
}

func TestParseTree(t *testing.T) {
	f := func(in string, want Expr) {
		t.Helper()
		got, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if d := cmp.Diff(want, got, cmpOpts); d != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", in, d)
		}
	}
	eq := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, n, v) }
	sel := &LogSelectorExpr{Matchers: []*labels.Matcher{eq("app", "api")}}
	f(`{app="api"} |= "a" or ip("10.0.0.1") != "b"`, &LogSelectorExpr{
		Matchers: []*labels.Matcher{eq("app", "api")},
		Pipeline: []Stage{
			&LineFilter{Op: LineContains, Values: []LineFilterValue{{Value: "a"}, {Value: "10.0.0.1", IP: true}}},
			&LineFilter{Op: LineNotContains, Values: []LineFilterValue{{Value: "b"}}},
		},
	})
	f(`{app="api"} | a="1" or b > 2 and c < 3s, d >= 1KB`, &LogSelectorExpr{
		Matchers: []*labels.Matcher{eq("app", "api")},
		Pipeline: []Stage{&LabelFilterStage{Filter: &BinaryLabelFilter{
			Left: &StringLabelFilter{Matcher: eq("a", "1")},
			Right: &BinaryLabelFilter{And: true,
				Left: &BinaryLabelFilter{And: true,
					Left:  &NumberLabelFilter{Name: "b", Op: CmpGT, Value: 2},
					Right: &DurationLabelFilter{Name: "c", Op: CmpLT, Value: 3 * time.Second},
				},
				Right: &BytesLabelFilter{Name: "d", Op: CmpGTE, Value: 1000},
			},
		}}},
	})
	q := 0.9
	f(`quantile_over_time(0.9, {app="api"} | unwrap duration(lat) | __error__="" [5m] offset 1m) by (x)`,
		&RangeAggregationExpr{
			Op: OpRangeQuantile, Param: &q,
			Range: &LogRange{
				Selector: sel, Range: 5 * time.Minute, Offset: time.Minute,
				Unwrap: &Unwrap{Label: "lat", Conv: ConvDuration, PostFilters: []LabelFilter{
					&StringLabelFilter{Matcher: eq("__error__", "")},
				}},
			},
			Grouping: &Grouping{Labels: []string{"x"}},
		})
	rate := &RangeAggregationExpr{Op: OpRangeRate, Range: &LogRange{Selector: sel, Range: time.Minute}}
	f(`topk(3, sum by (a) (rate({app="api"}[1m]))) / on (a) group_left (b) - 2 ^ 3 ^ 2`, &BinOpExpr{
		Op:       OpDiv,
		LHS:      &VectorAggregationExpr{Op: OpAggTopK, Param: 3, Expr: &VectorAggregationExpr{Op: OpAggSum, Grouping: &Grouping{Labels: []string{"a"}}, Expr: rate}},
		Matching: &VectorMatching{On: true, Labels: []string{"a"}, Card: CardManyToOne, Include: []string{"b"}},
		RHS: &BinOpExpr{Op: OpPow, LHS: &LiteralExpr{Value: -2},
			RHS: &BinOpExpr{Op: OpPow, LHS: &LiteralExpr{Value: 3}, RHS: &LiteralExpr{Value: 2}}},
	})
	f(`vector(0) - 2 * 3 > bool 4 or vector(1) and vector(2) unless vector(3)`, &BinOpExpr{
		Op: OpOr,
		LHS: &BinOpExpr{Op: OpGT, ReturnBool: true,
			LHS: &BinOpExpr{Op: OpSub, LHS: &VectorExpr{Value: 0},
				RHS: &BinOpExpr{Op: OpMul, LHS: &LiteralExpr{Value: 2}, RHS: &LiteralExpr{Value: 3}}},
			RHS: &LiteralExpr{Value: 4}},
		RHS: &BinOpExpr{Op: OpUnless,
			LHS: &BinOpExpr{Op: OpAnd, LHS: &VectorExpr{Value: 1}, RHS: &VectorExpr{Value: 2}},
			RHS: &VectorExpr{Value: 3}},
	})
	f(`{app="api"} | json a="b.c", d | logfmt --strict e | label_format x=y, z="{{.w}}" | drop p, q="r"`, &LogSelectorExpr{
		Matchers: []*labels.Matcher{eq("app", "api")},
		Pipeline: []Stage{
			&JSONParser{Exprs: []ExtractExpr{{Label: "a", Path: "b.c"}, {Label: "d", Path: "d"}}},
			&LogfmtParser{Strict: true, Exprs: []ExtractExpr{{Label: "e", Path: "e"}}},
			&LabelFormat{Items: []LabelFormatItem{{Dst: "x", Value: "y", Rename: true}, {Dst: "z", Value: "{{.w}}"}}},
			&Drop{Items: []NamedMatcher{{Name: "p"}, {Matcher: eq("q", "r")}}},
		},
	})
}

func TestNestingLimit(t *testing.T) {
	deep := strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("Parse(300 parens) = %v, want nesting error", err)
	}
	ok := strings.Repeat("(", 50) + "1" + strings.Repeat(")", 50)
	if _, err := Parse(ok); err != nil {
		t.Fatalf("Parse(50 parens): %v", err)
	}
	deepFilter := `{a="b"} | ` + strings.Repeat("(", 300) + `x="1"` + strings.Repeat(")", 300)
	if _, err := Parse(deepFilter); err == nil {
		t.Fatal("deep label filter accepted")
	}
	long := `{a="b"} |= "` + strings.Repeat("x", maxInputSize) + `"`
	if _, err := Parse(long); err == nil || !strings.Contains(err.Error(), "input size too long") {
		t.Fatalf("Parse(huge) = %v", err)
	}
}

func TestHelpers(t *testing.T) {
	e, err := Parse(`sum(rate({a="b"} |= "x" [1m])) / sum(rate({c="d", e=~"f.*"}[1m]))`)
	if err != nil {
		t.Fatal(err)
	}
	if !IsMetricQuery(e) || IsLogQuery(e) {
		t.Error("metric query misclassified")
	}
	var got []string
	for _, ms := range Matchers(e) {
		var s []string
		for _, m := range ms {
			s = append(s, m.String())
		}
		got = append(got, strings.Join(s, ","))
	}
	if d := cmp.Diff([]string{`a="b"`, `c="d",e=~"f.*"`}, got); d != "" {
		t.Errorf("Matchers (-want +got):\n%s", d)
	}
	kinds := map[string]int{}
	Walk(e, func(n Node) bool {
		switch n.(type) {
		case *LineFilter:
			kinds["linefilter"]++
		case *RangeAggregationExpr:
			kinds["range"]++
		case *LogSelectorExpr:
			kinds["selector"]++
		}
		return true
	})
	if d := cmp.Diff(map[string]int{"linefilter": 1, "range": 2, "selector": 2}, kinds); d != "" {
		t.Errorf("Walk (-want +got):\n%s", d)
	}
	n := 0
	Walk(e, func(Node) bool { n++; return false })
	if n != 1 {
		t.Errorf("Walk visited %d nodes after false, want 1", n)
	}
	l, _ := Parse(`{a="b"}`)
	if !IsLogQuery(l) || IsMetricQuery(l) {
		t.Error("log query misclassified")
	}
}

func TestLineFilterLiterals(t *testing.T) {
	f := func(q string, want ...string) {
		t.Helper()
		s, err := ParseLogSelector(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if d := cmp.Diff(want, LineFilterLiterals(s)); d != "" {
			t.Errorf("LineFilterLiterals(%q) (-want +got):\n%s", q, d)
		}
	}
	f(`{a="b"}`)
	f(`{a="b"} |= "x"`, "x")
	f(`{a="b"} |= "x" |= "Y" != "z" |~ "r" |= ""`, "x", "Y")
	f(`{a="b"} |= "x" or "y" |= "z"`, "z")
	f(`{a="b"} |= ip("10.0.0.1") |= "z"`, "z")
	f(`{a="b"} | x="1" | drop y |= "z"`, "z")
	f(`{a="b"} |= "x" | json |= "y"`, "x")
	f(`{a="b"} |= "x" | line_format "{{.a}}" |= "y"`, "x")
	f(`{a="b"} | unpack |= "y"`)
	f(`{a="b"} | decolorize |= "y"`)
}

func TestCanonicalString(t *testing.T) {
	a, _ := Parse(`sum by () (rate({b="2", a="1", a="1"}[5m]))`)
	b, _ := Parse("SUM(rate( { a = \"1\" , b = `2` } [5m] ) ) # cache me")
	if CanonicalString(a) != CanonicalString(b) {
		t.Errorf("CanonicalString differs:\n%s\n%s", CanonicalString(a), CanonicalString(b))
	}
	if want := `sum(rate({a="1", b="2"}[5m]))`; CanonicalString(a) != want {
		t.Errorf("CanonicalString = %s, want %s", CanonicalString(a), want)
	}
	// String keeps the written order: it is what round-trips.
	if got := a.String(); got != `sum by () (rate({b="2", a="1", a="1"}[5m]))` {
		t.Errorf("String = %s", got)
	}
}

func TestParseJSONPath(t *testing.T) {
	f := func(in string, want ...JSONPathElem) {
		t.Helper()
		got, err := ParseJSONPath(in)
		if err != nil {
			t.Fatalf("ParseJSONPath(%q): %v", in, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ParseJSONPath(%q) (-want +got):\n%s", in, d)
		}
	}
	f("a", JSONPathElem{Field: "a"})
	f("a.b[0]", JSONPathElem{Field: "a"}, JSONPathElem{Field: "b"}, JSONPathElem{Index: 0, IsIndex: true})
	f(`a["k.x"]`, JSONPathElem{Field: "a"}, JSONPathElem{Field: "k.x"})
	f(`[2].x`, JSONPathElem{Index: 2, IsIndex: true}, JSONPathElem{Field: "x"})
	f(`a-b.c_d`, JSONPathElem{Field: "a-b"}, JSONPathElem{Field: "c_d"})
	for _, bad := range []string{"", ".a", "a.", "a..b", "a[", "a[x]", `a["x]`, "a[1", "a b"} {
		if _, err := ParseJSONPath(bad); err == nil {
			t.Errorf("ParseJSONPath(%q) accepted", bad)
		}
	}
}

func TestFormatDurationAndBytes(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 90 * time.Second, 25 * time.Hour, 8 * 24 * time.Hour,
		400 * 24 * time.Hour, -time.Hour, 1500 * time.Microsecond, time.Nanosecond} {
		s := formatDuration(d)
		got, err := parseDuration(s)
		if err != nil || got != d {
			t.Errorf("formatDuration(%v) = %q, parses back as %v, %v", d, s, got, err)
		}
	}
	for _, b := range []uint64{0, 1, 999, 1000, 1024, 1500, 1 << 20, 20e6, 3 << 30, 5e15} {
		s := formatBytes(b)
		got, err := parseBytes(s)
		if err != nil || got != b {
			t.Errorf("formatBytes(%d) = %q, parses back as %d, %v", b, s, got, err)
		}
	}
}

func TestTemplateFuncNames(t *testing.T) {
	names := TemplateFuncNames()
	for _, want := range []string{"ToUpper", "ToLower", "default", "trim", "replace", "regexReplaceAll", "printf", "__line__", "__timestamp__"} {
		if want == "printf" { // a text/template builtin
			continue
		}
		if !slices.Contains(names, want) {
			t.Errorf("TemplateFuncNames lacks %s", want)
		}
	}
	if err := CheckTemplate(`{{ printf "%d" 1 | ToUpper }}{{ __line__ }}`); err != nil {
		t.Error(err)
	}
}

func FuzzParse(f *testing.F) {
	forValid(func(in, _ string) { f.Add(in) })
	forInvalid(func(in, _ string) { f.Add(in) })
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrParse", in, err)
			}
			return
		}
		s := e.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", in, s, err)
		}
		if d := cmp.Diff(e, again, cmpOpts); d != "" {
			t.Fatalf("Parse(%q) printed %q, which parses differently (-first +second):\n%s", in, s, d)
		}
		_ = CanonicalString(e)
	})
}
