package frontend_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var tid = tenant.MustParse("tenant-financial")

// now is the tests' clock: noon of 2026-11-28 (UTC).
var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ent is one test entry.
type ent struct {
	ls   labels.Labels
	ts   int64
	line string
	md   labels.Labels
}

func compareEnts(a, b ent) int {
	if c := labels.Compare(a.ls, b.ls); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return strings.Compare(a.line, b.line)
}

var streams = []labels.Labels{
	labels.FromStrings("app", "api", "env", "prod", "level", "info"),
	labels.FromStrings("app", "api", "env", "prod", "level", "error"),
	labels.FromStrings("app", "web", "env", "dev", "level", "info"),
}

// testData returns entries every 10 minutes per stream over the given
// days before now's day, and today up to now: logfmt lines, some with
// structured metadata.
func testData(days int) []ent {
	var out []ent
	start := now.Truncate(24*time.Hour).AddDate(0, 0, -days)
	for ts := start; ts.Before(now); ts = ts.Add(10 * time.Minute) {
		for i, ls := range streams {
			t := ts.Add(time.Duration(i) * time.Second)
			n := t.Unix() / 600
			line := fmt.Sprintf(`level=%s msg="request done" status=%d duration=%dms path=/v1/%s`,
				ls.Get("level"), 200+100*(n%4), 5+n%50, []string{"orders", "users", "pay"}[n%3])
			var md labels.Labels
			if ls.Get("level") == "error" {
				md = labels.FromStrings("trace_id", fmt.Sprintf("%016x", n))
			}
			out = append(out, ent{ls: ls, ts: t.UnixNano(), line: line, md: md})
		}
	}
	return out
}

// writeDays stores es as one data file and index per UTC day, as the
// ingester's flush does.
func writeDays(t testing.TB, b bucket.Bucket, es []ent) {
	t.Helper()
	byDay := make(map[objkey.Day][]ent)
	for _, e := range es {
		d := objkey.DayOf(e.ts)
		byDay[d] = append(byDay[d], e)
	}
	for d, es := range byDay {
		slices.SortFunc(es, compareEnts)
		var buf bytes.Buffer
		w := datafile.NewWriter(&buf, datafile.DefaultConfig())
		for _, e := range es {
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

func memSource(es []ent) *engine.MemSource {
	out := make([]engine.Entry, 0, len(es))
	for _, e := range es {
		out = append(out, engine.Entry{Labels: e.ls, Timestamp: e.ts, Line: []byte(e.line), Metadata: e.md})
	}
	return engine.NewMemSource(out)
}

// countingInvoker runs day shards on the real querier and whole
// (multi-day) requests — which the querier does not serve yet — on the
// engine over the same entries, as the contract in doc.go asks the
// querier to. It counts invocations.
type countingInvoker struct {
	q      *querier.Querier
	src    *engine.MemSource
	calls  atomic.Int64
	wholes atomic.Int64
	mu     sync.Mutex
	days   []string
}

func (c *countingInvoker) Invoke(ctx context.Context, req querier.Request) (querier.Response, error) {
	c.calls.Add(1)
	c.mu.Lock()
	c.days = append(c.days, req.Day)
	c.mu.Unlock()
	if req.Day != "" {
		return c.q.Query(ctx, req)
	}
	c.wholes.Add(1)
	p := engine.Params{Query: req.Query, Start: time.Unix(0, req.Start), End: time.Unix(0, req.End),
		Step: time.Duration(req.Step), Interval: time.Duration(req.Interval), Limit: req.Limit}
	if req.Direction == "forward" {
		p.Direction = engine.Forward
	}
	res, err := engine.New(engine.Opts{}).Query(ctx, shardSource{c.src, req.ShardFrom, req.ShardThrough}, p)
	if err != nil {
		return querier.Response{}, err
	}
	return querier.Response{Partial: lokijson.AppendResponse(nil, res, lokijson.Options{CategorizeLabels: true, Direction: p.Direction})}, nil
}

func (c *countingInvoker) reset() {
	c.calls.Store(0)
	c.wholes.Store(0)
	c.mu.Lock()
	c.days = nil
	c.mu.Unlock()
}

// shardSource restricts a Source to [from, through).
type shardSource struct {
	src           engine.Source
	from, through int64
}

func (s shardSource) Select(ctx context.Context, req engine.SelectRequest) iter.Seq2[engine.Entry, error] {
	req.From, req.Through = max(req.From, s.from), min(req.Through, s.through)
	return s.src.Select(ctx, req)
}

// env is a frontend over the real querier and a bucket holding es.
type env struct {
	t   testing.TB
	es  []ent
	bkt bucket.Bucket
	inv *countingInvoker
	fe  *frontend.Frontend
	h   http.Handler
	cfg frontend.Config
}

func testConfig() frontend.Config {
	cfg := frontend.DefaultConfig()
	cfg.Now = func() time.Time { return now }
	cfg.CacheSize = 16 << 20
	cfg.TailPollInterval = 20 * time.Millisecond
	return cfg
}

func newEnv(t testing.TB, days int, edit func(*frontend.Config)) *env {
	t.Helper()
	es := testData(days)
	bkt := bucket.NewMem()
	writeDays(t, bkt, es)
	q := querier.New(querier.DefaultConfig(), bkt, nil, nil, prometheus.NewRegistry())
	inv := &countingInvoker{q: q, src: memSource(es)}
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	e := &env{t: t, es: es, bkt: bkt, inv: inv, cfg: cfg}
	e.fe = e.newFrontend()
	e.h = e.fe.Handler()
	return e
}

// newFrontend returns another frontend over the same queriers and bucket
// (a fresh memory cache), closed at the end of the test.
func (e *env) newFrontend() *frontend.Frontend {
	fe, err := frontend.New(e.cfg, e.inv, e.bkt, nil, prometheus.NewRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(fe.Close)
	return fe
}

// get calls h with the form values, as tenant tid, and returns status and
// body.
func get(t testing.TB, h http.Handler, path string, kv ...string) (int, []byte) {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	r := httptest.NewRequest(http.MethodGet, path+"?"+v.Encode(), nil)
	r.Header.Set(frontend.HeaderOrgID, string(tid))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, body
}

// ts formats a time as Loki's nanosecond parameter.
func ts(t time.Time) string { return fmt.Sprint(t.UnixNano()) }

// stats decodes data.stats of a query answer.
func stats(t testing.TB, body []byte) lokijson.Stats {
	t.Helper()
	var r struct {
		Data struct {
			Stats lokijson.Stats `json:"stats"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r.Data.Stats
}

// golden compares body (JSON, with data.stats removed as it holds
// timings) with testdata/<name>.json, rewriting it under -update.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, body)
	}
	if m, ok := v.(map[string]any); ok {
		if d, ok := m["data"].(map[string]any); ok {
			delete(d, "stats")
		}
	}
	got, _ := json.MarshalIndent(v, "", "  ")
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

// reference answers p with the engine over all entries at once.
func reference(t testing.TB, es []ent, p engine.Params) engine.Value {
	t.Helper()
	res, err := engine.New(engine.Opts{}).Query(context.Background(), memSource(es), p)
	if err != nil {
		t.Fatalf("reference %s: %v", p.Query, err)
	}
	return res.Value
}
