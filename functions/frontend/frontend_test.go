package frontend_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestGolden runs a logcli-shaped set of requests through the handler
// and compares the JSON (without timings) with Loki's shapes kept in
// testdata.
func TestGolden(t *testing.T) {
	e := newEnv(t, 3, nil)
	from, to := now.Add(-50*time.Hour), now.Add(-46*time.Hour)
	cases := []struct {
		name, path string
		kv         []string
	}{
		{"query_range_logs", "/loki/api/v1/query_range", []string{"query", `{app="api"} |= "status=500"`, "start", ts(from), "end", ts(to), "limit", "5"}},
		{"query_range_logs_forward", "/loki/api/v1/query_range", []string{"query", `{env="dev"}`, "start", ts(from), "end", ts(to), "limit", "3", "direction", "forward"}},
		{"query_range_metric", "/loki/api/v1/query_range", []string{"query", `sum by (level) (count_over_time({app="api"}[1h]))`, "start", from.Format(time.RFC3339), "end", to.Format(time.RFC3339), "step", "1h"}},
		{"query_range_unwrap", "/loki/api/v1/query_range", []string{"query", `max_over_time({app="web"} | logfmt | unwrap duration(duration) [2h])`, "start", fmt.Sprintf("%d.250", from.Unix()), "end", fmt.Sprintf("%d.250", to.Unix()), "step", "7200"}},
		{"query_instant_vector", "/loki/api/v1/query", []string{"query", `sum by (app) (rate({env=~".+"}[1h]))`, "time", ts(to)}},
		{"query_instant_scalar", "/loki/api/v1/query", []string{"query", `1 + 2`, "time", ts(to)}},
		{"query_healthcheck", "/loki/api/v1/query", []string{"query", `vector(1)+vector(1)`, "time", ts(to)}},
		{"labels", "/loki/api/v1/labels", []string{"start", ts(from), "end", ts(to)}},
		{"label_values", "/loki/api/v1/label/level/values", []string{"start", ts(from), "end", ts(to)}},
		{"label_values_query", "/loki/api/v1/label/level/values", []string{"start", ts(from), "end", ts(to), "query", `{env="dev"}`}},
		{"series", "/loki/api/v1/series", []string{"match[]", `{app="api"}`, "match[]", `{env="dev"}`, "start", ts(from), "end", ts(to)}},
		{"index_stats", "/loki/api/v1/index/stats", []string{"query", `{app="api"}`, "start", ts(from), "end", ts(to)}},
		{"index_volume", "/loki/api/v1/index/volume", []string{"query", `{app=~".+"}`, "start", ts(from), "end", ts(to)}},
		{"index_volume_range", "/loki/api/v1/index/volume_range", []string{"query", `{app="api"}`, "start", ts(from), "end", ts(to), "step", "2h", "targetLabels", "level"}},
		{"detected_labels", "/loki/api/v1/detected_labels", []string{"query", `{env=~".+"}`, "start", ts(from), "end", ts(to)}},
		{"detected_fields", "/loki/api/v1/detected_fields", []string{"query", `{app="api"}`, "start", ts(from), "end", ts(to), "line_limit", "50"}},
		{"format_query", "/loki/api/v1/format_query", []string{"query", `sum by(app)(rate({app="api"}|="x"[5m]))`}},
		{"buildinfo", "/loki/api/v1/status/buildinfo", nil},
		{"legacy_labels", "/api/prom/label", []string{"start", ts(from), "end", ts(to)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, e.h, c.path, c.kv...)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			golden(t, c.name, body)
		})
	}
}

// TestHealthCheck: Grafana's "Save & test" sends vector(1)+vector(1) as an
// instant query and wants 2; Loki answers a vector.
func TestHealthCheck(t *testing.T) {
	e := newEnv(t, 0, nil)
	code, body := get(t, e.h, "/loki/api/v1/query", "query", "vector(1)+vector(1)", "time", "1764331200")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	d, err := lokijson.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Vector{{Labels: labels.Labels{}, T: 1764331200000, V: 2}}
	if diff := cmp.Diff(want, d.Value); diff != "" {
		t.Fatalf("vector(1)+vector(1) (-want +got):\n%s", diff)
	}
	if n := e.inv.calls.Load(); n != 0 {
		t.Errorf("health check invoked %d queriers, want 0", n)
	}
}

// TestMatchesEngine: every answer through shards, caches and merges is
// the engine's answer over all entries at once.
func TestMatchesEngine(t *testing.T) {
	e := newEnv(t, 3, func(c *frontend.Config) { c.Limits.MaxQueryParallelism = 3 })
	start, end := now.Add(-70*time.Hour), now.Add(-10*time.Minute)
	queries := []engine.Params{
		{Query: `{app="api"}`, Limit: 1000},
		{Query: `{app="api"} |= "status=500"`, Limit: 37},
		{Query: `{env=~".+"} | logfmt | status >= 400`, Limit: 50, Direction: engine.Forward},
		{Query: `{app="web"} | logfmt | line_format "{{.path}}"`, Limit: 20},
		{Query: `{app="api"}`, Limit: 10, Interval: 7 * time.Hour},
		{Query: `sum by (level) (count_over_time({app="api"}[1h]))`, Step: time.Hour},
		{Query: `rate({env="dev"} |= "users" [30m])`, Step: 3 * time.Hour},
		{Query: `topk(1, sum by (app) (bytes_over_time({env=~".+"}[2h])))`, Step: 5 * time.Hour},
		{Query: `quantile_over_time(0.9, {app="api"} | logfmt | unwrap duration(duration) [3h]) by (level)`, Step: 6 * time.Hour},
		{Query: `avg_over_time({app="web"} | logfmt | unwrap status [1h] offset 30m)`, Step: 4 * time.Hour},
	}
	for _, p := range queries {
		t.Run(p.Query, func(t *testing.T) {
			for round := range 2 { // the second round is served from the cache
				p := p
				p.Start, p.End = start, end
				res, err := e.fe.Query(context.Background(), tid, p)
				if err != nil {
					t.Fatal(err)
				}
				// The frontend aligns range queries to the step, as Loki's.
				if diff := cmp.Diff(reference(t, e.es, engine.AlignStep(p)), res.Value); diff != "" {
					t.Fatalf("round %d (-engine +frontend):\n%s", round, diff)
				}
			}
		})
	}
}

// TestFanOut: a 30-day metric query runs as 30 day shards.
func TestFanOut(t *testing.T) {
	e := newEnv(t, 31, func(c *frontend.Config) { c.CacheSize = 0 })
	e.bkt = nil
	fe, err := frontend.New(e.cfg, e.inv, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	start := time.Date(2026, 10, 29, 1, 0, 0, 0, time.UTC) // lookback 5m stays in Oct 29
	end := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	res, err := fe.Query(context.Background(), tid, engine.Params{
		Query: `sum(count_over_time({app="api"}[5m]))`, Start: start, End: end, Step: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.inv.calls.Load(); n != 30 {
		t.Errorf("invocations = %d, want 30 (days %v)", n, e.inv.days)
	}
	if res.Stats.Shards != 30 || res.Stats.Invocations != 30 {
		t.Errorf("stats %+v, want 30 shards and invocations", res.Stats)
	}
	if diff := cmp.Diff(reference(t, e.es, engine.Params{Query: `sum(count_over_time({app="api"}[5m]))`, Start: start, End: end, Step: time.Hour}), res.Value); diff != "" {
		t.Errorf("(-engine +frontend):\n%s", diff)
	}
}

// TestCache: a repeated query is answered from memory, except for the
// shards too fresh to cache; a new frontend over the same bucket is
// answered from the bucket tier.
func TestCache(t *testing.T) {
	e := newEnv(t, 3, nil)
	kv := []string{"query", `sum by (level) (count_over_time({app="api"}[10m]))`,
		"start", ts(now.Add(-60 * time.Hour)), "end", ts(now), "step", "600"}
	// Days 25, 26, 27 are cacheable; the 28th (today) is not.
	code, body := get(t, e.h, "/loki/api/v1/query_range", kv...)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	first := stats(t, body)
	if c := first.Cache.Result; c.EntriesFound != 0 || c.EntriesRequested != 3 || c.EntriesStored != 3 {
		t.Errorf("first run cache stats %+v, want 3 misses stored", c)
	}
	if n := e.inv.calls.Load(); n != 4 {
		t.Errorf("first run: %d invocations, want 4", n)
	}
	e.inv.reset()
	code, body2 := get(t, e.h, "/loki/api/v1/query_range", kv...)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body2)
	}
	if c := stats(t, body2).Cache.Result; c.EntriesFound != 3 || c.EntriesRequested != 3 {
		t.Errorf("second run cache stats %+v, want 3 hits", c)
	}
	if n := e.inv.calls.Load(); n != 1 {
		t.Errorf("second run: %d invocations, want 1 (today)", n)
	}
	if !sameResult(t, body, body2) {
		t.Errorf("cached answer differs:\n%s\n%s", body, body2)
	}

	// A new frontend (scaled from zero) finds the bucket tier.
	e.inv.reset()
	fe2 := e.newFrontend()
	code, body3 := get(t, fe2.Handler(), "/loki/api/v1/query_range", kv...)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body3)
	}
	if c := stats(t, body3).Cache.Result; c.EntriesFound != 3 {
		t.Errorf("new frontend cache stats %+v, want 3 hits", c)
	}
	if n := e.inv.calls.Load(); n != 1 {
		t.Errorf("new frontend: %d invocations, want 1", n)
	}
	if !sameResult(t, body, body3) {
		t.Errorf("bucket-tier answer differs")
	}
	var keys []string
	_ = e.bkt.List(context.Background(), string(tid)+"/cache/", func(oi bucket.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if len(keys) != 3 {
		t.Errorf("bucket tier holds %d objects, want 3: %v", len(keys), keys)
	}

	// Log queries cache whole days independently of the query's range.
	e.inv.reset()
	res, err := e.fe.Query(context.Background(), tid, engine.Params{Query: `{app="web"}`,
		Start: now.Add(-80 * time.Hour), End: now.Add(-30 * time.Hour), Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := e.fe.Query(context.Background(), tid, engine.Params{Query: `{app="web"}`,
		Start: now.Add(-75 * time.Hour), End: now.Add(-30 * time.Hour), Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Misses != 3 || res2.Stats.MemoryHits != 2 || res2.Stats.Misses != 1 {
		t.Errorf("log cache: first %+v, second %+v; want the whole day and the same last piece to hit", res.Stats, res2.Stats)
	}
}

func sameResult(t *testing.T, a, b []byte) bool {
	ra, err := lokijson.Decode(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := lokijson.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return cmp.Equal(ra.Value, rb.Value)
}

// TestEarlyStop: a backward log query with a limit runs only the newest
// shards it needs (forward: the oldest), and answers as the engine does.
func TestEarlyStop(t *testing.T) {
	e := newEnv(t, 3, func(c *frontend.Config) { c.Limits.MaxQueryParallelism = 1 })
	start, end := now.Add(-80*time.Hour), now.Add(-13*time.Hour)
	for _, c := range []struct {
		p    engine.Params
		want int64
		days []string
	}{
		{engine.Params{Query: `{app="api"}`, Limit: 100}, 1, []string{"2026-11-27"}},
		{engine.Params{Query: `{app="api"}`, Limit: 300}, 2, []string{"2026-11-27", "2026-11-26"}},
		{engine.Params{Query: `{app="api"}`, Limit: 100, Direction: engine.Forward}, 1, []string{"2026-11-25"}},
		{engine.Params{Query: `{app="api"} |= "nothing matches this"`, Limit: 100}, 3, []string{"2026-11-27", "2026-11-26", "2026-11-25"}},
	} {
		e.inv.reset()
		p := c.p
		p.Start, p.End = start, end
		res, err := e.fe.Query(context.Background(), tid, p)
		if err != nil {
			t.Fatal(err)
		}
		if n := e.inv.calls.Load(); n != c.want || !cmp.Equal(e.inv.days, c.days) {
			t.Errorf("%s limit %d %s: %d invocations %v, want %d %v", p.Query, p.Limit, p.Direction, n, e.inv.days, c.want, c.days)
		}
		if diff := cmp.Diff(reference(t, e.es, p), res.Value); diff != "" {
			t.Errorf("%s (-engine +frontend):\n%s", p.Query, diff)
		}
	}
}

// TestEarlyStopRepeat: repeating a limited log query whose shards are
// cached invokes no querier, with a window that would otherwise launch
// shards ahead of need (found end to end: cancelled look-ahead shards were
// never cached, so every repeat launched and cancelled them again).
func TestEarlyStopRepeat(t *testing.T) {
	e := newEnv(t, 5, nil)
	// Later shards answer slowly, so the look-ahead is still running when
	// the limit is met and is cancelled.
	var launched atomic.Int64 // every invocation, finished or cancelled
	slow := frontend.InvokerFunc(func(ctx context.Context, req querier.Request) (querier.Response, error) {
		launched.Add(1)
		if req.ShardThrough < now.Add(-40*time.Hour).UnixNano() {
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return querier.Response{}, ctx.Err()
			}
		}
		return e.inv.Invoke(ctx, req)
	})
	fe, err := frontend.New(e.cfg, slow, e.bkt, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	e.fe = fe
	p := engine.Params{Query: `{app="api"}`, Limit: 300, Start: now.Add(-5 * 24 * time.Hour), End: now.Add(-13 * time.Hour)}
	first, err := e.fe.Query(context.Background(), tid, p)
	if err != nil {
		t.Fatal(err)
	}
	if e.inv.calls.Load() < 2 {
		t.Fatalf("the query needs %d shard(s): it cannot show the look-ahead", e.inv.calls.Load())
	}
	if launched.Load() <= e.inv.calls.Load() {
		t.Fatalf("no look-ahead shard was cancelled (%d launched, %d answered): the case proves nothing", launched.Load(), e.inv.calls.Load())
	}
	for i := 0; i < 3; i++ {
		launched.Store(0)
		again, err := e.fe.Query(context.Background(), tid, p)
		if err != nil {
			t.Fatal(err)
		}
		if n := launched.Load(); n != 0 {
			t.Fatalf("repeat %d: %d invocations, want 0", i, n)
		}
		if diff := cmp.Diff(first.Value, again.Value); diff != "" {
			t.Fatalf("repeat %d differs:\n%s", i, diff)
		}
	}
}

// TestCacheSeesLateData: entries that arrive late for an old day (a new
// data file for it) are in the answer once the day's listing is read
// again, although the shard was cached: the generation is in the key.
func TestCacheSeesLateData(t *testing.T) {
	clock := now
	e := newEnv(t, 3, func(c *frontend.Config) { c.Now = func() time.Time { return clock } })
	p := engine.Params{Query: `sum(count_over_time({app="api"}[1h]))`, Start: now.Add(-60 * time.Hour), End: now.Add(-40 * time.Hour), Step: time.Hour}
	before, err := e.fe.Query(context.Background(), tid, p)
	if err != nil {
		t.Fatal(err)
	}
	e.inv.reset()
	if _, err := e.fe.Query(context.Background(), tid, p); err != nil || e.inv.calls.Load() != 0 {
		t.Fatalf("repeat: %v, %d invocations; want a cache hit", err, e.inv.calls.Load())
	}
	// A late flush for the old day: one more api entry at p.Start+30m.
	late := e.es[0]
	for _, x := range e.es {
		if x.ls.Get("app") == "api" {
			late = x
			break
		}
	}
	late.ts = p.Start.Add(30 * time.Minute).UnixNano()
	late.line = "arrived late"
	writeDays(t, e.bkt, []ent{late})
	e.es = append(e.es, late)
	clock = clock.Add(time.Minute) // past the listing's time to live
	after, err := e.fe.Query(context.Background(), tid, p)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(before.Value, after.Value) {
		t.Fatal("the late entry is not in the answer: a stale cached shard was served")
	}
	if diff := cmp.Diff(reference(t, e.es, p), after.Value); diff != "" {
		t.Fatalf("(-engine +frontend):\n%s", diff)
	}
}

// TestEarlyStopParallel: with the default parallelism the window starts
// at one shard, so a limit the newest shard meets costs one invocation.
func TestEarlyStopParallel(t *testing.T) {
	e := newEnv(t, 3, nil)
	res, err := e.fe.Query(context.Background(), tid, engine.Params{Query: `{env=~".+"}`, Limit: 50,
		Start: now.Add(-80 * time.Hour), End: now.Add(-13 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.inv.calls.Load(); n != 1 || res.Stats.Shards != 1 {
		t.Errorf("%d invocations, %d shards; want 1", n, res.Stats.Shards)
	}
}

// TestLimitsAndErrors: Loki's texts and statuses.
func TestLimitsAndErrors(t *testing.T) {
	e := newEnv(t, 1, func(c *frontend.Config) {
		c.Limits.MaxQuerySeries = 2
	})
	cases := []struct {
		name, path string
		kv         []string
		code       int
		msg        string
	}{
		{"query length", "/loki/api/v1/query_range", []string{"query", `{app="api"}`, "start", ts(now.Add(-745 * time.Hour)), "end", ts(now)},
			400, "the query time range exceeds the limit (query length: 31d1h, limit: 30d1h)"},
		{"entries limit", "/loki/api/v1/query_range", []string{"query", `{app="api"}`, "limit", "6000"},
			400, "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)"},
		{"series limit", "/loki/api/v1/query_range", []string{"query", `count_over_time({env=~".+"}[1h])`, "start", ts(now.Add(-2 * time.Hour)), "end", ts(now)},
			400, "maximum number of series (2) reached for a single query"},
		{"parse error", "/loki/api/v1/query_range", []string{"query", `{app="api"`},
			400, "parse error"},
		{"instant log query", "/loki/api/v1/query", []string{"query", `{app="api"}`},
			400, "log queries are not supported as an instant query type, please change your query to a range query type"},
		{"end before start", "/loki/api/v1/query_range", []string{"query", `{app="api"}`, "start", ts(now), "end", ts(now.Add(-time.Hour))},
			400, "end timestamp must not be before or equal to start time"},
		{"bad step", "/loki/api/v1/query_range", []string{"query", `rate({app="api"}[1m])`, "step", "0"},
			400, "zero or negative query resolution step widths are not accepted. Try a positive integer"},
		{"too many points", "/loki/api/v1/query_range", []string{"query", `rate({app="api"}[1m])`, "start", ts(now.Add(-24 * time.Hour)), "end", ts(now), "step", "1"},
			400, "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter"},
		{"bad limit", "/loki/api/v1/query_range", []string{"query", `{app="api"}`, "limit", "-1"},
			400, "limit must be a positive value"},
		{"bad direction", "/loki/api/v1/query_range", []string{"query", `{app="api"}`, "direction", "up"},
			400, "invalid direction 'up'"},
		{"bad time", "/loki/api/v1/query_range", []string{"query", `{app="api"}`, "start", "yesterday"},
			400, "could not parse 'start' parameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, e.h, c.path, c.kv...)
			if code != c.code || !strings.HasPrefix(string(body), c.msg) {
				t.Errorf("got %d %q, want %d %q", code, body, c.code, c.msg)
			}
		})
	}

	t.Run("no org id", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, "/loki/api/v1/labels", nil)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || w.Body.String() != "no org id\n" {
			t.Errorf("got %d %q", w.Code, w.Body.String())
		}
	})

	t.Run("timeout", func(t *testing.T) {
		cfg := testConfig()
		cfg.Limits.QueryTimeout = 20 * time.Millisecond
		block := frontend.InvokerFunc(func(ctx context.Context, _ querier.Request) (querier.Response, error) {
			<-ctx.Done()
			return querier.Response{}, ctx.Err()
		})
		fe, err := frontend.New(cfg, block, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fe.Close()
		code, body := get(t, fe.Handler(), "/loki/api/v1/query_range", "query", `{app="api"}`)
		if code != http.StatusGatewayTimeout || !strings.HasPrefix(string(body), "request timed out") {
			t.Errorf("got %d %q", code, body)
		}
	})

	t.Run("querier error", func(t *testing.T) {
		fail := frontend.InvokerFunc(func(context.Context, querier.Request) (querier.Response, error) {
			return querier.Response{}, errors.New("disk on fire")
		})
		fe, err := frontend.New(testConfig(), fail, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fe.Close()
		code, body := get(t, fe.Handler(), "/loki/api/v1/labels")
		if code != http.StatusInternalServerError || !strings.Contains(string(body), "disk on fire") {
			t.Errorf("got %d %q", code, body)
		}
	})

	t.Run("per-tenant override", func(t *testing.T) {
		cfg := testConfig()
		cfg.Overrides = func(tenant.ID) frontend.Limits {
			l := frontend.DefaultLimits()
			l.MaxEntriesLimitPerQuery = 10
			return l
		}
		fe, err := frontend.New(cfg, e.inv, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fe.Close()
		code, body := get(t, fe.Handler(), "/loki/api/v1/query_range", "query", `{app="api"}`, "limit", "11")
		if code != 400 || string(body) != "max entries limit per query exceeded, limit > max_entries_limit_per_query (11 > 10)\n" {
			t.Errorf("got %d %q", code, body)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	bad := map[string]func(*frontend.Config){
		"split":       func(c *frontend.Config) { c.Limits.SplitQueriesByInterval = 7 * time.Hour },
		"parallelism": func(c *frontend.Config) { c.Limits.MaxQueryParallelism = 0 },
		"timeout":     func(c *frontend.Config) { c.Limits.QueryTimeout = 0 },
		"cache":       func(c *frontend.Config) { c.CacheSize = -1 },
		"tail":        func(c *frontend.Config) { c.TailPollInterval = 0 },
	}
	for name, edit := range bad {
		c := frontend.DefaultConfig()
		edit(&c)
		if err := c.Validate(); !errors.Is(err, frontend.ErrBadConfig) {
			t.Errorf("%s: Validate = %v, want ErrBadConfig", name, err)
		}
	}
	if err := frontend.DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

// TestLimitsYAML: an overrides file in Loki's names decodes into Limits.
func TestLimitsYAML(t *testing.T) {
	src := "max_query_length: 24h\nmax_entries_limit_per_query: 100\nmax_query_series: 7\nquery_timeout: 30s\n" +
		"max_query_parallelism: 4\nsplit_queries_by_interval: 6h\nmax_cache_freshness_per_query: 10m\nquery_ingesters_within: 2h\n"
	l := frontend.DefaultLimits()
	if err := yaml.Unmarshal([]byte(src), &l); err != nil {
		t.Fatal(err)
	}
	want := frontend.Limits{MaxQueryLength: 24 * time.Hour, MaxEntriesLimitPerQuery: 100, MaxQuerySeries: 7,
		QueryTimeout: 30 * time.Second, MaxQueryParallelism: 4, SplitQueriesByInterval: 6 * time.Hour,
		MaxCacheFreshness: 10 * time.Minute, QueryIngestersWithin: 2 * time.Hour}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := l.Validate(); err != nil {
		t.Error(err)
	}
}

// TestMultiTenantLimit: "a|b" is a multi-tenant query only where every
// tenant named has multi_tenant_queries_enabled; otherwise Loki's 400.
func TestMultiTenantLimit(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := newEnv(t, 1, func(c *frontend.Config) { c.Limits.MultiTenantQueriesEnabled = on })
		r := httptest.NewRequest(http.MethodGet, "/loki/api/v1/labels", nil)
		r.Header.Set(frontend.HeaderOrgID, string(tid)+"|other")
		w := httptest.NewRecorder()
		e.fe.Handler().ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Result().Body)
		switch {
		case !on && (w.Code != http.StatusBadRequest || !strings.Contains(string(body), "multiple org IDs present")):
			t.Errorf("limit off: %d %s, want 400 multiple org IDs present", w.Code, body)
		case on && (w.Code != http.StatusOK || !strings.Contains(string(body), `"__tenant_id__"`)):
			t.Errorf("limit on: %d %s, want the labels with __tenant_id__", w.Code, body)
		}
	}
}
