package pipeline

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestMatchDrop(t *testing.T) {
	runCases(t, []stageCase{
		{name: "match runs nested stages on matching streams", config: "- match:\n    selector: '{app=\"api\"}'\n    stages:\n      - static_labels: {m: 'yes'}\n",
			in:   []Entry{ent("a", "app", "api"), ent("b", "app", "web")},
			want: []view{out(`{app="api", m="yes"}`, t0, "a"), out(`{app="web"}`, t0, "b")}},
		{name: "match regex matcher and line filter", config: "- match:\n    selector: '{app=~\"a.*\"} |= \"error\" != \"ignore\"'\n    stages:\n      - static_labels: {m: 'yes'}\n",
			in:   []Entry{ent("an error", "app", "api"), ent("an error, ignore", "app", "api"), ent("fine", "app", "api"), ent("error", "app", "web")},
			want: []view{out(`{app="api", m="yes"}`, t0, "an error"), out(`{app="api"}`, t0, "an error, ignore"), out(`{app="api"}`, t0, "fine"), out(`{app="web"}`, t0, "error")}},
		{name: "match regexp line filter", config: "- match:\n    selector: '{app=\"api\"} |~ \"status=5\\\\d\\\\d\"'\n    action: drop\n",
			in:   []Entry{ent("status=503", "app", "api"), ent("status=200", "app", "api")},
			want: []view{out(`{app="api"}`, t0, "status=200")}},
		{name: "match negative matcher on a missing label", config: "- match:\n    selector: '{app=\"api\", env!=\"prod\"}'\n    action: drop\n",
			in:   []Entry{ent("x", "app", "api"), ent("y", "app", "api", "env", "prod")},
			want: []view{out(`{app="api", env="prod"}`, t0, "y")}},
		{name: "match selector of negative matchers only (Promtail accepts it)", config: "- match:\n    selector: '{app!=\"api\"}'\n    action: drop\n",
			in:   []Entry{ent("x", "app", "api"), ent("y", "app", "web"), ent("z")},
			want: []view{out(`{app="api"}`, t0, "x")}},
		{name: "match selector of empty-compatible matchers", config: "- match:\n    selector: '{app=~\".*\"}'\n    stages:\n      - static_labels: {m: 'yes'}\n",
			in:   []Entry{ent("x", "app", "api"), ent("z")},
			want: []view{out(`{app="api", m="yes"}`, t0, "x"), out(`{m="yes"}`, t0, "z")}},
		{name: "match nested pipeline sees updated labels as extracted", config: "- json: {expressions: {level: }}\n- static_labels: {level: fromlabel}\n" +
			"- match:\n    selector: '{app=\"api\"}'\n    stages:\n      - template: {source: out, template: '{{ .level }}'}\n",
			in: []Entry{ent(`{"level":"json"}`, "app", "api")}, want: []view{out(`{app="api", level="fromlabel"}`, t0, `{"level":"json"}`)},
			extracted: map[string]any{"out": "fromlabel"}},
		{name: "match nested json and labels", config: "- match:\n    selector: '{app=\"api\"}'\n    stages:\n      - json: {expressions: {level: }}\n      - labels: {level: }\n",
			in: []Entry{ent(`{"level":"warn"}`, "app", "api")}, want: []view{out(`{app="api", level="warn"}`, t0, `{"level":"warn"}`)}},
		{name: "match nested drop", config: "- match:\n    selector: '{app=\"api\"}'\n    stages:\n      - drop: {expression: debug}\n",
			in: []Entry{ent("debug x", "app", "api"), ent("debug y", "app", "web")}, want: []view{out(`{app="web"}`, t0, "debug y")}},
		{name: "nested match", config: "- match:\n    selector: '{app=\"api\"}'\n    stages:\n      - match:\n          selector: '{env=\"prod\"}'\n          stages:\n            - static_labels: {deep: '1'}\n",
			in: []Entry{ent("x", "app", "api", "env", "prod"), ent("y", "app", "api")}, want: []view{out(`{app="api", deep="1", env="prod"}`, t0, "x"), out(`{app="api"}`, t0, "y")}},

		{name: "drop by expression", config: "- drop: {expression: '.*debug.*'}\n",
			in: []Entry{ent("a debug line"), ent("info")}, want: []view{out("{}", t0, "info")}},
		{name: "drop by source presence", config: "- json: {expressions: {trace: }}\n- regex: {expression: '(?P<x>x)'}\n- drop: {source: x}\n",
			in: []Entry{ent("x"), ent("y")}, want: []view{out("{}", t0, "y")}},
		{name: "drop by source value", config: "- json: {expressions: {level: }}\n- drop: {source: level, value: debug}\n",
			in: []Entry{ent(`{"level":"debug"}`), ent(`{"level":"debugging"}`)}, want: []view{out("{}", t0, `{"level":"debugging"}`)}},
		{name: "drop value is literal, not a regex", config: "- json: {expressions: {v: }}\n- drop: {source: v, value: 'a.c'}\n",
			in: []Entry{ent(`{"v":"abc"}`), ent(`{"v":"a.c"}`)}, want: []view{out("{}", t0, `{"v":"abc"}`)}},
		{name: "drop by number value", config: "- json: {expressions: {code: }}\n- drop: {source: code, value: '200'}\n",
			in: []Entry{ent(`{"code":200}`), ent(`{"code":500}`)}, want: []view{out("{}", t0, `{"code":500}`)}},
		{name: "drop by several sources joined", config: "- json: {expressions: {a: , b: }}\n- drop: {source: [a, b], expression: '^x;y$'}\n",
			in: []Entry{ent(`{"a":"x","b":"y"}`), ent(`{"a":"x","b":"z"}`)}, want: []view{out("{}", t0, `{"a":"x","b":"z"}`)}},
		{name: "drop separator", config: "- json: {expressions: {a: , b: }}\n- drop: {source: [a, b], separator: '|', value: 'x|y'}\n",
			in: []Entry{ent(`{"a":"x","b":"y"}`)}},
		{name: "drop source nil cannot match expression", config: "- json: {expressions: {a: }}\n- drop: {source: a, expression: '.*'}\n",
			in: []Entry{ent(`{}`)}, want: []view{out("{}", t0, `{}`)}},
		{name: "drop longer_than", config: "- drop: {longer_than: 5}\n",
			in: []Entry{ent("12345"), ent("123456")}, want: []view{out("{}", t0, "12345")}},
		{name: "drop longer_than with unit", config: "- drop: {longer_than: 1KB}\n",
			in: []Entry{ent(strings.Repeat("x", 1024)), ent(strings.Repeat("x", 1025))}, want: []view{out("{}", t0, strings.Repeat("x", 1024))}},
		{name: "drop older_than", config: "- drop: {older_than: 1h}\n",
			in: []Entry{entAt(t0.Add(-61*time.Minute), "old"), entAt(t0.Add(-59*time.Minute), "new")}, want: []view{out("{}", t0.Add(-59*time.Minute), "new")}},
		{name: "drop conditions are and-ed", config: "- drop: {longer_than: 3, expression: 'x'}\n",
			in: []Entry{ent("xx"), ent("yyyy"), ent("xxxx")}, want: []view{out("{}", t0, "xx"), out("{}", t0, "yyyy")}},
		{name: "drop expression on source", config: "- regex: {expression: 'path=(?P<path>\\S+)'}\n- drop: {source: path, expression: '^/health'}\n",
			in: []Entry{ent("path=/healthz"), ent("path=/api")}, want: []view{out("{}", t0, "path=/api")}},
	})
}

func TestDropCounters(t *testing.T) {
	p, _, _ := testPipeline(t, `
- drop: {expression: debug}
- drop: {expression: trace, drop_counter_reason: noisy}
- match: {selector: '{app="x"}', action: drop}
- match: {selector: '{app="y"}', action: drop, drop_counter_reason: y_app}
`)
	processAll(p, ent("debug"), ent("trace"), ent("trace"), ent("a", "app", "x"), ent("b", "app", "y"), ent("keep"))
	for reason, want := range map[string]float64{"drop_stage": 1, "noisy": 2, "match_stage": 1, "y_app": 1} {
		if got := dropped(t, p, reason); got != want {
			t.Errorf("dropped{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}

func TestLimit(t *testing.T) {
	t.Run("drop above burst", func(t *testing.T) {
		p, clk, _ := testPipeline(t, "- limit: {rate: 10, burst: 3, drop: true}\n")
		var got []Entry
		for i := range 10 {
			got = processAll(p, ent(string(rune('a'+i))))
			_ = got
		}
		if d := dropped(t, p, ReasonRateLimit); d != 7 {
			t.Fatalf("dropped = %v, want 7", d)
		}
		clk.Advance(100 * time.Millisecond) // one token
		if n := len(processAll(p, ent("x"), ent("y"))); n != 1 {
			t.Fatalf("after 100ms %d passed, want 1", n)
		}
		clk.Advance(time.Hour) // refill caps at burst
		if n := len(processAll(p, ent("1"), ent("2"), ent("3"), ent("4"))); n != 3 {
			t.Fatalf("after refill %d passed, want 3", n)
		}
	})
	t.Run("by_label_name", func(t *testing.T) {
		p, _, _ := testPipeline(t, "- limit: {rate: 1, burst: 2, drop: true, by_label_name: app}\n")
		var n int
		for range 5 {
			n += len(processAll(p, ent("x", "app", "a"), ent("y", "app", "b"), ent("z")))
		}
		// a: 2, b: 2, no label: 5.
		if n != 9 {
			t.Fatalf("passed = %d, want 9", n)
		}
		if d := dropped(t, p, ReasonRateLimit); d != 6 {
			t.Fatalf("dropped = %v, want 6", d)
		}
	})
	t.Run("without drop it waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, err := Parse([]byte("- limit: {rate: 2, burst: 1}\n"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			n := len(processAll(p, ent("a"), ent("b"), ent("c")))
			if n != 3 {
				t.Fatalf("passed = %d, want 3", n)
			}
			if el := time.Since(start); el != time.Second {
				t.Fatalf("waited %v, want 1s (two tokens at 2/s)", el)
			}
		})
	})
	t.Run("wait ends with the context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p, err := Parse([]byte("- limit: {rate: 0.001, burst: 1}\n"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			got := p.Process(ctx, ent("a"), nil)
			got = p.Process(ctx, ent("b"), got)
			if len(got) != 2 {
				t.Fatalf("passed = %d, want 2", len(got))
			}
		})
	})
}

func TestSampling(t *testing.T) {
	for _, tc := range []struct {
		rate     string
		min, max int
	}{{"0", 0, 0}, {"1", 1000, 1000}, {"0.5", 400, 600}, {"0.1", 50, 150}} {
		p, _, _ := testPipeline(t, "- sampling: {rate: "+tc.rate+"}\n")
		var n int
		for range 1000 {
			n += len(processAll(p, ent("x")))
		}
		if n < tc.min || n > tc.max {
			t.Errorf("rate %s kept %d of 1000, want %d..%d", tc.rate, n, tc.min, tc.max)
		}
		if d := dropped(t, p, ReasonSamplingStage); int(d) != 1000-n {
			t.Errorf("rate %s counted %v drops, want %d", tc.rate, d, 1000-n)
		}
	}
}
