package querier_test

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

var tid = tenant.MustParse("tenant-financial")

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

// genDay returns n loggen entries at rate lines/s from the start of the
// day (2026-11-25 UTC), sorted by stream, time and line.
func genDay(n int, rate float64, seed uint64) []ent {
	cfg := loggen.DefaultConfig()
	cfg.Seed, cfg.Rate = seed, rate
	var out []ent
	for _, e := range loggen.New(cfg).Take(n) {
		out = append(out, ent{ls: e.Labels, ts: e.Timestamp, line: e.Line, md: e.Metadata})
	}
	slices.SortFunc(out, compareEnts)
	return out
}

func testDay() objkey.Day {
	d, _ := objkey.ParseDay("2026-11-25")
	return d
}

// writeFile stores es (any order) as one data file and its index, as the
// ingester's flush does, and returns the data file's size.
func writeFile(t testing.TB, b bucket.Bucket, es []ent, cfg datafile.Config) int64 {
	t.Helper()
	es = slices.Clone(es)
	slices.SortFunc(es, compareEnts)
	var buf bytes.Buffer
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
	if err := bucket.PutBytes(ctx, b, objkey.Data(tid, testDay(), id), buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := bucket.PutBytes(ctx, b, objkey.Index(tid, testDay(), id), index.Build(sum, index.DefaultConfig()).Encode()); err != nil {
		t.Fatal(err)
	}
	return int64(buf.Len())
}

// smallGroups makes several row groups out of a small test day.
func smallGroups() datafile.Config {
	c := datafile.DefaultConfig()
	c.RowGroupBytes = 64 << 10
	c.PageBytes = 16 << 10
	return c
}

// dedup returns the distinct entries of es, sorted.
func dedup(es []ent) []ent {
	out := slices.Clone(es)
	slices.SortFunc(out, compareEnts)
	return slices.CompactFunc(out, func(a, b ent) bool { return compareEnts(a, b) == 0 })
}

func memSource(es []ent) *engine.MemSource {
	var out []engine.Entry
	for _, e := range dedup(es) {
		out = append(out, engine.Entry{Labels: e.ls, Timestamp: e.ts, Line: []byte(e.line), Metadata: e.md})
	}
	return engine.NewMemSource(out)
}

// fakeIngester serves the recent-data endpoint over es, as the ingester
// does: matchers and |= literals applied, per stream in (ts, line) order,
// deduplicated, cut to the limit. fail makes it answer 500.
type fakeIngester struct {
	es    []ent
	fail  atomic.Bool
	calls atomic.Int64
	srv   *httptest.Server
}

func newFakeIngester(t testing.TB, es []ent) *fakeIngester {
	f := &fakeIngester{es: dedup(es)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIngester) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.fail.Load() {
		http.Error(w, "ingester down", http.StatusInternalServerError)
		return
	}
	if r.URL.Path != "/ingester/query" || r.Header.Get("X-Scope-OrgID") != string(tid) {
		http.Error(w, "bad request "+r.URL.Path, http.StatusBadRequest)
		return
	}
	v := r.URL.Query()
	if v.Get("series") != "" {
		f.serveSeries(w, v)
		return
	}
	sel, err := syntax.ParseLogSelector(v.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	lits := syntax.LineFilterLiterals(sel)
	from, _ := strconv.ParseInt(v.Get("start"), 10, 64)
	through, _ := strconv.ParseInt(v.Get("end"), 10, 64)
	limit, _ := strconv.Atoi(v.Get("limit"))
	var keep []ent
	for _, e := range f.es {
		if e.ts < from || e.ts >= through || !labels.MatchLabels(e.ls, sel.Matchers...) {
			continue
		}
		ok := true
		for _, l := range lits {
			ok = ok && strings.Contains(e.line, l)
		}
		if ok {
			keep = append(keep, e)
		}
	}
	if limit > 0 && len(keep) > limit {
		slices.SortStableFunc(keep, func(a, b ent) int { return cmp.Compare(a.ts, b.ts) })
		if v.Get("direction") == "backward" {
			keep = keep[len(keep)-limit:]
		} else {
			keep = keep[:limit]
		}
		slices.SortFunc(keep, compareEnts)
	}
	req := &push.Request{}
	for _, e := range keep {
		k := e.ls.String()
		if n := len(req.Streams); n == 0 || req.Streams[n-1].Labels != k {
			req.Streams = append(req.Streams, push.Stream{Labels: k})
		}
		s := &req.Streams[len(req.Streams)-1]
		s.Entries = append(s.Entries, push.Entry{Timestamp: e.ts, Line: e.line, Metadata: e.md})
	}
	w.Header().Set("Content-Type", push.ContentTypeProto)
	_, _ = w.Write(push.EncodeProto(req))
}

// serveSeries answers series=1 as the ingester does: the label sets of
// the streams matching the (possibly empty) matchers with entries in the
// range, without entries.
func (f *fakeIngester) serveSeries(w http.ResponseWriter, v url.Values) {
	var ms []*labels.Matcher
	if q := v.Get("query"); q != "" {
		var err error
		if ms, err = syntax.ParseMatchers(q); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	from, _ := strconv.ParseInt(v.Get("start"), 10, 64)
	through, _ := strconv.ParseInt(v.Get("end"), 10, 64)
	req := &push.Request{}
	seen := map[string]bool{}
	for _, e := range f.es {
		k := e.ls.String()
		if e.ts < from || e.ts >= through || seen[k] || !labels.MatchLabels(e.ls, ms...) {
			continue
		}
		seen[k] = true
		req.Streams = append(req.Streams, push.Stream{Labels: k})
	}
	w.Header().Set("Content-Type", push.ContentTypeProto)
	_, _ = w.Write(push.EncodeProto(req))
}

func ns(t time.Time) int64 { return t.UnixNano() }

// readAllFiles reads back every data file of the test day.
func readAllFiles(b bucket.Bucket) [][]ent {
	ctx := context.Background()
	var out [][]ent
	_ = b.List(ctx, objkey.DataPrefix(tid, testDay()), func(oi bucket.ObjectInfo) error {
		rd, err := datafile.Open(ctx, bucket.NewReaderAt(ctx, b, oi.Key, oi.Size), oi.Size, datafile.OpenOptions{})
		if err != nil {
			panic(err)
		}
		var es []ent
		for e, err := range rd.Read(ctx, datafile.Selection{Columns: datafile.ColLine}) {
			if err != nil {
				panic(err)
			}
			es = append(es, ent{ls: rd.Streams()[e.Stream], ts: e.Timestamp, line: string(e.Line)})
		}
		out = append(out, es)
		return nil
	})
	return out
}
