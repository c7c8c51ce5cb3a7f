package log

import (
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

func TestLabelFilters(t *testing.T) {
	json := NewJSONParser()
	str := func(mt labels.MatchType, n, v string) Stage {
		return NewStringLabelFilter(labels.MustNewMatcher(mt, n, v))
	}
	cases := []struct {
		name string
		f    Stage
		line string
		keep bool
		want string // labels when kept
	}{
		{"string eq", str(labels.MatchEqual, "level", "error"), `{"level":"error"}`, true, `{app="web", level="error"}`},
		{"string eq miss", str(labels.MatchEqual, "level", "error"), `{"level":"info"}`, false, ""},
		{"string neq", str(labels.MatchNotEqual, "level", "error"), `{"level":"info"}`, true, `{app="web", level="info"}`},
		{"string re anchored", str(labels.MatchRegexp, "level", "err"), `{"level":"error"}`, false, ""},
		{"string re", str(labels.MatchRegexp, "level", "err.*"), `{"level":"error"}`, true, `{app="web", level="error"}`},
		{"string nre", str(labels.MatchNotRegexp, "level", "info|debug"), `{"level":"warn"}`, true, `{app="web", level="warn"}`},
		{"string missing reads empty", str(labels.MatchEqual, "nope", ""), `{"a":"1"}`, true, `{a="1", app="web"}`},
		{"string stream label", str(labels.MatchEqual, "app", "web"), `{}`, true, `{app="web"}`},
		{"error empty drops errors", str(labels.MatchEqual, ErrorLabel, ""), `not json`, false, ""},
		{"error empty keeps good", str(labels.MatchEqual, ErrorLabel, ""), `{"a":"1"}`, true, `{a="1", app="web"}`},
		{"error kind", str(labels.MatchEqual, ErrorLabel, JSONParserErr), `oops`, true,
			`{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="web"}`},
		{"numeric gt", NewNumericLabelFilter(LabelFilterGreaterThan, "n", 1.5), `{"n":2}`, true, `{app="web", n="2"}`},
		{"numeric gt miss", NewNumericLabelFilter(LabelFilterGreaterThan, "n", 1.5), `{"n":1.5}`, false, ""},
		{"numeric ge", NewNumericLabelFilter(LabelFilterGreaterThanOrEqual, "n", 1.5), `{"n":1.5}`, true, `{app="web", n="1.5"}`},
		{"numeric lt", NewNumericLabelFilter(LabelFilterLesserThan, "n", 0), `{"n":-1}`, true, `{app="web", n="-1"}`},
		{"numeric le", NewNumericLabelFilter(LabelFilterLesserThanOrEqual, "n", 0), `{"n":1}`, false, ""},
		{"numeric eq", NewNumericLabelFilter(LabelFilterEqual, "status", 200), `{"status":"200"}`, true, `{app="web", status="200"}`},
		{"numeric eq exp", NewNumericLabelFilter(LabelFilterEqual, "n", 1000), `{"n":1e3}`, true, `{app="web", n="1e3"}`},
		{"numeric ne", NewNumericLabelFilter(LabelFilterNotEqual, "status", 200), `{"status":200}`, false, ""},
		{"numeric missing drops", NewNumericLabelFilter(LabelFilterGreaterThan, "n", 1), `{"a":1}`, false, ""},
		{"numeric bad value keeps with error", NewNumericLabelFilter(LabelFilterGreaterThan, "n", 1), `{"n":"abc"}`, true,
			`{__error__="LabelFilterErr", __error_details__="strconv.ParseFloat: parsing \"abc\": invalid syntax", app="web", n="abc"}`},
		{"numeric keeps earlier error", NewNumericLabelFilter(LabelFilterGreaterThan, "app", 1), `bad`, true,
			`{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="web"}`},
		{"duration gt", NewDurationLabelFilter(LabelFilterGreaterThan, "d", 250*time.Millisecond), `{"d":"1s"}`, true, `{app="web", d="1s"}`},
		{"duration gt miss", NewDurationLabelFilter(LabelFilterGreaterThan, "d", 250*time.Millisecond), `{"d":"100ms"}`, false, ""},
		{"duration units", NewDurationLabelFilter(LabelFilterEqual, "d", 90*time.Minute), `{"d":"1h30m"}`, true, `{app="web", d="1h30m"}`},
		{"duration micro", NewDurationLabelFilter(LabelFilterLesserThan, "d", time.Millisecond), `{"d":"5µs"}`, true, `{app="web", d="5µs"}`},
		{"duration bad", NewDurationLabelFilter(LabelFilterGreaterThan, "d", time.Second), `{"d":"5"}`, true,
			`{__error__="LabelFilterErr", __error_details__="time: missing unit in duration \"5\"", app="web", d="5"}`},
		{"bytes gt", NewBytesLabelFilter(LabelFilterGreaterThan, "s", 20e6), `{"s":"21MB"}`, true, `{app="web", s="21MB"}`},
		{"bytes binary", NewBytesLabelFilter(LabelFilterEqual, "s", 1024), `{"s":"1KiB"}`, true, `{app="web", s="1KiB"}`},
		{"bytes plain", NewBytesLabelFilter(LabelFilterLesserThan, "s", 1000), `{"s":999}`, true, `{app="web", s="999"}`},
		{"bytes bad", NewBytesLabelFilter(LabelFilterLesserThan, "s", 1000), `{"s":"lots"}`, true,
			`{__error__="LabelFilterErr", __error_details__="parse bytes \"lots\": strconv.ParseFloat: parsing \"\": invalid syntax", app="web", s="lots"}`},
		{"ip label", must(NewIPLabelFilter("10.0.0.0/8", "addr", true)), `{"addr":"10.1.2.3"}`, true, `{addr="10.1.2.3", app="web"}`},
		{"ip label miss", must(NewIPLabelFilter("10.0.0.0/8", "addr", true)), `{"addr":"11.1.2.3"}`, false, ""},
		{"ip label not", must(NewIPLabelFilter("10.0.0.0/8", "addr", false)), `{"addr":"11.1.2.3"}`, true, `{addr="11.1.2.3", app="web"}`},
		{"ip label missing", must(NewIPLabelFilter("10.0.0.0/8", "addr", true)), `{}`, false, ""},
		{"and", NewAndLabelFilter(str(labels.MatchEqual, "a", "1"), NewNumericLabelFilter(LabelFilterGreaterThan, "n", 1)),
			`{"a":"1","n":2}`, true, `{a="1", app="web", n="2"}`},
		{"and miss", NewAndLabelFilter(str(labels.MatchEqual, "a", "1"), NewNumericLabelFilter(LabelFilterGreaterThan, "n", 1)),
			`{"a":"2","n":2}`, false, ""},
		{"or", NewOrLabelFilter(str(labels.MatchEqual, "a", "1"), str(labels.MatchEqual, "a", "2")), `{"a":"2"}`, true, `{a="2", app="web"}`},
		{"or miss", NewOrLabelFilter(str(labels.MatchEqual, "a", "1"), str(labels.MatchEqual, "a", "2")), `{"a":"3"}`, false, ""},
		{"or short circuits", NewOrLabelFilter(str(labels.MatchEqual, "a", "1"), NewNumericLabelFilter(LabelFilterGreaterThan, "a", 0)),
			`{"a":"1"}`, true, `{a="1", app="web"}`},
		{"and runs both sides", NewAndLabelFilter(str(labels.MatchEqual, "a", "x"), NewNumericLabelFilter(LabelFilterGreaterThan, "b", 0)),
			`{"a":"y","b":"z"}`, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, ok := runLine(t, `{app="web"}`, c.line, json, c.f)
			if ok != c.keep {
				t.Fatalf("keep: got %v want %v (labels %s)", ok, c.keep, got)
			}
			if ok && got != c.want {
				t.Errorf("labels\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"42", 42, true}, {"42B", 42, true}, {"1KB", 1000, true}, {"1kb", 1000, true}, {"1KiB", 1024, true},
		{"1.5 MB", 1500000, true}, {"20MB", 20000000, true}, {"2MiB", 2 << 20, true}, {"1GB", 1e9, true},
		{"1Gi", 1 << 30, true}, {"1,024 kb", 1024000, true}, {"3 k", 3000, true}, {"1TB", 1e12, true},
		{"1PiB", 1 << 50, true}, {"1EB", 1e18, true}, {"", 0, false}, {"MB", 0, false}, {"1 XB", 0, false},
		{"-1KB", 0, false}, {"99999999999EB", 0, false},
	}
	for _, c := range cases {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
