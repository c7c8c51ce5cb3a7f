package pipeline

import (
	"testing"
	"time"
)

func TestMultiline(t *testing.T) {
	const cfg = "- multiline:\n    firstline: '^\\d{4}-'\n"
	const cfg2 = "- multiline:\n    firstline: '^\\d{4}-'\n    max_lines: 2\n"
	t1, t2, t3 := t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second)
	runCases(t, []stageCase{
		{name: "lines before the first start line pass through", config: cfg,
			in:   []Entry{ent("orphan", "app", "a")},
			want: []view{out(`{app="a"}`, t0, "orphan")}},
		{name: "a start line is held", config: cfg,
			in: []Entry{ent("2026-11-25 start", "app", "a")}},
		{name: "next start line flushes the block", config: cfg,
			in: []Entry{
				entAt(t1, "2026-x", "app", "a"),
				entAt(t2, "\tat a.b(C.java:1)", "app", "a"),
				entAt(t3, "2026-11-25 next", "app", "a"),
			},
			want: []view{out(`{app="a"}`, t1, "2026-x\n\tat a.b(C.java:1)")}},
		{name: "start line matches anywhere only as the regex says", config: cfg,
			in: []Entry{
				entAt(t1, "2026-1 a", "app", "a"),
				entAt(t2, "x 2026-1 b", "app", "a"),
				entAt(t3, "2026-1 c", "app", "a"),
			},
			want: []view{out(`{app="a"}`, t1, "2026-1 a\nx 2026-1 b")}},
		{name: "streams are separate", config: cfg,
			in: []Entry{
				entAt(t1, "2026-a1", "app", "a"),
				entAt(t1, "2026-b1", "app", "b"),
				entAt(t2, "a-cont", "app", "a"),
				entAt(t2, "b-cont", "app", "b"),
				entAt(t3, "2026-a2", "app", "a"),
				entAt(t3, "2026-b2", "app", "b"),
			},
			want: []view{
				out(`{app="a"}`, t1, "2026-a1\na-cont"),
				out(`{app="b"}`, t1, "2026-b1\nb-cont"),
			}},
		{name: "orphan of another stream passes while one is held", config: cfg,
			in: []Entry{
				entAt(t1, "2026-a1", "app", "a"),
				entAt(t2, "b orphan", "app", "b"),
			},
			want: []view{out(`{app="b"}`, t2, "b orphan")}},
		{name: "max_lines flushes", config: cfg2,
			in: []Entry{
				entAt(t1, "2026-a", "app", "a"),
				entAt(t2, "l2", "app", "a"),
				entAt(t3, "l3", "app", "a"),
				entAt(t3, "l4", "app", "a"),
			},
			want: []view{
				out(`{app="a"}`, t1, "2026-a\nl2"),
				out(`{app="a"}`, t1, "l3\nl4"),
			}},
		{name: "max_lines 1 emits every line", config: "- multiline: {firstline: '^S', max_lines: 1}\n",
			in:   []Entry{entAt(t1, "S1", "app", "a"), entAt(t2, "c", "app", "a")},
			want: []view{out(`{app="a"}`, t1, "S1"), out(`{app="a"}`, t1, "c")}},
		{name: "max_lines 0 means no limit", config: "- multiline: {firstline: '^S', max_lines: 0}\n",
			in:   []Entry{entAt(t1, "S1", "app", "a"), entAt(t2, "c", "app", "a"), entAt(t2, "c", "app", "a"), entAt(t3, "S2", "app", "a")},
			want: []view{out(`{app="a"}`, t1, "S1\nc\nc")}},
		{name: "block keeps start line extracted values", config: "- regex: {expression: '^(?P<first>\\w+)'}\n- multiline: {firstline: '^S'}\n",
			in:        []Entry{entAt(t1, "Sone", "app", "a"), entAt(t2, "two", "app", "a"), entAt(t3, "Sthree", "app", "a")},
			want:      []view{out(`{app="a"}`, t1, "Sone\ntwo")},
			extracted: map[string]any{"first": "Sone"}},
		{name: "empty lines are kept in the block", config: cfg,
			in:   []Entry{entAt(t1, "2026-a", "app", "a"), entAt(t2, "", "app", "a"), entAt(t3, "2026-b", "app", "a")},
			want: []view{out(`{app="a"}`, t1, "2026-a\n")}},
	})
}

func TestMultilineMaxWait(t *testing.T) {
	p, clk, _ := testPipeline(t, "- multiline: {firstline: '^S', max_wait_time: 2s}\n")
	if iv := p.FlushInterval(); iv != time.Second {
		t.Errorf("FlushInterval = %v, want 1s", iv)
	}
	ctx := t.Context()
	processAll(p, ent("S1", "app", "a"))
	clk.Advance(1500 * time.Millisecond)
	processAll(p, ent("cont", "app", "a"), ent("S-b", "app", "b"))
	// 1.5s after the last line of a: not due; b not either.
	if got := p.Flush(ctx, clk.Now().Add(1500*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("early flush: %v", views(got))
	}
	got := p.Flush(ctx, clk.Now().Add(2*time.Second), nil)
	want := []view{out(`{app="a"}`, t0, "S1\ncont"), out(`{app="b"}`, t0, "S-b")}
	if len(got) != 2 || viewOf(got[0]) != want[0] || viewOf(got[1]) != want[1] {
		t.Fatalf("flush = %v, want %v", views(got), want)
	}
	// A continuation after a timeout flush forms a block that carries the
	// old start line's timestamp (Promtail keeps the start entry).
	clk.Advance(10 * time.Second)
	processAll(p, ent("late", "app", "a"))
	got = p.FlushAll(ctx, nil)
	if len(got) != 1 || viewOf(got[0]) != out(`{app="a"}`, t0, "late") {
		t.Fatalf("FlushAll = %v", views(got))
	}
	if got := p.FlushAll(ctx, nil); len(got) != 0 {
		t.Fatalf("second FlushAll = %v", views(got))
	}
}

func TestMultilineDefaultWait(t *testing.T) {
	p, _, _ := testPipeline(t, "- multiline: {firstline: '^S'}\n")
	processAll(p, ent("S1", "app", "a"))
	if got := p.Flush(t.Context(), t0.Add(2999*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("flushed before 3s: %v", views(got))
	}
	if got := p.Flush(t.Context(), t0.Add(3*time.Second), nil); len(got) != 1 {
		t.Fatalf("not flushed at 3s: %v", views(got))
	}
}

func TestMultilineInsideMatchFlushes(t *testing.T) {
	p, _, _ := testPipeline(t, `
- match:
    selector: '{app="java"}'
    stages:
      - multiline: {firstline: '^\d', max_wait_time: 1s}
- static_labels: {after: "yes"}
`)
	got := processAll(p, ent("1 a", "app", "java"), ent("b", "app", "java"), ent("x", "app", "go"))
	if len(got) != 1 || viewOf(got[0]) != out(`{after="yes", app="go"}`, t0, "x") {
		t.Fatalf("process = %v", views(got))
	}
	got = p.Flush(t.Context(), t0.Add(time.Second), nil)
	if len(got) != 1 || viewOf(got[0]) != out(`{after="yes", app="java"}`, t0, "1 a\nb") {
		t.Fatalf("flush = %v", views(got))
	}
}
