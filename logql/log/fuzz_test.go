package log

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kubemate/kmlog/format/labels"
)

// labelBytes is the total size of a label set, to bound what a parser
// may produce from a line.
func labelBytes(ls labels.Labels) int {
	n := 0
	for _, l := range ls {
		n += len(l.Name) + len(l.Value)
	}
	return n
}

func FuzzJSONParser(f *testing.F) {
	for _, s := range []string{
		`{"a":"b","c":{"d":1,"e":[1,2]},"f":null,"g":true}`,
		`{"a\u0062":"\ud83d\ude00","1x":"\"q\""}`,
		`{"a":`, `[1]`, `{}`, ``, `{"a":{"b":{"c":{}}}}`, `{"a":tru}`, "{\"a\":\"\xff\"}",
		`{"a":"x","a":"y"}`, `{" ":{" ":"v"}}`,
	} {
		f.Add(s)
	}
	p := NewJSONParser()
	u := NewUnpackParser()
	x := must(NewJSONExpressionParser([]LabelExtraction{{"a", "a"}, {"b", "c.d[0]"}, {"c", `["c"].e`}}))
	stream := labels.FromStrings("a", "s")
	f.Fuzz(func(t *testing.T, line string) {
		_, res, ok := NewPipeline(p).Process(0, []byte(line), stream, nil)
		if !ok {
			t.Fatal("json parser dropped a line")
		}
		errKind := res.Labels().Get(ErrorLabel)
		var obj map[string]any
		if json.Valid([]byte(line)) && json.Unmarshal([]byte(line), &obj) == nil && obj != nil && errKind != "" {
			t.Fatalf("valid object %q gave %s: %s", line, errKind, res.Labels().Get(ErrorDetailsLabel))
		}
		// Unescaping never grows a value beyond its text plus the
		// replacement of invalid bytes (3 bytes each); names are bounded
		// by the key path.
		if n := labelBytes(res.Labels()); n > 4*len(line)+200 {
			t.Fatalf("labels of %d bytes from a %d-byte line", n, len(line))
		}
		for _, l := range res.Labels() {
			if !utf8.ValidString(l.Value) || !validLabelName(l.Name) {
				t.Fatalf("bad label %q=%q", l.Name, l.Value)
			}
		}
		NewPipeline(u).Process(0, []byte(line), stream, nil)
		NewPipeline(x).Process(0, []byte(line), stream, nil)
	})
}

func FuzzLogfmtParser(f *testing.F) {
	for _, s := range []string{
		`a=1 b="two words" c`, `a="\u00e9\n" =x b==`, `a="unterminated`, "a=\xff k\xfe=1", `a="x"y`, ``, `"`, `a=\`,
	} {
		f.Add(s)
	}
	parsers := []Stage{
		NewLogfmtParser(false, false), NewLogfmtParser(true, true),
		must(NewLogfmtExpressionParser([]LabelExtraction{{"x", "a"}}, true)),
	}
	stream := labels.FromStrings("a", "s")
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range parsers {
			_, res, ok := NewPipeline(p).Process(0, []byte(line), stream, nil)
			if !ok {
				t.Fatal("logfmt parser dropped a line")
			}
			if n := labelBytes(res.Labels()); n > 4*len(line)+200 {
				t.Fatalf("labels of %d bytes from a %d-byte line", n, len(line))
			}
			for _, l := range res.Labels() {
				if !utf8.ValidString(l.Value) || !validLabelName(l.Name) {
					t.Fatalf("bad label %q=%q", l.Name, l.Value)
				}
			}
		}
	})
}

// Encoding pairs as logfmt and parsing them back gives the pairs.
func FuzzLogfmtRoundTrip(f *testing.F) {
	f.Add("level", "info", "msg", "hello \"world\"\n")
	f.Add("a", "", "b", "=")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if !validLabelName(k1) || !validLabelName(k2) || k1 == k2 || !utf8.ValidString(v1) || !utf8.ValidString(v2) ||
			strings.ContainsRune(v1+v2, utf8.RuneError) {
			t.Skip()
		}
		q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
		line := k1 + "=" + q(v1) + " " + k2 + "=" + q(v2)
		_, res, _ := NewPipeline(NewLogfmtParser(true, true)).Process(0, []byte(line), nil, nil)
		want := labels.FromStrings(k1, v1, k2, v2)
		if !labels.Equal(res.Labels(), want) {
			t.Fatalf("%q: got %s want %s", line, res.Labels(), want)
		}
	})
}

func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{`<ip> - - <_> "<method> <uri> <_>" <status> <size>`, `1.2.3.4 - - [x] "GET / HTTP/1.1" 200 5`},
		{`<_> error <_>`, `an error here`}, {`[<a>]`, `[1]`}, {`<a><b>`, `x`}, {`<`, `<`}, {`<_`, ``}, {`a<b>c<d>`, `abcd`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		if len(pattern) > 1024 {
			t.Skip()
		}
		e, err := compilePattern(pattern, false)
		if err != nil {
			return
		}
		caps := e.matches([]byte(line), nil)
		total := 0
		for _, c := range caps {
			total += len(c)
		}
		if len(caps) > len(e.names) || total > len(line) {
			t.Fatalf("%d captures of %d bytes for %d names, %d-byte line", len(caps), total, len(e.names), len(line))
		}
		if e.test([]byte(line)) && len(caps) != len(e.names) {
			t.Fatalf("line matches %q but only %d of %d captures set", pattern, len(caps), len(e.names))
		}
		if p, err := NewPatternParser(pattern); err == nil {
			NewPipeline(p).Process(0, []byte(line), nil, nil)
		}
	})
}

// The compiled |~ filter agrees with the regexp engine on single ASCII
// lines (where `.` and case folding have no corner cases).
func FuzzRegexpFilter(f *testing.F) {
	for _, s := range [][2]string{
		{"err.*timeout", "err: timeout"}, {"(?i)foo|bar", "FOO"}, {"f(oo|aa)", "xfaa"}, {".*a.*", "b"}, {"(?i)f(oo|aa)", "FAA"},
		{"a.*b.*c", "abc"}, {`\d+ms`, "12ms"}, {"", ""}, {".+", ""}, {"(a|)", "b"}, {"b(ar|uzz)?", "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, re, line string) {
		if len(re) > 256 || strings.ContainsRune(line, '\n') {
			t.Skip()
		}
		for i := 0; i < len(line); i++ {
			if line[i] >= utf8.RuneSelf {
				t.Skip()
			}
		}
		rx, err := regexp.Compile(re)
		if err != nil {
			if _, err := NewFilter(re, LineMatchRegexp); err == nil {
				t.Fatalf("%q compiled here but not in regexp", re)
			}
			return
		}
		flt, err := NewFilter(re, LineMatchRegexp)
		if err != nil {
			t.Fatalf("%q: %v", re, err)
		}
		if got, want := flt.Filter([]byte(line)), rx.MatchString(line); got != want {
			t.Fatalf("%q on %q: got %v want %v", re, line, got, want)
		}
	})
}

func FuzzIPFilter(f *testing.F) {
	f.Add("10.0.0.0/8", "from 10.1.2.3:80 and ::1")
	f.Add("::1-::ff", "a ::5 b fe80::1%eth0 c")
	f.Add("1.2.3.4", "1.2.3.4.5.6 1.2.3.")
	f.Fuzz(func(t *testing.T, pattern, line string) {
		flt, err := NewIPFilter(pattern, LineMatchEqual)
		if err != nil {
			return
		}
		flt.Filter([]byte(line))
	})
}
