package engine

import (
	"context"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/loggen"
)

// benchSource holds loggen entries as engine entries with []byte lines.
func benchSource(b *testing.B, n int) (*MemSource, int64, time.Time, time.Time) {
	b.Helper()
	g := loggen.New(loggen.DefaultConfig())
	gen := g.Take(n)
	es := make([]Entry, len(gen))
	var bytes int64
	for i, e := range gen {
		es[i] = Entry{Labels: e.Labels, Timestamp: e.Timestamp, Line: []byte(e.Line), Metadata: e.Metadata}
		bytes += int64(len(e.Line))
	}
	src := NewMemSource(es)
	first, last := src.entries[0].Timestamp, src.entries[len(src.entries)-1].Timestamp
	return src, bytes, time.Unix(0, first), time.Unix(0, last+1)
}

func runBench(b *testing.B, q string, n int, step time.Duration) {
	src, bytes, start, end := benchSource(b, n)
	e := New(Opts{})
	p := Params{Query: q, Start: start, End: end, Limit: 100}
	if step > 0 {
		p.Step = step
	}
	ctx := context.Background()
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Query(ctx, src, p); err != nil {
			b.Fatal(err)
		}
	}
}

// The selectors match every stream ({namespace=~".+"}) so that the line
// stage sees every generated line; the figures are MB/s of line bytes.
func BenchmarkLineContains(b *testing.B) {
	runBench(b, `{namespace=~".+"} |= "deadline exceeded"`, 200_000, 0)
}

func BenchmarkLineRegexp(b *testing.B) {
	runBench(b, `{namespace=~".+"} |~ "time(out|d out)"`, 200_000, 0)
}

func BenchmarkJSONLevelFilter(b *testing.B) {
	runBench(b, `{namespace=~".+"} | json | level="error"`, 200_000, 0)
}

func BenchmarkSumCountOverTime(b *testing.B) {
	runBench(b, `sum by (level) (count_over_time({namespace=~".+"}[1m]))`, 1_000_000, time.Minute)
}
