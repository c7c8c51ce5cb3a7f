package querier_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// scenario is one day as the cluster leaves it: an early part compacted
// into one file, a middle part still in three replica files (one missing
// some entries, as a quorum write allows, one flushed as two files), and
// the newest part only in three ingesters (one also holding the end of
// the middle part, one missing some entries).
type scenario struct {
	all       []ent // every entry once
	storage   []ent // what the bucket holds, once
	bkt       bucket.Bucket
	ingesters []*fakeIngester
	stored    int64
}

func newScenario(t testing.TB, b bucket.Bucket, n int) *scenario {
	t.Helper()
	all := genDay(n, 1, 7)
	byTime := slices.Clone(all)
	slices.SortStableFunc(byTime, func(a, b ent) int { return int(a.ts - b.ts) })
	t1, t2 := byTime[n*4/10].ts, byTime[n*8/10].ts
	var p1, p2, p3 []ent
	for _, e := range byTime {
		switch {
		case e.ts < t1:
			p1 = append(p1, e)
		case e.ts < t2:
			p2 = append(p2, e)
		default:
			p3 = append(p3, e)
		}
	}
	s := &scenario{all: all, bkt: b}
	cfg := smallGroups()
	r := rand.New(rand.NewPCG(3, 4))
	s.stored += writeFile(t, b, p1, cfg)
	s.stored += writeFile(t, b, p2, cfg)
	half := len(p2) / 2
	s.stored += writeFile(t, b, p2[:half], cfg)
	s.stored += writeFile(t, b, p2[half:], cfg)
	var holes []ent
	for _, e := range p2 {
		if r.IntN(20) != 0 {
			holes = append(holes, e)
		}
	}
	s.stored += writeFile(t, b, holes, cfg)
	s.storage = append(slices.Clone(p1), p2...)

	tail := p2[len(p2)*9/10:]
	var p3holes []ent
	for _, e := range p3 {
		if r.IntN(10) != 0 {
			p3holes = append(p3holes, e)
		}
	}
	s.ingesters = []*fakeIngester{
		newFakeIngester(t, append(slices.Clone(tail), p3...)),
		newFakeIngester(t, p3),
		newFakeIngester(t, p3holes),
	}
	return s
}

func (s *scenario) urls() []string {
	var out []string
	for _, f := range s.ingesters {
		out = append(out, f.srv.URL)
	}
	return out
}

func newQuerier(t testing.TB, s *scenario, cfg querier.Config) *querier.Querier {
	t.Helper()
	var rec querier.Recent
	if s.ingesters != nil {
		rec = querier.NewHTTPRecent(s.urls(), nil, slog.New(slog.DiscardHandler))
	}
	return querier.New(cfg, s.bkt, rec, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
}

func newDir(t testing.TB) bucket.Bucket {
	t.Helper()
	b, err := bucket.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type qcase struct {
	query     string
	start     time.Duration // from the start of the day
	end       time.Duration
	step      time.Duration
	limit     int
	direction string
}

func (c qcase) params() engine.Params {
	d0 := testDay().Start()
	p := engine.Params{Query: c.query, Start: d0.Add(c.start), End: d0.Add(c.end), Step: c.step, Limit: c.limit}
	if c.direction == "forward" {
		p.Direction = engine.Forward
	}
	return p
}

func (c qcase) request(recent bool) querier.Request {
	p := c.params()
	return querier.Request{
		Kind: querier.KindQuery, Tenant: tid, Day: testDay().String(),
		ShardFrom: testDay().StartNano(), ShardThrough: testDay().EndNano(),
		Query: c.query, Start: ns(p.Start), End: ns(p.End), Step: int64(c.step),
		Limit: c.limit, Direction: c.direction, Recent: recent,
	}
}

func needleOf(t testing.TB, es []ent) string {
	for _, e := range es[len(es)/3:] {
		if id, ok := loggen.NeedleTraceID(loggen.Entry{Labels: e.ls, Line: e.line, Metadata: e.md}); ok {
			return id
		}
	}
	t.Fatal("no needle")
	return ""
}

func queryCases(needle string) []qcase {
	h := time.Hour
	return []qcase{
		{query: `{namespace="payments"}`, end: 24 * h, limit: 100},
		{query: `{namespace="payments"}`, end: 24 * h, limit: 100, direction: "forward"},
		{query: `{namespace="payments"}`, start: 2 * h, end: 3 * h, limit: 3000, direction: "forward"},
		{query: `{app=~".+"} |= "error"`, end: 24 * h, limit: 50},
		{query: `{app=~".+"} |= "GET" != "HTTP/2.0"`, end: 24 * h, limit: 200, direction: "forward"},
		{query: `{namespace=~".+"} | json | level="error"`, end: 24 * h, limit: 30},
		{query: `{namespace=~".+"} |= "` + needle + `"`, end: 24 * h, limit: 10},
		{query: `sum by (app) (count_over_time({namespace=~".+"}[5m]))`, end: 6 * h, step: 10 * time.Minute},
		{query: `sum by (namespace) (rate({namespace=~".+"} |= "GET" [1m]))`, start: h, end: 6 * h, step: 30 * time.Minute},
		{query: `sum(bytes_over_time({namespace=~".+"}[1h]))`, end: 7 * h, step: h},
		{query: `sum by (currency) (count_over_time({namespace=~".+"} | json | __error__="" [10m]))`, end: 6 * h, step: 20 * time.Minute},
		{query: `count_over_time({namespace=~".+"} |= "` + needle + `" [1h])`, end: 6 * h, step: h},
		{query: `sum by (namespace) (count_over_time({namespace=~".+"}[1h]))`, start: 5 * h, end: 5 * h},
	}
}

// checkQueries runs every case through the querier and the engine over
// the same entries in memory, and compares the answers.
func checkQueries(t *testing.T, q *querier.Querier, want []ent, recent bool, cases []qcase) {
	t.Helper()
	eng := engine.New(engine.Opts{})
	mem := memSource(want)
	ctx := t.Context()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%d", c.query, c.direction, c.limit), func(t *testing.T) {
			resp, err := q.Query(ctx, c.request(recent))
			if err != nil {
				t.Fatal(err)
			}
			var part engine.Partial
			if err := part.UnmarshalBinary(resp.Partial); err != nil {
				t.Fatal(err)
			}
			got, err := eng.Finalize(ctx, c.params(), &part)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := eng.Query(ctx, mem, c.params())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(exp.Value, got.Value); diff != "" {
				t.Errorf("querier and engine differ (-engine +querier):\n%s", diff)
			}
			if empty(exp.Value) {
				t.Errorf("the case selects nothing: it proves nothing")
			}
			st := resp.Stats
			if st.GetRequests == 0 || st.BytesRead == 0 || st.IndexObjects == 0 || st.LinesScanned == 0 {
				t.Errorf("implausible stats %+v", st)
			}
		})
	}
}

func empty(v engine.Value) bool {
	switch v := v.(type) {
	case engine.Streams:
		return len(v) == 0
	case engine.Matrix:
		return len(v) == 0
	case engine.Vector:
		return len(v) == 0
	}
	return false
}

func TestQueryMatchesEngine(t *testing.T) {
	s := newScenario(t, newDir(t), 20000)
	q := newQuerier(t, s, querier.DefaultConfig())
	needle := needleOf(t, s.storage)
	t.Run("recent", func(t *testing.T) {
		checkQueries(t, q, s.all, true, queryCases(needle))
	})
	t.Run("bucket only", func(t *testing.T) {
		checkQueries(t, q, s.storage, false, queryCases(needle))
	})
}

// TestNeedle checks that a trace id query reads a small part of the day
// and that the token filters did the pruning.
func TestNeedle(t *testing.T) {
	s := newScenario(t, newDir(t), 20000)
	s.ingesters = nil
	q := newQuerier(t, s, querier.DefaultConfig())
	needle := needleOf(t, s.storage)
	c := qcase{query: `{namespace=~".+"} |= "` + needle + `"`, end: 24 * time.Hour, limit: 10}
	checkQueries(t, q, s.storage, false, []qcase{c})
	resp, err := q.Query(t.Context(), c.request(false)) // indexes cached now
	if err != nil {
		t.Fatal(err)
	}
	st := resp.Stats
	t.Logf("warm needle: %+v (%.2f%% of %d stored bytes)", st, 100*float64(st.BytesRead)/float64(st.BytesStored), st.BytesStored)
	if st.BytesStored != s.stored {
		t.Errorf("bytes stored %d, want %d", st.BytesStored, s.stored)
	}
	if st.CacheHits != 5 || st.CacheMisses != 0 {
		t.Errorf("cache hits %d misses %d, want 5 and 0", st.CacheHits, st.CacheMisses)
	}
	if st.BytesRead*4 > st.BytesStored || st.BlocksSkipped*10 < st.BlocksTotal*9 {
		t.Errorf("needle read %d of %d bytes, skipped %d of %d blocks", st.BytesRead, st.BytesStored, st.BlocksSkipped, st.BlocksTotal)
	}
	// Exact substring semantics give the same answer and, with the
	// substring-safe gram filters of index version 4, prune as well.
	cfg := querier.DefaultConfig()
	cfg.DelimitedIDs = false
	exact := newQuerier(t, s, cfg)
	checkQueries(t, exact, s.storage, false, []qcase{c})
	resp, err = exact.Query(t.Context(), c.request(false))
	if err != nil {
		t.Fatal(err)
	}
	if ex := resp.Stats; ex.BytesRead*4 > ex.BytesStored || ex.BlocksSkipped*10 < ex.BlocksTotal*9 {
		t.Errorf("exact needle read %d of %d bytes, skipped %d of %d blocks", ex.BytesRead, ex.BytesStored, ex.BlocksSkipped, ex.BlocksTotal)
	}
}

func TestMeta(t *testing.T) {
	s := newScenario(t, newDir(t), 5000)
	q := newQuerier(t, s, querier.DefaultConfig())
	ctx := t.Context()
	base := querier.Request{Tenant: tid, Day: testDay().String(), ShardFrom: testDay().StartNano(), ShardThrough: testDay().EndNano()}

	storedStreams, allStreams := map[string]bool{}, map[string]bool{}
	for _, e := range s.storage {
		storedStreams[e.ls.String()] = true
	}
	for _, e := range s.all {
		allStreams[e.ls.String()] = true
	}
	if len(allStreams) == len(storedStreams) {
		t.Fatal("every stream is in the bucket: the recent-only cases prove nothing")
	}

	// What the bucket holds, and with the ingesters what exists at all.
	for _, recent := range []bool{false, true} {
		want := s.storage
		if recent {
			want = s.all
		}
		streams := map[string]map[string]string{}
		names, apps := map[string]bool{}, map[string]bool{}
		for _, e := range want {
			if e.ls.Get("namespace") != "payments" {
				continue
			}
			streams[e.ls.String()] = e.ls.Map()
			for _, l := range e.ls {
				names[l.Name] = true
			}
			apps[e.ls.Get("app")] = true
		}
		sel := `{namespace="payments"}`
		r := base
		r.Recent, r.Query = recent, sel

		r.Kind = querier.KindLabels
		got, err := q.Query(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sortedSet(names), got.Values); diff != "" {
			t.Errorf("labels (recent %v):\n%s", recent, diff)
		}

		// Without a selector: every stream, the ingesters' included.
		all := map[string]bool{}
		for _, e := range want {
			all[e.ls.String()] = true
		}
		r.Query, r.Kind = "", querier.KindSeries
		if got, err = q.Query(ctx, r); err != nil {
			t.Fatal(err)
		}
		gotAll := map[string]bool{}
		for _, m := range got.Series {
			gotAll[labels.FromMap(m).String()] = true
		}
		if diff := cmp.Diff(sortedSet(all), sortedSet(gotAll)); diff != "" {
			t.Errorf("series without a selector (recent %v):\n%s", recent, diff)
		}
		r.Query, r.Kind = sel, querier.KindLabels

		r.Kind, r.Name = querier.KindLabelValues, "app"
		if got, err = q.Query(ctx, r); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sortedSet(apps), got.Values); diff != "" {
			t.Errorf("label values (recent %v):\n%s", recent, diff)
		}

		r.Kind = querier.KindSeries
		if got, err = q.Query(ctx, r); err != nil {
			t.Fatal(err)
		}
		if len(got.Series) != len(streams) {
			t.Errorf("series (recent %v): %d, want %d", recent, len(got.Series), len(streams))
		}
		for _, m := range got.Series {
			k := fmt.Sprint(m)
			found := false
			for _, w := range streams {
				found = found || fmt.Sprint(w) == k
			}
			if !found {
				t.Errorf("series %v not expected", m)
			}
		}
	}

	// Stats and volume count what is stored, replicas included.
	r := base
	r.Kind, r.Query = querier.KindStats, `{namespace="payments"}`
	got, err := q.Query(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	st := got.IndexStats
	var entries, bytes uint64
	streams := map[string]bool{}
	for _, f := range s.storedFiles() {
		for _, e := range f {
			if e.ls.Get("namespace") == "payments" {
				entries++
				bytes += uint64(len(e.line))
				streams[e.ls.String()] = true
			}
		}
	}
	if st == nil || st.Entries != entries || st.Bytes != bytes || st.Streams != uint64(len(streams)) || st.Chunks < st.Streams {
		t.Errorf("stats %+v, want entries %d bytes %d streams %d", st, entries, bytes, len(streams))
	}

	// With recent data, the ingesters' unflushed entries count too, once,
	// and what they still hold of flushed data does not count again.
	rr := r
	rr.Recent = true
	if got, err = q.Query(ctx, rr); err != nil {
		t.Fatal(err)
	}
	var newEntries, newBytes uint64
	inStorage := map[string]bool{}
	for _, e := range s.storage {
		inStorage[fmt.Sprint(e.ls.String(), e.ts, e.line)] = true
	}
	for _, e := range s.all {
		if e.ls.Get("namespace") == "payments" && !inStorage[fmt.Sprint(e.ls.String(), e.ts, e.line)] {
			newEntries++
			newBytes += uint64(len(e.line))
		}
	}
	if newEntries == 0 {
		t.Fatal("no unflushed entries: the recent stats case proves nothing")
	}
	if rs := got.IndexStats; rs == nil || rs.Entries != entries+newEntries || rs.Bytes != bytes+newBytes {
		t.Errorf("recent stats %+v, want entries %d+%d bytes %d+%d", rs, entries, newEntries, bytes, newBytes)
	}
	rr.Kind, rr.TargetLabels = querier.KindVolume, []string{"namespace"}
	if got, err = q.Query(ctx, rr); err != nil {
		t.Fatal(err)
	}
	if len(got.Volumes) != 1 || got.Volumes[0].Bytes != bytes+newBytes {
		t.Errorf("recent volume %+v, want %d bytes", got.Volumes, bytes+newBytes)
	}

	r.Kind, r.TargetLabels = querier.KindVolume, []string{"app"}
	if got, err = q.Query(ctx, r); err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for i, v := range got.Volumes {
		sum += v.Bytes
		if len(v.Labels) != 1 || v.Labels["app"] == "" {
			t.Errorf("volume labels %v", v.Labels)
		}
		if i > 0 && v.Bytes > got.Volumes[i-1].Bytes {
			t.Errorf("volumes not by size")
		}
	}
	if sum != bytes {
		t.Errorf("volume sum %d, want %d", sum, bytes)
	}
	r.TargetLabels, r.AggregateBy = nil, "labels"
	if got, err = q.Query(ctx, r); err != nil {
		t.Fatal(err)
	}
	if len(got.Volumes) != 1 || got.Volumes[0].Bytes != bytes || got.Volumes[0].Labels["namespace"] != "" {
		t.Errorf("volume by labels: %+v", got.Volumes)
	}
}

// storedFiles returns the entries of each stored file, replicas apart.
func (s *scenario) storedFiles() [][]ent {
	// The scenario stores p1, p2, p2 in two halves, and p2 with holes;
	// rebuild them from the bucket instead of remembering: read every
	// file through the querier's own format packages.
	return readAllFiles(s.bkt)
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestIngesterFailures(t *testing.T) {
	s := newScenario(t, newDir(t), 5000)
	q := newQuerier(t, s, querier.DefaultConfig())
	c := qcase{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 500}
	s.ingesters[0].fail.Store(true)
	// ingesters 1 and 2 lack the tail of the middle part that only 0
	// held unflushed: no, the bucket holds it too. The answer is whole.
	checkQueries(t, q, s.all, true, []qcase{c})
	resp, err := q.Query(t.Context(), c.request(true))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Stats.IngesterFailures != 1 || resp.Stats.IngesterEntries == 0 {
		t.Errorf("stats %+v, want one ingester failure", resp.Stats)
	}
	s.ingesters[1].fail.Store(true)
	_, err = q.Query(t.Context(), c.request(true))
	if !errors.Is(err, querier.ErrIngesters) || querier.HTTPStatus(err) != 500 {
		t.Errorf("two ingesters down: %v, want ErrIngesters", err)
	}
}

func TestErrors(t *testing.T) {
	s := newScenario(t, newDir(t), 1000)
	s.ingesters = nil
	cfg := querier.DefaultConfig()
	cfg.MaxInternalSeries = 50
	q := newQuerier(t, s, cfg)
	ok := qcase{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 10}.request(false)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name   string
		ctx    context.Context
		edit   func(*querier.Request)
		is     error
		status int
	}{
		{"parse", t.Context(), func(r *querier.Request) { r.Query = `{namespace=~".+"` }, syntax.ErrParse, 400},
		{"kind", t.Context(), func(r *querier.Request) { r.Kind = "nope" }, querier.ErrBadRequest, 400},
		{"day", t.Context(), func(r *querier.Request) { r.Day = "2026-13-01" }, querier.ErrBadRequest, 400},
		{"tenant", t.Context(), func(r *querier.Request) { r.Tenant = "a/b" }, querier.ErrBadRequest, 400},
		{"direction", t.Context(), func(r *querier.Request) { r.Direction = "up" }, querier.ErrBadRequest, 400},
		{"entries limit", t.Context(), func(r *querier.Request) { r.Limit = 5001 }, engine.ErrLimit, 400},
		{"series limit", t.Context(), func(r *querier.Request) {
			r.Query = `count_over_time({namespace=~".+"}[1h])`
			r.Step = int64(time.Hour)
		}, engine.ErrLimit, 400},
		{"canceled", canceled, func(*querier.Request) {}, context.Canceled, 499},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ok
			c.edit(&r)
			_, err := q.Query(c.ctx, r)
			if !errors.Is(err, c.is) || querier.HTTPStatus(err) != c.status {
				t.Errorf("err %v (status %d), want %v and %d", err, querier.HTTPStatus(err), c.is, c.status)
			}
		})
	}
}
