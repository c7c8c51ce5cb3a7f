package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
)

// fuzzLines runs arbitrary lines through a pipeline: no panic, and every
// output line is bounded by what went in.
func fuzzLines(f *testing.F, config string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		p, _, _ := testPipeline(t, config)
		got := processAll(p, ent(a, "app", "x"), ent(b, "app", "x"), ent(a, "app", "y"))
		got = p.FlushAll(t.Context(), got)
		limit := 3*(len(a)+len(b)) + 1024
		for _, e := range got {
			if len(e.Line) > limit {
				t.Fatalf("output line of %d bytes from %d input bytes", len(e.Line), len(a)+len(b))
			}
		}
	})
}

func FuzzCRI(f *testing.F) {
	fuzzLines(f, "- cri: {max_partial_lines: 2}\n",
		"2026-11-25T10:00:00.000000001Z stdout F hello",
		"2026-11-25T10:00:00Z stderr P part",
		"x stdout P ", " stdout F x", "2026 stdout\tF x", "\xff stderr F \xff")
}

func FuzzDocker(f *testing.F) {
	fuzzLines(f, "- docker: {}\n",
		`{"log":"hi\n","stream":"stdout","time":"2026-11-25T10:00:00Z"}`, `{"log":1}`, `{`, `null`, `[]`)
}

func FuzzJSONStage(f *testing.F) {
	fuzzLines(f, "- json: {expressions: {a: , b: 'b.c[0]', d: 'd[*].e', f: 'f.*', g: '\"g.h\"'}}\n- labels: {a: , b: }\n- output: {source: d}\n",
		`{"a":1,"b":{"c":[true]},"d":[{"e":"x"}],"f":{"z":1},"g.h":null}`, `{"a":"\ud800"}`, `{"a":1e999}`, `{}`, `{"a":`)
}

func FuzzLogfmtStage(f *testing.F) {
	fuzzLines(f, "- logfmt: {mapping: {a: , b: , msg: }}\n",
		`a=1 b="two words" msg="esc \"q\" \n"`, `a= =b`, `"a"=1`, `a="\u00e9"`, `a="unterminated`)
}

func FuzzRegexReplaceStages(f *testing.F) {
	fuzzLines(f, "- regex: {expression: '^(?P<ts>\\S+) (?P<level>\\w+)?(?P<rest>.*)$'}\n- replace: {expression: '(\\d+)|(?P<word>[a-z]+)', replace: '<{{ .Value }}>'}\n- template: {source: level, template: '{{ ToUpper .Value }}'}\n",
		"2026 info 123 abc", "", "x", "a1b2c3")
}

func FuzzJMESPath(f *testing.F) {
	for _, s := range []string{"a.b[0].c", "a[*].b[]", `"x.y".z`, "m.*", "@", "a[-1]", "a[?b]", "f(x)", "[0]", "*.a"} {
		f.Add(s, `{"a":[{"b":[1,{"c":2}]}],"m":{"x":1},"x.y":{"z":3}}`)
	}
	f.Fuzz(func(t *testing.T, expr, doc string) {
		jp, err := compileJMESPath(expr)
		if err != nil {
			if !strings.Contains(err.Error(), "JMESPath") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		r, _ := jp.search(v)
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}
