package pipeline

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
)

// cpuTime is the process's CPU time: the machine is shared, so lines per
// CPU second is the figure to compare.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchInput wraps loggen lines in CRI format, one CRI line per physical
// line (stack traces become several F lines), with loggen's labels minus
// level, which the pipeline promotes again.
func benchInput(n int) ([]Entry, int64) {
	g := loggen.New(loggen.Config{Seed: 1})
	var out []Entry
	var bytes int64
	for len(out) < n {
		e := g.Next()
		ls := labels.Labels(e.Labels).Without("level")
		ts := time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano)
		for l := range strings.SplitSeq(e.Line, "\n") {
			line := ts + " stdout F " + l
			bytes += int64(len(line))
			out = append(out, Entry{Labels: ls, Timestamp: time.Unix(0, e.Timestamp), Line: line})
		}
	}
	return out, bytes
}

// BenchmarkLifecyclePipeline measures cri | multiline | json | labels | replace
// on loggen traffic; lines/cpu-s is per core.
func BenchmarkLifecyclePipeline(b *testing.B) {
	const cfg = `
- cri: {}
- multiline: {firstline: '^(\{|\d{4}-\d{2}-\d{2}|[IWEF]\d{4}|\S+=|\d+\.\d+\.\d+\.\d+|\[)', max_wait_time: 3s}
- json: {expressions: {level: , trace_id: }}
- labels: {level: }
- replace: {expression: '\b(\d{17}[\dXx])\b', replace: '**************'}
`
	in, size := benchInput(20000)
	p, err := Parse([]byte(cfg), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var out []Entry
	b.SetBytes(size / int64(len(in)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		out = p.Process(ctx, in[i%len(in)], out[:0])
		i++
	}
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
}

// BenchmarkStage measures single stages on the same input.
func BenchmarkStage(b *testing.B) {
	in, _ := benchInput(20000)
	for _, bc := range []struct{ name, cfg string }{
		{"cri", "- cri: {}\n"},
		{"cri+json", "- cri: {}\n- json: {expressions: {level: , trace_id: }}\n"},
		{"cri+replace", "- cri: {}\n- replace: {expression: '\\b(\\d{17}[\\dXx])\\b', replace: '**************'}\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := Parse([]byte(bc.cfg), Options{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var out []Entry
			b.ReportAllocs()
			cpu0 := cpuTime()
			i := 0
			for b.Loop() {
				out = p.Process(ctx, in[i%len(in)], out[:0])
				i++
			}
			b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
		})
	}
}
