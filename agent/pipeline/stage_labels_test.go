package pipeline

import "testing"

func TestLabelStages(t *testing.T) {
	const j = `{"level":"info","code":200,"ok":false,"obj":{"a":1},"nil":null,"bad":"\udcff","empty":""}`
	js := "- json: {expressions: {level: , code: , ok: , obj: , nil: , bad: , empty: }}\n"
	runCases(t, []stageCase{
		{name: "labels promotes a value", config: js + "- labels: {level: }\n",
			in: []Entry{ent(j, "app", "a")}, want: []view{out(`{app="a", level="info"}`, t0, j)}},
		{name: "labels renames", config: js + "- labels: {severity: level}\n",
			in: []Entry{ent(j, "app", "a")}, want: []view{out(`{app="a", severity="info"}`, t0, j)}},
		{name: "labels converts numbers and booleans", config: js + "- labels: {code: , ok: }\n",
			in: []Entry{ent(j)}, want: []view{out(`{code="200", ok="false"}`, t0, j)}},
		{name: "labels skips objects and nulls", config: js + "- labels: {obj: , nil: }\n",
			in: []Entry{ent(j)}, want: []view{out(`{obj="{\"a\":1}"}`, t0, j)}},
		{name: "labels skips a missing key", config: js + "- labels: {nothere: }\n",
			in: []Entry{ent(j, "app", "a")}, want: []view{out(`{app="a"}`, t0, j)}},
		{name: "labels overwrites an existing label", config: js + "- labels: {app: level}\n",
			in: []Entry{ent(j, "app", "a")}, want: []view{out(`{app="info"}`, t0, j)}},
		{name: "labels empty value sets an empty label, as Promtail", config: js + "- labels: {app: empty}\n",
			in: []Entry{ent(j, "app", "a")}, want: []view{out(`{app=""}`, t0, j)}},
		{name: "labels from an initial label copies it", config: "- labels: {copy: app}\n",
			in: []Entry{ent("x", "app", "a")}, want: []view{out(`{app="a", copy="a"}`, t0, "x")}},
		{name: "labels skips invalid utf-8", config: "- regex: {expression: '^(?P<v>.*)$'}\n- labels: {v: }\n",
			in: []Entry{ent("\xff")}, want: []view{out(`{}`, t0, "\xff")}},
		{name: "labels do not change the extracted map later", config: js + "- labels: {level: }\n- labeldrop: [level]\n- template: {source: t, template: '{{ .level }}'}\n",
			in: []Entry{ent(j)}, want: []view{out(`{}`, t0, j)}, extracted: map[string]any{"t": "info"}},
		{name: "labeldrop", config: "- labeldrop: [pod, missing]\n",
			in: []Entry{ent("x", "app", "a", "pod", "p")}, want: []view{out(`{app="a"}`, t0, "x")}},
		{name: "labelallow", config: "- labelallow: [app, missing]\n",
			in: []Entry{ent("x", "app", "a", "pod", "p", "ns", "n")}, want: []view{out(`{app="a"}`, t0, "x")}},
		{name: "labelallow keeping all", config: "- labelallow: [app, pod]\n",
			in: []Entry{ent("x", "app", "a", "pod", "p")}, want: []view{out(`{app="a", pod="p"}`, t0, "x")}},
		{name: "static_labels", config: "- static_labels: {env: prod, app: b, skip: , blank: ''}\n",
			in: []Entry{ent("x", "app", "a")}, want: []view{out(`{app="b", env="prod"}`, t0, "x")}},
		{name: "structured_metadata from extracted", config: js + "- structured_metadata: {level: , status: code}\n",
			in:   []Entry{ent(j, "app", "a")},
			want: []view{{Labels: `{app="a"}`, TS: t0, Line: j, Metadata: `{level="info", status="200"}`}}},
		{name: "structured_metadata moves a stream label", config: "- structured_metadata: {pod: }\n",
			in:   []Entry{ent("x", "app", "a", "pod", "p-1")},
			want: []view{{Labels: `{app="a"}`, TS: t0, Line: "x", Metadata: `{pod="p-1"}`}}},
		{name: "structured_metadata renamed from a label", config: "- structured_metadata: {trace: tid}\n",
			in:   []Entry{ent("x", "tid", "abc")},
			want: []view{{Labels: `{}`, TS: t0, Line: "x", Metadata: `{trace="abc"}`}}},
	})
}

func TestTimestamp(t *testing.T) {
	ts := func(format, extra string) string {
		return "- regex: {expression: '^(?P<t>[^|]*)'}\n- timestamp:\n    source: t\n    format: " + format + "\n" + extra
	}
	utc := func(y int, mo, d, h, mi, s, ns int) view {
		return view{Labels: "{}", TS: dateUTC(y, mo, d, h, mi, s, ns)}
	}
	with := func(v view, line string) []view { v.Line = line; return []view{v} }
	runCases(t, []stageCase{
		{name: "RFC3339", config: ts("RFC3339", ""), in: []Entry{ent("2026-01-02T03:04:05Z|x")}, want: with(utc(2026, 1, 2, 3, 4, 5, 0), "2026-01-02T03:04:05Z|x")},
		{name: "RFC3339 accepts fraction", config: ts("RFC3339", ""), in: []Entry{ent("2026-01-02T03:04:05.5Z")}, want: with(utc(2026, 1, 2, 3, 4, 5, 5e8), "2026-01-02T03:04:05.5Z")},
		{name: "RFC3339Nano with offset", config: ts("RFC3339Nano", ""), in: []Entry{ent("2026-01-02T03:04:05.000000007+02:00")}, want: with(utc(2026, 1, 2, 1, 4, 5, 7), "2026-01-02T03:04:05.000000007+02:00")},
		{name: "ANSIC", config: ts("ANSIC", ""), in: []Entry{ent("Mon Jan  2 15:04:05 2006")}, want: with(utc(2006, 1, 2, 15, 4, 5, 0), "Mon Jan  2 15:04:05 2006")},
		{name: "RFC1123", config: ts("RFC1123", ""), in: []Entry{ent("Mon, 02 Jan 2006 15:04:05 UTC")}, want: with(utc(2006, 1, 2, 15, 4, 5, 0), "Mon, 02 Jan 2006 15:04:05 UTC")},
		{name: "Unix", config: ts("Unix", ""), in: []Entry{ent("1700000000")}, want: with(utc(2023, 11, 14, 22, 13, 20, 0), "1700000000")},
		{name: "Unix with fraction", config: ts("Unix", ""), in: []Entry{ent("1700000000.25")}, want: with(utc(2023, 11, 14, 22, 13, 20, 25e7), "1700000000.25")},
		{name: "UnixMs", config: ts("UnixMs", ""), in: []Entry{ent("1700000000123")}, want: with(utc(2023, 11, 14, 22, 13, 20, 123e6), "1700000000123")},
		{name: "UnixUs", config: ts("UnixUs", ""), in: []Entry{ent("1700000000123456")}, want: with(utc(2023, 11, 14, 22, 13, 20, 123456e3), "1700000000123456")},
		{name: "UnixNs", config: ts("UnixNs", ""), in: []Entry{ent("1700000000123456789")}, want: with(utc(2023, 11, 14, 22, 13, 20, 123456789), "1700000000123456789")},
		{name: "UnixMs rejects a fraction", config: ts("UnixMs", ""), in: []Entry{ent("1700000000.5")}, want: with(view{Labels: "{}", TS: t0}, "1700000000.5")},
		{name: "Go layout", config: ts("'2006-01-02 15:04:05.000'", ""), in: []Entry{ent("2026-03-04 05:06:07.890")}, want: with(utc(2026, 3, 4, 5, 6, 7, 890e6), "2026-03-04 05:06:07.890")},
		{name: "Go layout with location", config: ts("'2006-01-02 15:04:05'", "    location: Asia/Shanghai\n"), in: []Entry{ent("2026-03-04 08:00:00")}, want: with(utc(2026, 3, 4, 0, 0, 0, 0), "2026-03-04 08:00:00")},
		{name: "location ignored for named formats", config: ts("RFC3339", "    location: Asia/Shanghai\n"), in: []Entry{ent("2026-03-04T08:00:00Z")}, want: with(utc(2026, 3, 4, 8, 0, 0, 0), "2026-03-04T08:00:00Z")},
		{name: "year-less layout takes the clock's year", config: ts("'Jan _2 15:04:05'", ""), in: []Entry{ent("Mar  4 05:06:07")}, want: with(utc(2026, 3, 4, 5, 6, 7, 0), "Mar  4 05:06:07")},
		{name: "fallback formats", config: ts("RFC3339", "    fallback_formats: [UnixMs, '2006-01-02']\n"), in: []Entry{ent("2026-05-06")}, want: with(utc(2026, 5, 6, 0, 0, 0, 0), "2026-05-06")},
		{name: "fallback first match wins", config: ts("Unix", "    fallback_formats: [UnixMs]\n"), in: []Entry{ent("1700000000")}, want: with(utc(2023, 11, 14, 22, 13, 20, 0), "1700000000")},
		{name: "fudge without history keeps time", config: ts("RFC3339", ""), in: []Entry{ent("garbage")}, want: with(view{Labels: "{}", TS: t0}, "garbage")},
		{name: "fudge adds 1ns per failure", config: ts("RFC3339", ""),
			in:   []Entry{ent("2026-01-02T03:04:05Z"), ent("bad"), ent("bad")},
			want: append(append(with(utc(2026, 1, 2, 3, 4, 5, 0), "2026-01-02T03:04:05Z"), with(utc(2026, 1, 2, 3, 4, 5, 1), "bad")...), with(utc(2026, 1, 2, 3, 4, 5, 2), "bad")...)},
		{name: "fudge is per stream", config: ts("RFC3339", ""),
			in:   []Entry{ent("2026-01-02T03:04:05Z", "s", "1"), ent("bad", "s", "2")},
			want: []view{{Labels: `{s="1"}`, TS: dateUTC(2026, 1, 2, 3, 4, 5, 0), Line: "2026-01-02T03:04:05Z"}, {Labels: `{s="2"}`, TS: t0, Line: "bad"}}},
		{name: "skip keeps time", config: ts("RFC3339", "    action_on_failure: skip\n"),
			in:   []Entry{ent("2026-01-02T03:04:05Z"), ent("bad")},
			want: append(with(utc(2026, 1, 2, 3, 4, 5, 0), "2026-01-02T03:04:05Z"), with(view{Labels: "{}", TS: t0}, "bad")...)},
		{name: "missing source fudges", config: "- timestamp: {source: nope, format: RFC3339}\n", in: []Entry{ent("x")}, want: with(view{Labels: "{}", TS: t0}, "x")},
		{name: "number source", config: "- json: {expressions: {t: }}\n- timestamp: {source: t, format: Unix}\n", in: []Entry{ent(`{"t":1700000000}`)}, want: with(utc(2023, 11, 14, 22, 13, 20, 0), `{"t":1700000000}`)},
	})
}
