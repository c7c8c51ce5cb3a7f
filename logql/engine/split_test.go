package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/syntax"
)

// threeDays returns random entries over three UTC days: a handful of
// streams, JSON and logfmt lines with integer fields, and structured
// metadata on some lines.
func threeDays(seed uint64) (start time.Time, es []Entry) {
	r := rand.New(rand.NewPCG(seed, 1))
	start = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var streams []labels.Labels
	for _, app := range []string{"api", "web", "db"} {
		for _, lvl := range []string{"info", "warn", "error"} {
			streams = append(streams, labels.FromStrings("app", app, "level", lvl, "env", "prod"))
		}
	}
	span := int64(72 * time.Hour)
	for _, s := range streams {
		n := 200 + r.IntN(400)
		ts := make([]int64, n)
		for i := range ts {
			ts[i] = start.UnixNano() + r.Int64N(span)
		}
		slicesSort(ts)
		for i, t := range ts {
			var line string
			status := []int{200, 200, 201, 404, 500}[r.IntN(5)]
			if i%2 == 0 {
				line = fmt.Sprintf(`{"status":%d,"latency_ms":%d,"user":"u%d","msg":"req %d"}`, status, r.IntN(900), r.IntN(7), i)
			} else {
				line = fmt.Sprintf(`status=%d latency_ms=%d user=u%d msg="req %d"`, status, r.IntN(900), r.IntN(7), i)
			}
			var md labels.Labels
			if r.IntN(3) == 0 {
				md = labels.FromStrings("trace_id", fmt.Sprintf("t%d", r.IntN(5)))
			}
			es = append(es, Entry{Labels: s, Timestamp: t, Line: []byte(line), Metadata: md})
		}
	}
	return start, es
}

func slicesSort(ts []int64) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

var splitQueries = []string{
	`count_over_time({app="api"}[1h])`,
	`count_over_time({env="prod"} |= "500" [3h])`,
	`sum by (level) (count_over_time({env="prod"}[2h]))`,
	`sum(rate({app=~"api|web"}[30m]))`,
	`bytes_over_time({app="db"}[1h])`,
	`sum by (app) (bytes_rate({env="prod"}[1h]))`,
	`sum_over_time({app="api"} | logfmt latency_ms | unwrap latency_ms [1h])`,
	`sum by (app) (sum_over_time({env="prod"} | json | __error__="" | unwrap latency_ms [2h]))`,
	`avg_over_time({app="web"} | logfmt | unwrap latency_ms [90m]) by (level)`,
	`min_over_time({env="prod"} | logfmt | unwrap latency_ms [1h]) by (app)`,
	`max_over_time({env="prod"} | json | unwrap latency_ms | __error__="" [1h]) by (app, level)`,
	`first_over_time({app="api"} | logfmt | unwrap latency_ms [1h]) by (level)`,
	`last_over_time({app="db"} | logfmt | unwrap latency_ms [45m]) by (app)`,
	`rate({app="api"} | logfmt latency_ms | unwrap latency_ms [1h])`,
	`absent_over_time({app="nope"}[1h])`,
	`absent_over_time({app="api", level="warn"}[10m])`,
	`sum by (app) (count_over_time({env="prod"} | json | __error__="" | status >= 400 [1h]))`,
	`count by (app) (count_over_time({env="prod"}[1h]))`,
	`avg by (app) (count_over_time({env="prod"}[1h]))`,
	`max by (level) (count_over_time({env="prod"}[1h]))`,
	`topk(3, count_over_time({env="prod"}[2h]))`,
	`bottomk(2, sum by (app) (count_over_time({env="prod"}[2h])))`,
	`sum by (app) (count_over_time({env="prod"}[1h])) / on (app) group_left sum by (app) (count_over_time({env="prod"} |= "500" [1h]))`,
	`sum by (app) (rate({env="prod"}[1h])) > bool 0.05`,
	`label_replace(sum by (app) (count_over_time({env="prod"}[1h])), "svc", "$1-x", "app", "(.*)") * 2`,
	`count_over_time({app="web"} | trace_id="t1" [1h] offset 30m)`,
	`sum(count_over_time({env="prod"} | logfmt | user="u3" [6h])) or vector(0)`,
	`vector(1) + 1`,
}

var splitLogQueries = []struct {
	q     string
	limit int
	dir   Direction
}{
	{`{app="api"}`, 50, Backward},
	{`{env="prod"} |= "500"`, 100, Forward},
	{`{env="prod"} | json | status >= 400 | __error__=""`, 70, Backward},
	{`{app=~"web|db"} | logfmt | user="u1"`, 1000, Forward},
}

// shardedQuery evaluates p split at every multiple of w, the partials
// going through their binary form.
func shardedQuery(t *testing.T, e *Engine, src Source, p Params, from, to time.Time, w time.Duration) Result {
	t.Helper()
	ctx := context.Background()
	var parts []*Partial
	for s := from; s.Before(to); s = s.Add(w) {
		part, err := e.Partial(ctx, src, p, s, s.Add(w))
		if err != nil {
			t.Fatalf("%s: partial: %v", p.Query, err)
		}
		data, err := part.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Partial
		if err := back.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &back)
	}
	m, err := Merge(parts...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Finalize(ctx, p, m)
	if err != nil {
		t.Fatalf("%s: finalize: %v", p.Query, err)
	}
	return res
}

// TestSplitMerge checks that merging day shards and hour shards gives
// exactly the unsplit answer. Values are compared exactly: every sum here
// adds integers (counts, bytes, latency_ms) far below 2^53, min, max,
// first and last pick values, and the operations after the merge (avg,
// division, rate) run on the same operands in both paths.
func TestSplitMerge(t *testing.T) {
	start, es := threeDays(7)
	src := NewMemSource(es)
	e := New(Opts{})
	end := start.Add(72 * time.Hour)
	from, to := start.Add(-24*time.Hour), end.Add(24*time.Hour)
	exact := cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b float64) bool {
		return a == b || (math.IsNaN(a) && math.IsNaN(b))
	})}
	for _, q := range splitQueries {
		expr, err := syntax.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !Shardable(expr) {
			t.Fatalf("%s: want shardable", q)
		}
		for _, p := range []Params{
			{Query: q, Start: start.Add(30 * time.Minute), End: end.Add(-time.Hour), Step: 37 * time.Minute},
			{Query: q, Start: start.Add(36 * time.Hour), End: start.Add(36 * time.Hour)},
		} {
			want, err := e.Query(context.Background(), src, p)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for _, w := range []time.Duration{24 * time.Hour, time.Hour} {
				got := shardedQuery(t, e, src, p, from, to, w)
				if diff := cmp.Diff(want.Value, got.Value, exact); diff != "" {
					t.Errorf("%s step %v shards %v: differs (-unsplit +merged):\n%s", q, p.Step, w, diff)
				}
			}
		}
	}
	for _, lq := range splitLogQueries {
		p := Params{Query: lq.q, Start: start.Add(3 * time.Hour), End: end.Add(-5 * time.Hour), Limit: lq.limit, Direction: lq.dir}
		want, err := e.Query(context.Background(), src, p)
		if err != nil {
			t.Fatal(err)
		}
		if n := countEntries(want.Value.(Streams)); n == 0 {
			t.Fatalf("%s: no lines, the test proves nothing", lq.q)
		}
		for _, w := range []time.Duration{24 * time.Hour, time.Hour} {
			got := shardedQuery(t, e, src, p, from, to, w)
			if diff := cmp.Diff(want.Value, got.Value, exact); diff != "" {
				t.Errorf("%s shards %v: differs (-unsplit +merged):\n%s", lq.q, w, diff)
			}
		}
	}
}

func countEntries(ss Streams) int {
	n := 0
	for _, s := range ss {
		n += len(s.Entries)
	}
	return n
}

func TestShardable(t *testing.T) {
	for q, want := range map[string]bool{
		`{app="a"} |= "x"`:                                                                                true,
		`sum by (app) (rate({app="a"}[5m])) / 2`:                                                          true,
		`quantile_over_time(0.9, {app="a"} | logfmt | unwrap x [5m])`:                                     false,
		`stddev_over_time({app="a"} | logfmt | unwrap x [5m])`:                                            false,
		`stdvar_over_time({app="a"} | logfmt | unwrap x [5m])`:                                            false,
		`rate_counter({app="a"} | logfmt | unwrap x [5m])`:                                                false,
		`sum(count_over_time({app="a"}[5m])) + sum(stddev_over_time({app="a"} | logfmt | unwrap x [5m]))`: false,
		`first_over_time({app="a"} | logfmt | unwrap x [5m])`:                                             true,
		`absent_over_time({app="a"}[5m])`:                                                                 true,
	} {
		expr, err := syntax.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := Shardable(expr); got != want {
			t.Errorf("Shardable(%s) = %v, want %v", q, got, want)
		}
	}
	e := New(Opts{})
	_, err := e.Partial(context.Background(), NewMemSource(nil), Params{Query: `quantile_over_time(0.9, {app="a"} | logfmt | unwrap x [5m])`, Start: time.Unix(0, 0), End: time.Unix(0, 0)}, time.Unix(0, 0), time.Unix(60, 0))
	if err == nil {
		t.Fatal("want ErrNotShardable")
	}
}

func TestMergeRejectsForeignPartials(t *testing.T) {
	e := New(Opts{})
	ctx := context.Background()
	src := NewMemSource(nil)
	p1 := Params{Query: `count_over_time({app="a"}[5m])`, Start: time.Unix(0, 0), End: time.Unix(600, 0), Step: time.Minute}
	p2 := p1
	p2.Query = `count_over_time({app="b"}[5m])`
	a, err := e.Partial(ctx, src, p1, time.Unix(0, 0), time.Unix(300, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Partial(ctx, src, p2, time.Unix(300, 0), time.Unix(600, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(a, b); err == nil {
		t.Fatal("merged partials of different queries")
	}
	if _, err := e.Finalize(ctx, p2, a); err == nil {
		t.Fatal("finalized a partial with another query")
	}
}

func FuzzPartialDecode(f *testing.F) {
	start, es := threeDays(3)
	src := NewMemSource(es[:300])
	e := New(Opts{})
	for _, q := range []string{`{app="api"} | logfmt`, `sum by (level) (count_over_time({env="prod"}[1h]))`, `max_over_time({app="db"} | logfmt | unwrap latency_ms [1h]) by (app)`, `first_over_time({app="api"} | logfmt | unwrap latency_ms [1h])`} {
		p := Params{Query: q, Start: start, End: start.Add(6 * time.Hour), Step: time.Hour, Limit: 20}
		part, err := e.Partial(context.Background(), src, p, start, start.Add(24*time.Hour))
		if err != nil {
			f.Fatal(err)
		}
		data, err := part.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(partialMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Partial
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		// A decoded partial encodes back to the same bytes...
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var q Partial
		if err := q.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		again2, _ := q.MarshalBinary()
		if string(again) != string(again2) {
			t.Fatal("encoding not stable")
		}
		// ...and merging it with itself never panics.
		if _, err := Merge(&p, &q); err != nil {
			t.Fatalf("merge with itself: %v", err)
		}
	})
}
