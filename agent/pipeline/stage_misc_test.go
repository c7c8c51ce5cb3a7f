package pipeline

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPackDecolorize(t *testing.T) {
	runCases(t, []stageCase{
		{name: "pack labels and extracted", config: "- json: {expressions: {level: }}\n- pack: {labels: [pod, level, missing], ingest_timestamp: false}\n",
			in:   []Entry{ent(`{"level":"warn"}`, "app", "a", "pod", "p")},
			want: []view{out(`{app="a"}`, t0, `{"level":"warn","pod":"p","_entry":"{\"level\":\"warn\"}"}`)}},
		{name: "pack with nothing found", config: "- pack: {labels: [x], ingest_timestamp: false}\n",
			in: []Entry{ent("line <b>")}, want: []view{out(`{}`, t0, `{"_entry":"line \u003cb\u003e"}`)}},
		{name: "pack sets ingest time by default", config: "- pack: {labels: [app]}\n",
			in: []Entry{entAt(t0.Add(-1e9), "x", "app", "a")}, want: []view{out(`{}`, t0, `{"app":"a","_entry":"x"}`)}},
		{name: "decolorize", config: "- decolorize: {}\n",
			in: []Entry{ent("\x1b[31mred\x1b[0m plain")}, want: []view{out(`{}`, t0, "red plain")}},
		{name: "decolorize null config", config: "- decolorize:\n",
			in: []Entry{ent("plain")}, want: []view{out(`{}`, t0, "plain")}},
	})
}

func TestMetrics(t *testing.T) {
	p, _, reg := testPipeline(t, `
- json: {expressions: {level: , bytes: , latency: }}
- metrics:
    lines_total:
      type: Counter
      description: all lines
      config: {match_all: true, action: inc}
    bytes_total:
      type: counter
      prefix: my_
      config: {match_all: true, count_entry_bytes: true, action: add}
    errors:
      type: counter
      source: level
      config: {value: error, action: inc}
    payload:
      type: counter
      source: bytes
      config: {action: add}
    last_latency:
      type: gauge
      source: latency
      config: {action: set}
    latency_hist:
      type: histogram
      source: latency
      config: {buckets: [0.1, 1, 10]}
`)
	processAll(p,
		ent(`{"level":"error","bytes":10,"latency":"250ms"}`, "app", "a"),
		ent(`{"level":"info","bytes":"5","latency":2}`, "app", "a"),
		ent(`{"level":"error"}`, "app", "b"),
	)
	want := `
# HELP my_bytes_total custom metric from the bytes_total pipeline stage
# TYPE my_bytes_total counter
my_bytes_total{app="a"} 86
my_bytes_total{app="b"} 17
# HELP promtail_custom_errors custom metric from the errors pipeline stage
# TYPE promtail_custom_errors counter
promtail_custom_errors{app="a"} 1
promtail_custom_errors{app="b"} 1
# HELP promtail_custom_last_latency custom metric from the last_latency pipeline stage
# TYPE promtail_custom_last_latency gauge
promtail_custom_last_latency{app="a"} 2
# HELP promtail_custom_latency_hist custom metric from the latency_hist pipeline stage
# TYPE promtail_custom_latency_hist histogram
promtail_custom_latency_hist_bucket{app="a",le="0.1"} 0
promtail_custom_latency_hist_bucket{app="a",le="1"} 1
promtail_custom_latency_hist_bucket{app="a",le="10"} 2
promtail_custom_latency_hist_bucket{app="a",le="+Inf"} 2
promtail_custom_latency_hist_sum{app="a"} 2.25
promtail_custom_latency_hist_count{app="a"} 2
# HELP promtail_custom_lines_total all lines
# TYPE promtail_custom_lines_total counter
promtail_custom_lines_total{app="a"} 2
promtail_custom_lines_total{app="b"} 1
# HELP promtail_custom_payload custom metric from the payload pipeline stage
# TYPE promtail_custom_payload counter
promtail_custom_payload{app="a"} 15
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"my_bytes_total", "promtail_custom_errors", "promtail_custom_last_latency", "promtail_custom_latency_hist",
		"promtail_custom_lines_total", "promtail_custom_payload"); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsIdleExpiry(t *testing.T) {
	p, clk, reg := testPipeline(t, "- metrics:\n    n:\n      type: counter\n      max_idle_duration: 1m\n      config: {match_all: true, action: inc}\n")
	processAll(p, ent("x", "app", "a"))
	if n, _ := testutil.GatherAndCount(reg, "promtail_custom_n"); n != 1 {
		t.Fatalf("series = %d, want 1", n)
	}
	clk.Advance(2 * 60e9)
	if n, _ := testutil.GatherAndCount(reg, "promtail_custom_n"); n != 0 {
		t.Fatalf("series after idle = %d, want 0", n)
	}
}
