package log

import (
	"errors"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

func TestLineFormat(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).UnixNano()
	cases := []struct {
		name, tmpl, line, want string
		wantErr                bool
	}{
		{name: "fields", tmpl: `{{.level}} {{.msg}}`, want: "error boom"},
		{name: "simple key", tmpl: `{{.msg}}`, want: "boom"},
		{name: "simple key missing", tmpl: `{{.nope}}`, want: ""},
		{name: "missing is empty", tmpl: `[{{.nope}}]`, want: "[]"},
		{name: "stream label", tmpl: `{{.app}}`, want: "web"},
		{name: "ToUpper", tmpl: `{{.msg | ToUpper}}`, want: "BOOM"},
		{name: "upper lower", tmpl: `{{upper .msg}}{{lower "AB"}}`, want: "BOOMab"},
		{name: "line", tmpl: `> {{__line__}}`, want: `> {"level":"error","msg":"boom","n":"42","path":"/a/b","d":"1m30s","s":"2KiB","e":"1715000000"}`},
		{name: "timestamp", tmpl: `{{__timestamp__ | date "2006-01-02T15:04:05"}}`, want: "2024-05-06T07:08:09"},
		{name: "unixEpoch", tmpl: `{{__timestamp__ | unixEpoch}}`, want: "1714979289"},
		{name: "unixEpochMillis", tmpl: `{{__timestamp__ | unixEpochMillis}}`, want: "1714979289000"},
		{name: "toDate", tmpl: `{{ toDate "2006-01-02" "2021-03-04" | unixEpoch }}`, want: "1614816000"},
		{name: "unixToTime", tmpl: `{{ unixToTime .e | date "2006" }}`, want: "2024"},
		{name: "default", tmpl: `{{ .nope | default "dflt" }}/{{ .msg | default "x" }}`, want: "dflt/boom"},
		{name: "trim family", tmpl: `{{trim "  a "}}|{{trimAll "-" "--a--"}}|{{trimPrefix "/a" .path}}|{{trimSuffix "/b" .path}}|{{TrimSpace " x "}}`, want: "a|a|/b|/a|x"},
		{name: "replace", tmpl: `{{replace "/" "_" .path}}|{{Replace .path "/" "." 1}}`, want: "_a_b|.a/b"},
		{name: "regexReplaceAll", tmpl: `{{regexReplaceAll "(\\w)/(\\w)" .path "${2}-${1}"}}`, want: "/b-a"},
		{name: "regexReplaceAllLiteral", tmpl: `{{regexReplaceAllLiteral "a" .path "$1"}}`, want: "/$1/b"},
		{name: "contains", tmpl: `{{if contains "oo" .msg}}yes{{end}}{{if hasPrefix "bo" .msg}}P{{end}}{{if hasSuffix "x" .msg}}S{{end}}`, want: "yesP"},
		{name: "printf", tmpl: `{{printf "%05s|%d" .n 7}}`, want: "00042|7"},
		{name: "indent", tmpl: `{{indent 2 "a\nb"}}`, want: "  a\n  b"},
		{name: "nindent", tmpl: `{{nindent 1 "a"}}`, want: "\n a"},
		{name: "repeat", tmpl: `{{repeat 3 "ab"}}`, want: "ababab"},
		{name: "substr", tmpl: `{{substr 1 3 "héllo"}}|{{substr -1 2 "abc"}}|{{substr 1 -1 "abc"}}`, want: "él|ab|bc"},
		{name: "trunc", tmpl: `{{trunc 3 "héllo"}}|{{trunc -2 "hello"}}`, want: "hé|lo"}, // bytes, as Loki
		{name: "title", tmpl: `{{title "hello big world"}}`, want: "Hello Big World"},
		{name: "math", tmpl: `{{add 1 2 .n}} {{sub 5 2}} {{mul 2 3}} {{div 7 2}} {{mod 7 2}} {{max 1 9 3}} {{min 4 2}}`, want: "45 3 6 3 1 9 2"},
		{name: "float math", tmpl: `{{addf 1.5 2}} {{mulf 1.5 2}} {{divf 1 4}} {{ceil 1.2}} {{floor 1.8}} {{round 1.2345 2}}`, want: "3.5 3 0.25 2 1 1.23"},
		{name: "int float64", tmpl: `{{int "12"}} {{float64 "1.5"}} {{int .msg}}`, want: "12 1.5 0"},
		{name: "bytes duration", tmpl: `{{bytes .s}} {{duration .d}}`, want: "2048 90"},
		{name: "b64", tmpl: `{{b64enc "hi"}} {{b64dec "aGk="}}`, want: "aGk= hi"},
		{name: "url", tmpl: `{{urlencode "a b&c"}} {{urldecode "a%20b"}}`, want: "a+b%26c a b"},
		{name: "count", tmpl: `{{count "a" "banana"}}`, want: "3"},
		{name: "align", tmpl: `[{{alignLeft 4 "ab"}}][{{alignRight 4 "ab"}}][{{alignLeft 1 "ab"}}]`, want: "[ab  ][  ab][a]"},
		{name: "fromJson", tmpl: `{{ (fromJson "{\"a\":{\"b\":1}}").a.b }}`, want: "1"},
		{name: "toDateInZone", tmpl: `{{ toDateInZone "2006-01-02 15:04" "UTC" "2020-01-02 03:04" | unixEpoch }}`, want: "1577934240"},
		{name: "runtime error keeps line", tmpl: `{{div 1 0}}`, wantErr: true},
		{name: "repeat too large", tmpl: `{{repeat 100000000 "ab"}}`, wantErr: true},
	}
	line := `{"level":"error","msg":"boom","n":"42","path":"/a/b","d":"1m30s","s":"2KiB","e":"1715000000"}`
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lf, err := NewLineFormatter(c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			stream := labels.FromStrings("app", "web")
			out, res, ok := NewPipeline(NewJSONParser(), lf).Process(ts, []byte(line), stream, nil)
			if !ok {
				t.Fatal("dropped")
			}
			gotErr := res.Labels().Get(ErrorLabel)
			if c.wantErr {
				if gotErr != TemplateFormatErr || string(out) != line {
					t.Errorf("got line %q error %q; want the line kept with TemplateFormatErr", out, gotErr)
				}
				return
			}
			if gotErr != "" {
				t.Fatalf("error %s: %s", gotErr, res.Labels().Get(ErrorDetailsLabel))
			}
			if string(out) != c.want {
				t.Errorf("got %q want %q", out, c.want)
			}
		})
	}
	if _, err := NewLineFormatter(`{{.a`); !errors.Is(err, ErrInvalidTemplate) {
		t.Errorf("bad template: got %v", err)
	}
	if _, err := NewLineFormatter(`{{nofunc .a}}`); err == nil {
		t.Error("unknown function accepted")
	}
}

func TestLabelFormat(t *testing.T) {
	cases := []struct {
		name string
		fmts []LabelFmt
		want string
	}{
		{"template", []LabelFmt{{Name: "x", Value: "{{.level}}-{{.app}}"}}, `{app="web", level="error", msg="boom", x="error-web"}`},
		{"rename", []LabelFmt{{Name: "severity", Value: "level", Rename: true}}, `{app="web", msg="boom", severity="error"}`},
		{"rename stream label", []LabelFmt{{Name: "application", Value: "app", Rename: true}}, `{application="web", level="error", msg="boom"}`},
		{"rename missing is noop", []LabelFmt{{Name: "x", Value: "nope", Rename: true}}, `{app="web", level="error", msg="boom"}`},
		{"overwrite", []LabelFmt{{Name: "level", Value: "{{.level | ToUpper}}"}}, `{app="web", level="ERROR", msg="boom"}`},
		{"empty value kept", []LabelFmt{{Name: "x", Value: "{{.nope}}"}}, `{app="web", level="error", msg="boom", x=""}`},
		{"snapshot at first template", []LabelFmt{
			{Name: "a", Value: "{{.msg}}"}, {Name: "b", Value: "[{{.a}}]"},
		}, `{a="boom", app="web", b="[]", level="error", msg="boom"}`},
		{"rename before template seen", []LabelFmt{
			{Name: "m", Value: "msg", Rename: true}, {Name: "b", Value: "[{{.m}}]"},
		}, `{app="web", b="[boom]", level="error", m="boom"}`},
		{"line function", []LabelFmt{{Name: "len", Value: "{{ __line__ | len }}"}}, `{app="web", len="30", level="error", msg="boom"}`},
		{"runtime error", []LabelFmt{{Name: "x", Value: "{{div 1 0}}"}},
			`{__error__="TemplateFormatErr", __error_details__="template: label:1:2: executing \"label\" at <div 1 0>: error calling div: integer divide by zero", app="web", level="error", msg="boom"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := runLine(t, `{app="web"}`, `{"level":"error","msg":"boom"}`, NewJSONParser(), must(NewLabelsFormatter(c.fmts)))
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	for _, bad := range [][]LabelFmt{
		{{Name: "a", Value: "b", Rename: true}, {Name: "a", Value: "{{.c}}"}},
		{{Name: ErrorLabel, Value: "x"}},
		{{Name: "1a", Value: "x"}},
		{{Name: "a", Value: "{{"}},
	} {
		if _, err := NewLabelsFormatter(bad); err == nil {
			t.Errorf("%v: want error", bad)
		}
	}
}

func TestDropKeep(t *testing.T) {
	m := func(mt labels.MatchType, n, v string) *labels.Matcher { return labels.MustNewMatcher(mt, n, v) }
	line := `{"level":"error","msg":"boom","n":"1"}`
	cases := []struct {
		name  string
		stage Stage
		line  string
		want  string
	}{
		{"drop names", NewDropLabels([]LabelMatch{{Name: "msg"}, {Name: "app"}}), line, `{level="error", n="1"}`},
		{"drop matcher hit", NewDropLabels([]LabelMatch{{Matcher: m(labels.MatchEqual, "level", "error")}}), line, `{app="web", msg="boom", n="1"}`},
		{"drop matcher miss", NewDropLabels([]LabelMatch{{Matcher: m(labels.MatchEqual, "level", "info")}}), line, `{app="web", level="error", msg="boom", n="1"}`},
		{"drop regexp matcher", NewDropLabels([]LabelMatch{{Matcher: m(labels.MatchRegexp, "msg", "b.*")}}), line, `{app="web", level="error", n="1"}`},
		{"drop missing", NewDropLabels([]LabelMatch{{Name: "nope"}}), line, `{app="web", level="error", msg="boom", n="1"}`},
		{"drop error", NewDropLabels([]LabelMatch{{Name: ErrorLabel}, {Name: ErrorDetailsLabel}}), `bad`, `{app="web"}`},
		{"drop error matcher", NewDropLabels([]LabelMatch{{Matcher: m(labels.MatchEqual, ErrorLabel, JSONParserErr)}}), `bad`,
			`{__error_details__="Value looks like object, but can't find closing '}' symbol", app="web"}`},
		{"keep names", NewKeepLabels([]LabelMatch{{Name: "level"}}), line, `{level="error"}`},
		{"keep stream", NewKeepLabels([]LabelMatch{{Name: "app"}, {Name: "n"}}), line, `{app="web", n="1"}`},
		{"keep matcher", NewKeepLabels([]LabelMatch{{Matcher: m(labels.MatchEqual, "level", "error")}, {Matcher: m(labels.MatchEqual, "msg", "x")}}), line, `{level="error"}`},
		{"keep keeps error", NewKeepLabels([]LabelMatch{{Name: "app"}}), `bad`,
			`{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="web"}`},
		{"keep nothing listed", NewKeepLabels(nil), line, `{app="web", level="error", msg="boom", n="1"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, _ := runLine(t, `{app="web"}`, c.line, NewJSONParser(), c.stage)
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
