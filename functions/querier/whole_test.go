package querier_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
)

// writeDays stores es as one data file and index per UTC day.
func writeDays(t *testing.T, b bucket.Bucket, es []ent) {
	t.Helper()
	byDay := map[objkey.Day][]ent{}
	for _, e := range es {
		byDay[objkey.DayOf(e.ts)] = append(byDay[objkey.DayOf(e.ts)], e)
	}
	for d, des := range byDay {
		slices.SortFunc(des, compareEnts)
		var buf bytes.Buffer
		w := datafile.NewWriter(&buf, datafile.DefaultConfig())
		for _, e := range des {
			if err := w.Append(e.ls, e.ts, e.line, e.md); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		id := objkey.MustNewULID()
		ctx := context.Background()
		if err := bucket.PutBytes(ctx, b, objkey.Data(tid, d, id), buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := bucket.PutBytes(ctx, b, objkey.Index(tid, d, id), index.Build(sum, index.DefaultConfig()).Encode()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWholeQuerySpansDays runs queries the engine cannot split as one
// multi-day request (empty Day), as the frontend sends them, and compares
// the answer with the engine over the same entries.
func TestWholeQuerySpansDays(t *testing.T) {
	es := genDay(6000, 0.05, 7) // about 33 hours from 2026-11-25T00:00
	if objkey.DayOf(es[0].ts) == objkey.DayOf(slices.MaxFunc(es, func(a, b ent) int { return int(a.ts - b.ts) }).ts) {
		t.Fatal("the test data does not span two days")
	}
	b := newDir(t)
	writeDays(t, b, es)
	q := querier.New(querier.DefaultConfig(), b, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	eng := engine.New(engine.Opts{})
	mem := memSource(es)
	d0 := testDay().Start()
	for _, c := range []struct {
		query      string
		start, end time.Duration
		step       time.Duration
		limit      int
	}{
		{query: `quantile_over_time(0.9, {namespace=~".+"} | logfmt | unwrap duration(duration) | __error__="" [2h])`, start: 20 * time.Hour, end: 30 * time.Hour, step: time.Hour},
		{query: `stddev_over_time({namespace=~".+"} | json | unwrap latency_ms | __error__="" [3h])`, start: 22 * time.Hour, end: 26 * time.Hour, step: time.Hour},
		{query: `sum by (level) (count_over_time({namespace=~".+"}[1h]))`, start: 20 * time.Hour, end: 28 * time.Hour, step: 2 * time.Hour},
		{query: `{namespace="payments"}`, start: 23 * time.Hour, end: 25 * time.Hour, limit: 50},
	} {
		p := engine.Params{Query: c.query, Start: d0.Add(c.start), End: d0.Add(c.end), Step: c.step, Limit: c.limit}
		resp, err := q.Query(t.Context(), querier.Request{
			Kind: querier.KindQuery, Tenant: tid,
			ShardFrom: p.Start.Add(-4 * time.Hour).UnixNano(), ShardThrough: p.End.Add(time.Nanosecond).UnixNano(),
			Query: c.query, Start: p.Start.UnixNano(), End: p.End.UnixNano(), Step: int64(c.step), Limit: c.limit,
		})
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		got, err := lokijson.Decode(resp.Partial)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.query, err)
		}
		exp, err := eng.Query(t.Context(), mem, p)
		if err != nil {
			t.Fatal(err)
		}
		if empty(exp.Value) {
			t.Fatalf("%s selects nothing: the case proves nothing", c.query)
		}
		want := exp.Value
		if ss, ok := want.(engine.Streams); ok {
			want = lokijson.Categorize(ss, engine.Backward)
		}
		if diff := cmp.Diff(want, got.Value); diff != "" {
			t.Errorf("%s: (-engine +querier):\n%s", c.query, diff)
		}
	}
	// Too many days is a bad request, not a month-long scan.
	_, err := q.Query(t.Context(), querier.Request{Kind: querier.KindQuery, Tenant: tid, Query: `{a="b"}`,
		ShardFrom: d0.UnixNano(), ShardThrough: d0.Add(40 * 24 * time.Hour).UnixNano()})
	if querier.HTTPStatus(err) != 400 {
		t.Fatalf("40-day request: %v", err)
	}
}
