package pipeline

import (
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCRI(t *testing.T) {
	const T1 = "2026-11-25T10:00:01.000000001Z"
	const T2 = "2026-11-25T10:00:02.5Z"
	cri := "- cri: {}\n"
	runCases(t, []stageCase{
		{name: "full line", config: cri,
			in:        []Entry{ent(T1+" stdout F hello world", "app", "a")},
			want:      []view{out(`{app="a", stream="stdout"}`, ts(T1), "hello world")},
			extracted: map[string]any{"time": T1, "stream": "stdout", "flags": "F", "content": "hello world"}},
		{name: "stderr", config: cri,
			in:   []Entry{ent(T2+" stderr F oops", "app", "a")},
			want: []view{out(`{app="a", stream="stderr"}`, ts(T2), "oops")}},
		{name: "empty content", config: cri,
			in:   []Entry{ent(T1+" stdout F ", "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T1), "")}},
		{name: "no trailing space after flags does not match", config: cri,
			in:   []Entry{ent(T1+" stdout F", "app", "a")},
			want: []view{out(`{app="a"}`, t0, T1+" stdout F")}},
		{name: "content keeps newlines and spaces", config: cri,
			in:   []Entry{ent(T1+" stdout F  a\n b ", "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T1), " a\n b ")}},
		{name: "unknown stream name does not match", config: cri,
			in:   []Entry{ent(T1+" stdin F x", "app", "a")},
			want: []view{out(`{app="a"}`, t0, T1+" stdin F x")}},
		{name: "plain line passes", config: cri,
			in:   []Entry{ent("not a cri line", "app", "a")},
			want: []view{out(`{app="a"}`, t0, "not a cri line")}},
		{name: "bad time keeps entry time without history", config: cri,
			in:   []Entry{ent("yesterday stdout F x", "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, t0, "x")}},
		{name: "bad time fudges after a good one", config: cri,
			in: []Entry{ent(T1+" stdout F a", "app", "a"), ent("bad stdout F b", "app", "a"), ent("bad stdout F c", "app", "a")},
			want: []view{
				out(`{app="a", stream="stdout"}`, ts(T1), "a"),
				out(`{app="a", stream="stdout"}`, ts(T1).Add(1), "b"),
				out(`{app="a", stream="stdout"}`, ts(T1).Add(2), "c"),
			}},
		{name: "partial lines joined without separator", config: cri,
			in: []Entry{
				ent(T1+" stdout P hel", "app", "a"),
				ent(T1+" stdout P lo ", "app", "a"),
				ent(T2+" stdout F world", "app", "a"),
			},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T2), "hello world")}},
		{name: "partials per stream", config: cri,
			in: []Entry{
				ent(T1+" stdout P out-", "app", "a"),
				ent(T1+" stderr P err-", "app", "a"),
				ent(T1+" stdout P b-", "app", "b"),
				ent(T2+" stderr F 1", "app", "a"),
				ent(T2+" stdout F 2", "app", "a"),
				ent(T2+" stdout F 3", "app", "b"),
			},
			want: []view{
				out(`{app="a", stream="stderr"}`, ts(T2), "err-1"),
				out(`{app="a", stream="stdout"}`, ts(T2), "out-2"),
				out(`{app="b", stream="stdout"}`, ts(T2), "b-3"),
			}},
		{name: "a plain line ends a partial", config: cri,
			in:   []Entry{ent(T1+" stdout P part", "app", "a", "stream", "stdout"), ent("plain", "app", "a", "stream", "stdout")},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T1).Add(1), "partplain")}},
		{name: "max_partial_lines overflow emits held lines", config: "- cri: {max_partial_lines: 2}\n",
			in: []Entry{
				ent(T1+" stdout P a", "app", "a"),
				ent(T1+" stdout P b", "app", "b"),
				ent(T1+" stdout P c", "app", "c"),
				ent(T2+" stdout F !", "app", "c"),
			},
			want: []view{
				out(`{app="a", stream="stdout"}`, ts(T1), "a"),
				out(`{app="b", stream="stdout"}`, ts(T1), "b"),
				out(`{app="c", stream="stdout"}`, ts(T2), "c!"),
			}},
		{name: "truncate joined partial lines", config: "- cri: {max_partial_line_size: 4, max_partial_line_size_truncate: true}\n",
			in: []Entry{
				ent(T1+" stdout P abc", "app", "a"),
				ent(T1+" stdout P def", "app", "a"),
				ent(T2+" stdout F ghi", "app", "a"),
			},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T2), "abcd")}},
		{name: "max_partial_line_size takes units", config: "- cri: {max_partial_line_size: 1KB, max_partial_line_size_truncate: true}\n",
			in:   []Entry{ent(T1+" stdout P abc", "app", "a"), ent(T2+" stdout F d", "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T2), "abcd")}},
		{name: "full line without truncation is untouched", config: "- cri: {max_partial_line_size: 2, max_partial_line_size_truncate: true}\n",
			in:   []Entry{ent(T1+" stdout F abcdef", "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T1), "abcdef")}},
		{name: "rfc3339 without fraction", config: cri,
			in:   []Entry{ent("2026-11-25T10:00:03+01:00 stdout F x", "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, ts("2026-11-25T09:00:03Z"), "x")}},
	})
}

func TestCRIFlushAllReleasesPartials(t *testing.T) {
	p, _, _ := testPipeline(t, "- cri: {}\n")
	if got := processAll(p, ent("2026-11-25T10:00:01Z stdout P held", "app", "a")); len(got) != 0 {
		t.Fatalf("partial line came out: %v", views(got))
	}
	if got := p.Flush(t.Context(), t0.Add(time.Hour), nil); len(got) != 0 {
		t.Fatalf("Flush released a partial line: %v", views(got))
	}
	got := p.FlushAll(t.Context(), nil)
	if len(got) != 1 || got[0].Line != "held" {
		t.Fatalf("FlushAll = %v", views(got))
	}
}

func TestDocker(t *testing.T) {
	const T1 = "2026-11-25T10:00:01.123456789Z"
	runCases(t, []stageCase{
		{name: "docker json", config: "- docker: {}\n",
			in:        []Entry{ent(`{"log":"hello\n","stream":"stderr","time":"`+T1+`"}`, "app", "a")},
			want:      []view{out(`{app="a", stream="stderr"}`, ts(T1), "hello\n")},
			extracted: map[string]any{"output": "hello\n", "stream": "stderr", "timestamp": T1}},
		{name: "docker malformed passes", config: "- docker:\n",
			in:   []Entry{ent(`not json`, "app", "a")},
			want: []view{out(`{app="a"}`, t0, "not json")}},
		{name: "docker missing log keeps line", config: "- docker: {}\n",
			in:   []Entry{ent(`{"stream":"stdout","time":"`+T1+`"}`, "app", "a")},
			want: []view{out(`{app="a", stream="stdout"}`, ts(T1), `{"stream":"stdout","time":"`+T1+`"}`)}},
	})
}
