package ruler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

// BenchmarkTick1000Rules measures one tick over 1,000 alerting rules (10
// tenants × 10 groups × 10 rules; every rule has 2 label sets firing) as a
// fresh function instance runs it: the ruler's own cost, with a querier
// that answers at once (the queries' cost is the frontend's, measured in
// its own benchmarks). Per tick it reports bucket requests and bytes.
func BenchmarkTick1000Rules(b *testing.B) {
	b.Run("mem", func(b *testing.B) { benchTick(b, bucket.NewMem()) })
	b.Run("minio", func(b *testing.B) {
		srv := miniotest.Start(b)
		benchTick(b, srv.NewBucket(b, "ruler-bench"))
	})
}

func benchTick(b *testing.B, base bucket.Bucket) {
	q := QuerierFunc(func(_ context.Context, _ tenant.ID, p engine.Params) (engine.Result, error) {
		if _, err := syntax.Parse(p.Query); err != nil { // a real querier parses at least
			return engine.Result{}, err
		}
		ms := p.Start.UnixMilli()
		return engine.Result{Value: engine.Vector{
			sample(20, "app", "a", "namespace", "prod"),
			{Labels: sample(0, "app", "b", "namespace", "prod").Labels, T: ms, V: 30},
		}}, nil
	})
	ctx := context.Background()
	setup, err := New(DefaultConfig(), base, q, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for ti := range 10 {
		t := tenant.ID(fmt.Sprintf("tenant-%d", ti))
		for gi := range 10 {
			var sb strings.Builder
			fmt.Fprintf(&sb, "name: group-%d\ninterval: 1m\nrules:\n", gi)
			for ri := range 10 {
				fmt.Fprintf(&sb, "  - alert: Errors%d\n    expr: sum by (app, namespace) (count_over_time({app=~\"app-%d.*\", level=\"error\"}[5m])) > %d\n    for: 5m\n    labels: {severity: page}\n    annotations:\n      summary: '{{ $labels.app }} logged {{ $value }} errors'\n", ri, gi, ri)
			}
			g, err := ParseGroup([]byte(sb.String()))
			if err != nil {
				b.Fatal(err)
			}
			if err := setup.Store().Put(ctx, t, "ns", g); err != nil {
				b.Fatal(err)
			}
		}
	}
	var stats bucket.Stats
	bkt := bucket.Metered(base, &stats)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// One tick first, so that measured ticks carry state (pending alerts).
	if _, err := newBenchRuler(b, bkt, q).Tick(ctx, at); err != nil {
		b.Fatal(err)
	}
	before := stats.Snapshot()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		st, err := newBenchRuler(b, bkt, q).Tick(ctx, at.Add(time.Duration(n)*time.Minute))
		if err != nil || st.Rules != 1000 {
			b.Fatalf("%+v %v", st, err)
		}
	}
	c := stats.Snapshot().Sub(before)
	b.ReportMetric(float64(c.Gets+c.RangeGets)/float64(n), "gets/tick")
	b.ReportMetric(float64(c.Puts)/float64(n), "puts/tick")
	b.ReportMetric(float64(c.Lists)/float64(n), "lists/tick")
	b.ReportMetric(float64(c.Deletes)/float64(n), "deletes/tick")
	b.ReportMetric(float64(c.BytesRead)/float64(n), "bytes_read/tick")
	b.ReportMetric(float64(c.BytesWritten)/float64(n), "bytes_written/tick")
}

func newBenchRuler(b *testing.B, bkt bucket.Bucket, q Querier) *Ruler {
	cfg := DefaultConfig()
	cfg.DefaultRules = false
	r, err := New(cfg, bkt, q, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
