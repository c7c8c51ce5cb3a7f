package pipeline

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSON(t *testing.T) {
	const line = `{"level":"error","n":42,"f":1.5,"big":11010519491231002,"ok":true,"nil":null,` +
		`"obj":{"b":2,"a":"x"},"list":[1,"two",{"k":"v"}],"dotted.key":"d","nested":{"deep":{"v":"w"}}}`
	cfg := func(exprs string) string { return "- json:\n    expressions:\n" + exprs }
	runCases(t, []stageCase{
		{name: "string", config: cfg("      level:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"level": "error"}},
		{name: "number is float64", config: cfg("      n:\n      f:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"n": 42.0, "f": 1.5}},
		{name: "big integer loses precision as in Promtail", config: cfg("      big:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"big": 11010519491231002.0}},
		{name: "boolean", config: cfg("      ok:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"ok": true}},
		{name: "null is present as nil", config: cfg("      nil:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"nil": nil}},
		{name: "missing key is nil", config: cfg("      absent:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"absent": nil}},
		{name: "object becomes sorted JSON text", config: cfg("      obj:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"obj": `{"a":"x","b":2}`}},
		{name: "list becomes JSON text", config: cfg("      list:\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"list": `[1,"two",{"k":"v"}]`}},
		{name: "renamed", config: cfg("      severity: level\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"severity": "error"}, notExtracted: []string{"level"}},
		{name: "nested path", config: cfg("      v: nested.deep.v\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"v": "w"}},
		{name: "quoted identifier with a dot", config: cfg("      d: '\"dotted.key\"'\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"d": "d"}},
		{name: "index and negative index", config: cfg("      first: list[0]\n      last: list[-1].k\n"), in: []Entry{ent(line)}, want: []view{out("{}", t0, line)},
			extracted: map[string]any{"first": 1.0, "last": "v"}},
		{name: "projection", config: cfg("      ks: 'items[*].k'\n"), in: []Entry{ent(`{"items":[{"k":"a"},{"x":1},{"k":"b"}]}`)},
			want: []view{out("{}", t0, `{"items":[{"k":"a"},{"x":1},{"k":"b"}]}`)}, extracted: map[string]any{"ks": `["a","b"]`}},
		{name: "malformed line passes unchanged", config: cfg("      level:\n"), in: []Entry{ent(`{"level":`)},
			want: []view{out("{}", t0, `{"level":`)}, notExtracted: []string{"level"}},
		{name: "top-level array is malformed", config: cfg("      level:\n"), in: []Entry{ent(`[1]`)},
			want: []view{out("{}", t0, `[1]`)}, notExtracted: []string{"level"}},
		{name: "trailing garbage is malformed", config: cfg("      level:\n"), in: []Entry{ent(`{"level":"x"} y`)},
			want: []view{out("{}", t0, `{"level":"x"} y`)}, notExtracted: []string{"level"}},
		{name: "drop_malformed drops", config: cfg("      level:\n") + "    drop_malformed: true\n", in: []Entry{ent(`nope`), ent(`{"level":"x"}`)},
			want: []view{out("{}", t0, `{"level":"x"}`)}},
		{name: "source reads an extracted value", config: cfg("      user: name\n") + "    source: payload\n" +
			"- regex: {expression: '^(?P<payload>.*)$'}\n", in: []Entry{ent(`{"name":"bob"}`)},
			want: []view{out("{}", t0, `{"name":"bob"}`)}, notExtracted: []string{"user"}},
		{name: "source after regex", config: "- regex: {expression: 'msg=(?P<payload>\\{.*\\})'}\n" + cfg("      user: name\n") + "    source: payload\n",
			in: []Entry{ent(`msg={"name":"bob"}`)}, want: []view{out("{}", t0, `msg={"name":"bob"}`)}, extracted: map[string]any{"user": "bob"}},
		{name: "missing source does nothing", config: cfg("      user: name\n") + "    source: nothere\n",
			in: []Entry{ent(`{"name":"bob"}`)}, want: []view{out("{}", t0, `{"name":"bob"}`)}, notExtracted: []string{"user"}},
		{name: "null line is an empty object", config: cfg("      a:\n"), in: []Entry{ent(`null`)},
			want: []view{out("{}", t0, `null`)}, extracted: map[string]any{"a": nil}},
		{name: "json then labels skips nil", config: cfg("      level:\n      nil:\n") + "- labels: {level: , nil: }\n", in: []Entry{ent(line, "app", "a")},
			want: []view{out(`{app="a", level="error"}`, t0, line)}},
		{name: "unicode escapes", config: cfg("      m:\n"), in: []Entry{ent(`{"m":"caf\u00e9 \ud83d\ude00"}`)},
			want: []view{out("{}", t0, `{"m":"caf\u00e9 \ud83d\ude00"}`)}, extracted: map[string]any{"m": "café 😀"}},
	})
}

func TestJMESPath(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b":[{"c":1,"d":[1,2]},{"c":2,"d":[3]},{"x":0}]},"m":{"y":2,"x":1},"s":"str","q.r":"dot"}`), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"a.b[0].c", 1.0},
		{"a.b[-1].x", 0.0},
		{"a.b[5]", nil},
		{"a.b[*].c", []any{1.0, 2.0}},
		{"a.b[*].d", []any{[]any{1.0, 2.0}, []any{3.0}}},
		{"a.b[*].d[]", []any{1.0, 2.0, 3.0}},
		{"a.b[*].d[0]", []any{1.0, 3.0}},
		{"a.b[].c", []any{1.0, 2.0}},
		{"length(m.*)", 2.0}, // .* projects an object's values in map order: only its length is fixed
		{"length(a.b)", 3.0},
		{"a.b[?c==`2`].d[0]", []any{3.0}},
		{"join(',', [s, \"q.r\"])", "str,dot"},
		{"a.b[0:2].c", []any{1.0, 2.0}},
		{"a.b[0].c | to_string(@)", "1"},
		{"{x: s, y: a.b[0].c}", map[string]any{"x": "str", "y": 1.0}},
		{"max(a.b[*].c)", 2.0},
		{"`\"lit\"`", "lit"},
		{"'raw'", "raw"},
		{"s.x", nil},
		{"s[0]", nil},
		{"s[*]", nil},
		{`"q.r"`, "dot"},
		{"@.s", "str"},
		{"missing.deep.path", nil},
		{" a . b [ 0 ] . c ", 1.0},
	} {
		jp, err := compileJMESPath(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got, ok := jp.search(doc); !ok || !cmp.Equal(got, tc.want) {
			t.Errorf("%s = %#v (ok %v), want %#v", tc.expr, got, ok, tc.want)
		}
	}
	if _, ok := mustJMES(t, "abs(s)").search(doc); ok {
		t.Error("abs of a string: want an evaluation error")
	}
	for _, bad := range []string{"", "a.", "a[", `"unterminated`, "a..b", "a[x]", "1abc", "a b"} {
		if _, err := compileJMESPath(bad); !errors.Is(err, ErrJMESPath) {
			t.Errorf("%q: err = %v, want ErrJMESPath", bad, err)
		}
	}
}

func mustJMES(t *testing.T, src string) *jmesPath {
	t.Helper()
	jp, err := compileJMESPath(src)
	if err != nil {
		t.Fatal(err)
	}
	return jp
}
