package frontend_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
)

// BenchmarkCachedRepeat: a repeated query_range through the HTTP handler
// whose shards are all in the memory cache (goal: < 5 ms).
func BenchmarkCachedRepeat(b *testing.B) {
	e := newEnv(b, 3, nil)
	for _, c := range []struct {
		name string
		kv   []string
	}{
		{"metric_15m_step", []string{"query", `sum by (level) (count_over_time({app="api"}[10m]))`,
			"start", ts(now.Add(-72 * time.Hour)), "end", ts(now.Add(-12 * time.Hour)), "step", "900"}},
		{"metric_7200_points", []string{"query", `sum by (level) (count_over_time({app="api"}[10m]))`,
			"start", ts(now.Add(-72 * time.Hour)), "end", ts(now.Add(-12 * time.Hour)), "step", "60"}},
		{"logs", []string{"query", `{env=~".+"} |= "status=500"`,
			"start", ts(now.Add(-72 * time.Hour)), "end", ts(now.Add(-12 * time.Hour)), "limit", "100"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if code, body := get(b, e.h, "/loki/api/v1/query_range", c.kv...); code != http.StatusOK {
				b.Fatalf("status %d: %s", code, body)
			}
			e.inv.reset()
			b.ReportAllocs()
			for b.Loop() {
				if code, body := get(b, e.h, "/loki/api/v1/query_range", c.kv...); code != http.StatusOK {
					b.Fatalf("status %d: %s", code, body)
				}
			}
			if n := e.inv.calls.Load(); n != 0 {
				b.Fatalf("%d invocations, want all cached", n)
			}
		})
	}
}

// BenchmarkFanOut: the frontend's own cost for a 30-day metric query of
// 30 shards (split, invoke, decode, merge, finalise, encode), with
// queriers that answer instantly from recorded answers and no cache.
func BenchmarkFanOut(b *testing.B) {
	e := newEnv(b, 31, nil)
	var mu sync.Mutex
	recorded := make(map[string]querier.Response)
	inv := frontend.InvokerFunc(func(ctx context.Context, req querier.Request) (querier.Response, error) {
		mu.Lock()
		r, ok := recorded[req.Day]
		mu.Unlock()
		if ok {
			return r, nil
		}
		r, err := e.inv.Invoke(ctx, req)
		mu.Lock()
		recorded[req.Day] = r
		mu.Unlock()
		return r, err
	})
	cfg := testConfig()
	cfg.CacheSize = 0
	fe, err := frontend.New(cfg, inv, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer fe.Close()
	p := engine.Params{Query: `sum by (level) (count_over_time({app="api"}[5m]))`,
		Start: time.Date(2026, 10, 29, 0, 10, 0, 0, time.UTC), End: time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC), Step: time.Hour}
	if _, err := fe.Query(context.Background(), tid, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := fe.Query(context.Background(), tid, p)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.Invocations != 30 {
			b.Fatalf("%d invocations", res.Stats.Invocations)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/30, "ns/shard")
}
