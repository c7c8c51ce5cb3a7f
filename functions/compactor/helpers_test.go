package compactor_test

import (
	"bytes"
	stdcmp "cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/compactor"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/querier"
)

var tid = tenant.MustParse("tenant-financial")

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
	if c := stdcmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := strings.Compare(a.line, b.line); c != 0 {
		return c
	}
	return labels.Compare(a.md, b.md)
}

func testDay() objkey.Day {
	d, _ := objkey.ParseDay("2026-11-25")
	return d
}

// genDay returns n loggen entries spread over the test day.
func genDay(n int, seed uint64) []ent {
	cfg := loggen.DefaultConfig()
	cfg.Seed = seed
	cfg.Rate = float64(n) / 86400 * 1.5
	cfg.Start = testDay().Start()
	var out []ent
	for _, e := range loggen.New(cfg).Take(n) {
		if e.Timestamp < testDay().EndNano() {
			out = append(out, ent{ls: e.Labels, ts: e.Timestamp, line: e.Line, md: e.Metadata})
		}
	}
	return out
}

func dedup(es []ent) []ent {
	out := slices.Clone(es)
	slices.SortFunc(out, compareEnts)
	return slices.CompactFunc(out, func(a, b ent) bool { return compareEnts(a, b) == 0 })
}

// writeFlush stores es as one flush (data file and index), as an
// ingester does.
func writeFlush(t testing.TB, b bucket.Bucket, d objkey.Day, es []ent) {
	t.Helper()
	es = slices.Clone(es)
	slices.SortFunc(es, compareEnts)
	var buf bytes.Buffer
	cfg := datafile.DefaultConfig()
	cfg.RowGroupBytes = 64 << 10
	cfg.PageBytes = 16 << 10
	w := datafile.NewWriter(&buf, cfg)
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

// replicate stores es as the ingest path does: chunks flushed by each of
// three ingesters (each with its own cut points), one flush uploaded
// twice (a retried upload whose first attempt succeeded).
func replicate(t testing.TB, b bucket.Bucket, d objkey.Day, es []ent, chunks int) {
	t.Helper()
	for r := range 3 {
		n := chunks + r // replicas cut their flushes differently
		for i := range n {
			part := es[i*len(es)/n : (i+1)*len(es)/n]
			writeFlush(t, b, d, part)
			if r == 1 && i == 0 {
				writeFlush(t, b, d, part)
			}
		}
	}
}

// dayEntries reads back the live files of a day (as a querier resolves
// them) and checks each index against its data file.
func dayEntries(t testing.TB, b bucket.Bucket, d objkey.Day) (es []ent, files int) {
	t.Helper()
	ctx := context.Background()
	var l manifest.Listing
	var newest string
	var gen uint64
	if err := b.List(ctx, objkey.IndexPrefix(tid, d), func(oi bucket.ObjectInfo) error {
		o, err := objkey.ParseDayObject(oi.Key)
		if err == nil {
			l.Add(o)
			if o.Leaf == objkey.LeafManifest && o.Gen > gen {
				gen, newest = o.Gen, oi.Key
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var m *manifest.Manifest
	if gen > 0 {
		raw, err := bucket.ReadAll(ctx, b, newest)
		if err != nil {
			t.Fatal(err)
		}
		if m, err = manifest.Decode(raw); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range manifest.Resolve(&l, m) {
		files++
		raw, err := bucket.ReadAll(ctx, b, f.IndexKey(tid, d))
		if err != nil {
			t.Fatal(err)
		}
		ix, err := index.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		ra := bucket.NewReaderAt(ctx, b, objkey.Data(tid, d, f.ID), ix.DataSize)
		if err := index.Check(ctx, ix, ra, ix.DataSize); err != nil {
			t.Fatalf("index.Check %s: %v", f.IndexKey(tid, d), err)
		}
		rd, err := datafile.Open(ctx, ra, ix.DataSize, datafile.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for e, err := range rd.Read(ctx, datafile.Selection{Columns: datafile.AllColumns}) {
			if err != nil {
				t.Fatal(err)
			}
			es = append(es, ent{ls: rd.Streams()[e.Stream], ts: e.Timestamp, line: string(e.Line), md: slices.Clone(e.Metadata)})
		}
	}
	slices.SortFunc(es, compareEnts)
	return es, files
}

// api answers Loki HTTP requests through a fresh frontend and querier
// (no results cache carried over) over b.
type api struct {
	t   testing.TB
	bkt bucket.Bucket
	few bool // a short suite: fault tests run it many times
}

func (a api) get(path string, v url.Values) (int, string) {
	a.t.Helper()
	q := querier.New(querier.DefaultConfig(), a.bkt, nil, nil, prometheus.NewRegistry())
	fe, err := frontend.New(frontend.DefaultConfig(), frontend.InvokerFunc(q.Query), nil, nil, prometheus.NewRegistry())
	if err != nil {
		a.t.Fatal(err)
	}
	defer fe.Close()
	r := httptest.NewRequest(http.MethodGet, path+"?"+v.Encode(), nil)
	r.Header.Set("X-Scope-OrgID", string(tid))
	w := httptest.NewRecorder()
	fe.Handler().ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// stripStats removes the cost statistics from a Loki JSON answer.
func stripStats(t testing.TB, body string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return body
	}
	if d, ok := v["data"].(map[string]any); ok {
		delete(d, "stats")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// queries is the suite compared before and after compaction.
var queries = []string{
	`{namespace=~".+"}`,
	`{app="trading-service"}`,
	`{namespace="prod"} |= "error"`,
	`sum by (namespace) (count_over_time({namespace=~".+"}[1h]))`,
	`topk(3, sum by (app) (rate({namespace=~".+"} |= "a" [5m])))`,
}

type apiReq struct {
	path string
	v    url.Values
}

// suite is the requests compared before and after compaction.
func suite() []apiReq {
	d := testDay()
	var out []apiReq
	for _, q := range queries {
		for _, dir := range []string{"forward", "backward"} {
			out = append(out, apiReq{"/loki/api/v1/query_range", url.Values{"query": {q}, "start": {d.Start().Format(time.RFC3339Nano)},
				"end": {d.Start().Add(24 * time.Hour).Format(time.RFC3339Nano)}, "limit": {"5000"}, "direction": {dir}, "step": {"3600"}}})
		}
	}
	v := url.Values{"query": {`{namespace=~".+"}`}, "start": {d.Start().Format(time.RFC3339Nano)},
		"end": {d.Start().Add(24 * time.Hour).Format(time.RFC3339Nano)}}
	out = append(out, apiReq{"/loki/api/v1/labels", v})
	out = append(out, apiReq{"/loki/api/v1/series", url.Values{"match[]": {`{namespace=~".+"}`}, "start": v["start"], "end": v["end"]}})
	return out
}

// answers runs the suite and returns the bodies without stats.
func (a api) answers() []string {
	a.t.Helper()
	var out []string
	for i := range suite() {
		if a.few && i%3 != 0 {
			continue
		}
		out = append(out, a.answersOne(i))
	}
	return out
}

func (a api) answersOne(i int) string {
	a.t.Helper()
	r := suite()[i]
	code, body := a.get(r.path, r.v)
	if code != 200 {
		a.t.Errorf("%s %v: %d %s", r.path, r.v, code, body)
		return fmt.Sprintf("status %d", code)
	}
	return r.path + " " + r.v.Get("query") + " " + r.v.Get("direction") + " " + stripStats(a.t, body)
}

// stats returns index/stats entries and bytes for the test day.
func (a api) stats() (entries, bytes float64) {
	a.t.Helper()
	d := testDay()
	v := url.Values{"query": {`{namespace=~".+"}`}, "start": {d.Start().Format(time.RFC3339Nano)},
		"end": {d.Start().Add(24 * time.Hour).Format(time.RFC3339Nano)}}
	code, body := a.get("/loki/api/v1/index/stats", v)
	if code != 200 {
		a.t.Fatalf("index/stats: %d %s", code, body)
	}
	var st struct {
		Entries float64 `json:"entries"`
		Bytes   float64 `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		a.t.Fatal(err)
	}
	return st.Entries, st.Bytes
}

func testConfig(t testing.TB) compactor.Config {
	cfg := compactor.DefaultConfig()
	cfg.TempDir = t.TempDir()
	return cfg
}

func newCompactor(t testing.TB, cfg compactor.Config, b bucket.Bucket, lim compactor.Overrides) *compactor.Compactor {
	t.Helper()
	c, err := compactor.New(cfg, b, lim, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newDir(t testing.TB) *bucket.Dir {
	t.Helper()
	d, err := bucket.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// countObjects counts a day's data files and index objects.
func countObjects(t testing.TB, b bucket.Bucket, d objkey.Day) (data, idx int) {
	t.Helper()
	_ = b.List(context.Background(), objkey.DayPrefix(tid, d), func(oi bucket.ObjectInfo) error {
		o, err := objkey.ParseDayObject(oi.Key)
		if err != nil {
			return nil
		}
		switch o.Leaf {
		case objkey.LeafData:
			data++
		case objkey.LeafFlushIndex, objkey.LeafCompactedIndex:
			idx++
		}
		return nil
	})
	return data, idx
}

func objDay(i int) objkey.Day { return objkey.Day(i) }

var entOpts = []cmp.Option{cmp.AllowUnexported(ent{}), cmpopts.EquateEmpty()}
