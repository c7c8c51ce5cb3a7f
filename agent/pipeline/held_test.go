package pipeline

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHeldOrigins feeds CRI lines with their file offsets as Origins and
// checks after every line that Held names exactly the oldest line of each
// held entry, and that joined entries carry their oldest line's Origin.
func TestHeldOrigins(t *testing.T) {
	p, clk, _ := testPipeline(t, `
- cri: {}
- match:
    selector: '{app="a"}'
    stages:
      - multiline:
          firstline: '^\S'
          max_wait_time: 1s
`)
	ts := "2026-11-25T10:00:00.000000000Z "
	steps := []struct {
		line     string
		src      uint64
		wantOut  []Origin // origins of what comes out
		wantHeld []Origin
	}{
		{line: ts + "stdout F Exception", src: 1, wantHeld: []Origin{{1, 0}}},
		{line: ts + "stdout F \tat a", src: 1, wantHeld: []Origin{{1, 0}}},
		// A partial line is held by cri; multiline still holds line 0.
		{line: ts + "stdout P \tat ", src: 1, wantHeld: []Origin{{1, 2}, {1, 0}}},
		{line: ts + "stdout P b", src: 1, wantHeld: []Origin{{1, 2}, {1, 0}}},
		{line: ts + "stdout F (x)", src: 1, wantHeld: []Origin{{1, 0}}},
		// The next block's start releases the first block.
		{line: ts + "stdout F Next", src: 1, wantOut: []Origin{{1, 0}}, wantHeld: []Origin{{1, 5}}},
		// Another stream (source 2) has its own block.
		{line: ts + "stdout F Other", src: 2, wantHeld: []Origin{{1, 5}, {2, 6}}},
	}
	var out []Entry
	for i, s := range steps {
		app := "a"
		out = p.Process(t.Context(), Entry{
			Labels: ent("", "app", app, "src", string(rune('0'+s.src))).Labels,
			Line:   s.line, Origin: Origin{Source: s.src, Offset: int64(i)},
		}, out[:0])
		var gotOut []Origin
		for _, e := range out {
			gotOut = append(gotOut, e.Origin)
		}
		if diff := cmp.Diff(s.wantOut, gotOut); diff != "" {
			t.Errorf("step %d: out origins (-want +got):\n%s", i, diff)
		}
		var held []Origin
		p.Held(func(o Origin) { held = append(held, o) })
		slices.SortFunc(held, func(a, b Origin) int { return int(a.Offset - b.Offset) })
		slices.SortFunc(s.wantHeld, func(a, b Origin) int { return int(a.Offset - b.Offset) })
		if diff := cmp.Diff(s.wantHeld, held); diff != "" {
			t.Errorf("step %d: held (-want +got):\n%s", i, diff)
		}
		if p.Pending() != (len(held) > 0) {
			t.Errorf("step %d: Pending %v with %d held", i, p.Pending(), len(held))
		}
	}
	// After max_wait both blocks come out; a continuation line after that
	// flush is held under its own offset, not the flushed start's.
	clk.Advance(2e9)
	out = p.Flush(t.Context(), clk.Now(), out[:0])
	if len(out) != 2 || out[0].Line != "Next" || out[1].Line != "Other" {
		t.Fatalf("flush: %+v", out)
	}
	out = p.Process(t.Context(), Entry{Labels: ent("", "app", "a", "src", "1").Labels, Line: ts + "stdout F \tat late", Origin: Origin{1, 9}}, out[:0])
	var held []Origin
	p.Held(func(o Origin) { held = append(held, o) })
	if diff := cmp.Diff([]Origin{{1, 9}}, held); diff != "" || len(out) != 0 {
		t.Errorf("after flush: out %d, held (-want +got):\n%s", len(out), diff)
	}
	out = p.FlushAll(t.Context(), out[:0])
	if len(out) != 1 || out[0].Origin != (Origin{1, 9}) || p.Pending() {
		t.Errorf("FlushAll: %+v, pending %v", out, p.Pending())
	}
}
