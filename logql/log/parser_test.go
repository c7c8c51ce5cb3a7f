package log

import (
	"testing"
)

type parserCase struct {
	name   string
	stream string
	line   string
	want   string // output labels
	line2  string // expected output line when it changes
}

func runParserCases(t *testing.T, mk func() Stage, cases []parserCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := c.stream
			if stream == "" {
				stream = "{}"
			}
			out, got, ok := runLine(t, stream, c.line, mk())
			if !ok {
				t.Fatalf("line dropped")
			}
			if got != c.want {
				t.Errorf("labels\n got %s\nwant %s", got, c.want)
			}
			want2 := c.line2
			if want2 == "" {
				want2 = c.line
			}
			if out != want2 {
				t.Errorf("line\n got %q\nwant %q", out, want2)
			}
		})
	}
}

func TestJSONParser(t *testing.T) {
	runParserCases(t, func() Stage { return NewJSONParser() }, []parserCase{
		{name: "flat", line: `{"level":"error","msg":"boom"}`, want: `{level="error", msg="boom"}`},
		{name: "nested", line: `{"app":"foo","pod":{"uuid":"u1","deployment":{"ref":"r"}}}`,
			want: `{app="foo", pod_deployment_ref="r", pod_uuid="u1"}`},
		{name: "numbers keep text", line: `{"counter":1, "price": {"_net_":5.56909}, "e":-1.5e3}`,
			want: `{counter="1", e="-1.5e3", price__net_="5.56909"}`},
		{name: "booleans", line: `{"a":true,"b":false}`, want: `{a="true", b="false"}`},
		{name: "null skipped", line: `{"a":null,"b":"x"}`, want: `{b="x"}`},
		{name: "arrays skipped", line: `{"a":[1,2,{"c":3}],"b":"x"}`, want: `{b="x"}`},
		{name: "empty object", line: `{}`, want: `{}`},
		{name: "empty string value kept", line: `{"a":""}`, want: `{a=""}`},
		{name: "escaped value", line: `{"msg":"say \"hi\"\n\u00e9"}`, want: `{msg="say \"hi\"\né"}`},
		{name: "surrogate pair", line: `{"e":"\ud83d\ude00"}`, want: `{e="😀"}`},
		{name: "bad escape gives empty", line: `{"a":"x\qy"}`, want: `{a=""}`},
		{name: "invalid utf8 becomes space", line: "{\"a\":\"x\xffy\"}", want: `{a="x y"}`},
		{name: "replacement rune becomes space", line: `{"a":"x�y"}`, want: `{a="x y"}`},
		{name: "sanitised names", line: `{"a.b":"1","c-d":"2","e f":"3","é":"4"}`,
			want: `{_="4", a_b="1", c_d="2", e_f="3"}`},
		{name: "leading digit", line: `{"1a":"x","n":{"2b":"y"}}`, want: `{_1a="x", n_2b="y"}`},
		{name: "digit prefix object", line: `{"1":{"b":"x"}}`, want: `{_1_b="x"}`},
		{name: "trimmed key", line: `{" a ":"x"}`, want: `{a="x"}`},
		{name: "whitespace object key", line: `{" ": {"foo":"bar"}}`, want: `{foo="bar"}`},
		{name: "empty name skipped", line: `{"":"x"," ":{" ":"y"}}`, want: `{}`},
		{name: "escaped key", line: `{"a\u0062":"x"}`, want: `{ab="x"}`},
		{name: "stream collision", stream: `{app="s"}`, line: `{"app":"foo","x":"y"}`,
			want: `{app="s", app_extracted="foo", x="y"}`},
		{name: "nested collision", stream: `{a_b="s"}`, line: `{"a":{"b":"v"}}`, want: `{a_b="s", a_b_extracted="v"}`},
		{name: "duplicate key first wins", line: `{"a":"1","a":"2"}`, want: `{a="1"}`}, // as Loki
		{name: "whitespace", line: " { \"a\" : \"1\" ,\n\"b\":2 } ", want: `{a="1", b="2"}`},
		{name: "trailing garbage ignored", line: `{"a":"1"} trailing`, want: `{a="1"}`},
		{name: "not json", line: `level=info`,
			want: `{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"}`},
		{name: "empty line", line: ``,
			want: `{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"}`},
		{name: "truncated keeps read labels", line: `{"a":"1","b":`,
			want: `{__error__="JSONParserErr", __error_details__="Malformed JSON error", a="1"}`},
		{name: "unterminated string", line: `{"a":"1`,
			want: `{__error__="JSONParserErr", __error_details__="Value is string, but can't find closing '\"' symbol"}`},
		{name: "bad literal", line: `{"a":tru}`,
			want: `{__error__="JSONParserErr", __error_details__="Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol"}`},
		{name: "array top level", line: `[1,2]`,
			want: `{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"}`},
		{name: "stream labels kept", stream: `{job="x"}`, line: `{"a":"1"}`, want: `{a="1", job="x"}`},
	})
}

func TestJSONExpressionParser(t *testing.T) {
	line := `{"app":"foo","servers":["a","b"],"req":{"headers":{"User-Agent":"curl"},"n":3},"nil":null,"esc":"a\"b","obj":{"x":1}}`
	cases := []struct {
		name  string
		exprs []LabelExtraction
		line  string
		want  string
	}{
		{"field", []LabelExtraction{{"app", "app"}}, line, `{app="foo"}`},
		{"index", []LabelExtraction{{"s", "servers[1]"}}, line, `{s="b"}`},
		{"nested", []LabelExtraction{{"n", "req.n"}}, line, `{n="3"}`},
		{"quoted field", []LabelExtraction{{"ua", `req.headers["User-Agent"]`}}, line, `{ua="curl"}`},
		{"null", []LabelExtraction{{"v", "nil"}}, line, `{v=""}`},
		{"missing", []LabelExtraction{{"v", "nope.x"}}, line, `{v=""}`},
		{"index out of range", []LabelExtraction{{"v", "servers[9]"}}, line, `{v=""}`},
		{"object text", []LabelExtraction{{"v", "obj"}}, line, `{v="{\"x\":1}"}`},
		{"array text", []LabelExtraction{{"v", "servers"}}, line, `{v="[\"a\",\"b\"]"}`},
		{"unescaped", []LabelExtraction{{"v", "esc"}}, line, `{v="a\"b"}`},
		{"several", []LabelExtraction{{"a", "app"}, {"b", "servers[0]"}}, line, `{a="foo", b="a"}`},
		{"top array", []LabelExtraction{{"v", "[1].k"}}, `[{"k":1},{"k":2}]`, `{v="2"}`},
		{"not json", []LabelExtraction{{"v", "a"}}, `a=b`, `{__error__="JSONParserErr"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := runLine(t, "{}", c.line, must(NewJSONExpressionParser(c.exprs)))
			if got != c.want {
				t.Errorf("got %s want %s", got, c.want)
			}
		})
	}
	t.Run("collision", func(t *testing.T) {
		_, got, _ := runLine(t, `{app="s"}`, line, must(NewJSONExpressionParser([]LabelExtraction{{"app", "app"}})))
		if want := `{app="s", app_extracted="foo"}`; got != want {
			t.Errorf("got %s want %s", got, want)
		}
	})
	for _, bad := range []string{"", "a..b", "a[", "a[x]", `a["x`, ".a", "a.", "a b"} {
		if _, err := NewJSONExpressionParser([]LabelExtraction{{"v", bad}}); err == nil {
			t.Errorf("path %q: want error", bad)
		}
	}
	if _, err := NewJSONExpressionParser([]LabelExtraction{{"1v", "a"}}); err == nil {
		t.Error("invalid label name accepted")
	}
}

func TestLogfmtParser(t *testing.T) {
	type lc struct {
		name              string
		strict, keepEmpty bool
		stream, line      string
		want              string
	}
	cases := []lc{
		{name: "simple", line: `level=info msg="hello world" n=3`, want: `{level="info", msg="hello world", n="3"}`},
		{name: "escapes", line: `msg="a \"q\" \\ \u00e9\n"`, want: `{msg="a \"q\" \\ é\n"}`},
		{name: "bare key dropped", line: `a b=1`, want: `{b="1"}`},
		{name: "bare key kept", keepEmpty: true, line: `a b=1`, want: `{a="", b="1"}`},
		{name: "empty value dropped", line: `a= b=""`, want: `{}`},
		{name: "empty value kept", keepEmpty: true, line: `a= b=""`, want: `{a="", b=""}`},
		{name: "sanitised key", line: `a.b=1 c-d=2 1x=3`, want: `{_1x="3", a_b="1", c_d="2"}`},
		{name: "collision", stream: `{level="s"}`, line: `level=info`, want: `{level="s", level_extracted="info"}`},
		{name: "first wins", line: `a=1 a=2`, want: `{a="1"}`}, // as Loki
		{name: "tabs and spaces", line: "\ta=1  \t b=2\t", want: `{a="1", b="2"}`},
		{name: "text after quoted value is a bare key", line: `a=1 b="x"y c=3`, want: `{a="1", b="x", c="3"}`},
		{name: "lenient unexpected equals", line: `a=1=2 b=2`, want: `{b="2"}`},
		{name: "lenient leading equals", line: `=x b=2`, want: `{b="2"}`},
		{name: "lenient unterminated", line: `a=1 b="oops`, want: `{a="1"}`},
		{name: "strict stops", strict: true, line: `a=1 b=x=y c=3`,
			want: `{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 8 : unexpected '='", a="1"}`},
		{name: "strict unterminated", strict: true, line: `a=1 b="oops`,
			want: `{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 12 : unterminated quoted value", a="1"}`},
		{name: "strict quote in key", strict: true, line: `a"b=1`,
			want: `{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 2 : unexpected '\"'"}`},
		{name: "strict bad escape", strict: true, line: `a="\x"`,
			want: `{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 7 : invalid quoted value"}`},
		{name: "strict ok", strict: true, line: `a=1 b="2"`, want: `{a="1", b="2"}`},
		{name: "invalid utf8 value", line: "a=x\xffy", want: `{a="x y"}`},
		{name: "json-looking line", line: `{"a":1}`, want: `{}`},
		{name: "empty line", line: ``, want: `{}`},
		{name: "unicode value", line: `msg=héllo`, want: `{msg="héllo"}`},
		{name: "quoted equals inside", line: `q="a=b c"`, want: `{q="a=b c"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := c.stream
			if stream == "" {
				stream = "{}"
			}
			_, got, _ := runLine(t, stream, c.line, NewLogfmtParser(c.strict, c.keepEmpty))
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestLogfmtExpressionParser(t *testing.T) {
	cases := []struct {
		name   string
		exprs  []LabelExtraction
		stream string
		line   string
		want   string
	}{
		{"rename", []LabelExtraction{{"lvl", "level"}}, "{}", `level=info msg=x`, `{lvl="info"}`},
		{"same name", []LabelExtraction{{"msg", "msg"}}, "{}", `level=info msg=x`, `{msg="x"}`},
		{"missing is empty", []LabelExtraction{{"v", "nope"}}, "{}", `level=info`, `{v=""}`},
		{"empty value kept", []LabelExtraction{{"v", "a"}}, "{}", `a=`, `{v=""}`},
		{"collision", []LabelExtraction{{"level", "level"}}, `{level="s"}`, `level=info`, `{level="s", level_extracted="info"}`},
		{"several", []LabelExtraction{{"a", "x"}, {"b", "y"}}, "{}", `x=1 y=2 z=3`, `{a="1", b="2"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := runLine(t, c.stream, c.line, must(NewLogfmtExpressionParser(c.exprs, false)))
			if got != c.want {
				t.Errorf("got %s want %s", got, c.want)
			}
		})
	}
	if _, err := NewLogfmtExpressionParser(nil, false); err == nil {
		t.Error("no expressions accepted")
	}
	if _, err := NewLogfmtExpressionParser([]LabelExtraction{{"a", "b c"}}, false); err == nil {
		t.Error("bad expression accepted")
	}
}

func TestRegexpParser(t *testing.T) {
	runParserCases(t, func() Stage { return must(NewRegexpParser(`(?P<method>\w+) (?P<path>\S+)(?: (?P<status>\d+))?`)) }, []parserCase{
		{name: "match", line: `GET /a 200`, want: `{method="GET", path="/a", status="200"}`},
		{name: "optional group unmatched is empty", line: `GET /a`, want: `{method="GET", path="/a", status=""}`},
		{name: "no match keeps line", line: `???`, want: `{}`},
		{name: "collision", stream: `{method="x"}`, line: `GET /a 1`, want: `{method="x", method_extracted="GET", path="/a", status="1"}`},
	})
	for _, bad := range []string{`(\w+)`, `(?P<a>x)(?P<a>y)`, `(?P<a>x`, `plain`} {
		if _, err := NewRegexpParser(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestPatternParser(t *testing.T) {
	nginx := `<ip> - - <_> "<method> <uri> <_>" <status> <size>`
	cases := []struct {
		name, pattern, line, want string
	}{
		{"nginx", nginx, `10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`,
			`{ip="10.0.0.1", method="GET", size="2326", status="200", uri="/a.gif"}`},
		{"trailing capture takes rest", `<a> <b>`, `x y z`, `{a="x", b="y z"}`},
		{"leading literal must match", `[<a>]`, `x[1]`, `{}`},
		{"leading literal", `[<a>]`, `[1] rest`, `{a="1"}`},
		{"missing literal takes rest", `<a> | <b>`, `no pipe here`, `{a="no pipe here"}`},
		{"unnamed skipped", `<_> <b>`, `x y`, `{b="y"}`},
		{"empty capture", `<a>,<b>`, `,x`, `{a="", b="x"}`},
		{"empty line", `<a>`, ``, `{}`},
		{"literal with lt", `<a> <= <b>`, `1 <= 2`, `{a="1", b="2"}`},
		{"invalid capture is literal", `<a> <1x> <b>`, `p <1x> q`, `{a="p", b="q"}`},
		{"unicode", `<a>→<b>`, `é→ü`, `{a="é", b="ü"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := runLine(t, "{}", c.line, must(NewPatternParser(c.pattern)))
			if got != c.want {
				t.Errorf("got %s want %s", got, c.want)
			}
		})
	}
	for _, bad := range []string{`<_> foo`, `foo`, `<a><b>`, `x <a><b>`, `<a> <a>`, ``} {
		if _, err := NewPatternParser(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestUnpackParser(t *testing.T) {
	runParserCases(t, func() Stage { return NewUnpackParser() }, []parserCase{
		{name: "packed", line: `{"_entry":"original line","pod":"p1","n":3}`, want: `{pod="p1"}`, line2: "original line"},
		{name: "escaped entry", line: `{"_entry":"a\"b\\nc","x":"y"}`, want: `{x="y"}`, line2: `a"b\nc`},
		{name: "not packed", line: `{"pod":"p1"}`, want: `{}`},
		{name: "collision", stream: `{pod="s"}`, line: `{"_entry":"l","pod":"p1"}`, want: `{pod="s", pod_extracted="p1"}`, line2: "l"},
		{name: "sanitised", line: `{"_entry":"l","a.b":"1"}`, want: `{a_b="1"}`, line2: "l"},
		{name: "not an object", line: `hello`,
			want: `{__error__="JSONParserErr", __error_details__="expecting json object(6), but it is not"}`},
		{name: "malformed", line: `{"_entry":"l",`,
			want: `{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"}`},
		{name: "empty line", line: ``, want: `{}`},
	})
}

func TestDecolorize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x1b[31mred\x1b[0m plain", "red plain"},
		{"\x1b[1;32mbold green\x1b[m", "bold green"},
		{"no colour", "no colour"},
	} {
		out, _, _ := runLine(t, "{}", c.in, NewDecolorizer())
		if out != c.want {
			t.Errorf("%q: got %q want %q", c.in, out, c.want)
		}
	}
}
