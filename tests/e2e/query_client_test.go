package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
)

// lokiClient speaks Loki's query API to a base URL, as logcli does: GET
// with form parameters, the tenant in X-Scope-OrgID, times in Unix
// nanoseconds.
type lokiClient struct {
	Base   string // http://host:port
	Client *http.Client
}

func newLokiClient(base string) lokiClient {
	return lokiClient{Base: base, Client: &http.Client{Timeout: 2 * time.Minute}}
}

// get sends GET path?params as tid (no header when tid is empty) and
// returns the status and the body. hdr holds extra header pairs.
func (c lokiClient) get(t testing.TB, tid tenant.ID, path string, params url.Values, hdr ...string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := c.Base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tid != "" {
		req.Header.Set("X-Scope-OrgID", string(tid))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp.StatusCode, body
}

// mustGet is get that fails the test unless the status is 200.
func (c lokiClient) mustGet(t testing.TB, tid tenant.ID, path string, params url.Values, hdr ...string) []byte {
	t.Helper()
	code, body := c.get(t, tid, path, params, hdr...)
	if code != http.StatusOK {
		t.Fatalf("GET %s %v: status %d: %s", path, params, code, body)
	}
	return body
}

func nsParam(ts time.Time) string { return strconv.FormatInt(ts.UnixNano(), 10) }

// qcase is one LogQL request: a range query (Step > 0, or a log query),
// or an instant query at End.
type qcase struct {
	Name       string
	Query      string
	Start, End time.Time
	Step       time.Duration
	Limit      int
	Interval   time.Duration
	Dir        engine.Direction
	Instant    bool
}

// params returns the request's form and the engine's parameters for it.
func (q qcase) params() (string, url.Values, engine.Params) {
	v := url.Values{"query": {q.Query}}
	p := engine.Params{Query: q.Query, Start: q.Start, End: q.End, Step: q.Step, Interval: q.Interval, Limit: q.Limit, Direction: q.Dir}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Dir == engine.Forward {
		v.Set("direction", "forward")
	} else {
		v.Set("direction", "backward")
	}
	if q.Instant {
		v.Set("time", nsParam(q.End))
		p.Start, p.Step = q.End, 0
		return "/loki/api/v1/query", v, p
	}
	v.Set("start", nsParam(q.Start))
	v.Set("end", nsParam(q.End))
	if q.Interval > 0 {
		v.Set("interval", strconv.FormatFloat(q.Interval.Seconds(), 'f', -1, 64))
	}
	if q.Step > 0 {
		v.Set("step", strconv.FormatFloat(q.Step.Seconds(), 'f', -1, 64))
		p = engine.AlignStep(p) // kmlog aligns metric range queries as Loki does
	}
	return "/loki/api/v1/query_range", v, p
}

// expected is the engine's answer over src, in the shape the HTTP API
// returns without the categorize-labels flag.
func expected(t testing.TB, src engine.Source, p engine.Params) engine.Value {
	t.Helper()
	res, err := engine.New(engine.Opts{}).Query(context.Background(), src, p)
	if err != nil {
		t.Fatalf("engine %q: %v", p.Query, err)
	}
	return plainValue(res.Value)
}

// plainValue drops the per-entry categories of streams (the labels keep
// them), as the JSON without the categorize-labels flag does.
func plainValue(v engine.Value) engine.Value {
	ss, ok := v.(engine.Streams)
	if !ok {
		return v
	}
	out := make(engine.Streams, len(ss))
	for i, s := range ss {
		es := make([]engine.StreamEntry, len(s.Entries))
		for j, e := range s.Entries {
			es[j] = engine.StreamEntry{Timestamp: e.Timestamp, Line: e.Line}
		}
		out[i] = engine.Stream{Labels: s.Labels, Entries: es}
	}
	return out
}

// valueOpts compare engine values: sums merged from shards may differ
// from one pass in the last bits.
var valueOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmpopts.EquateNaNs(),
	cmpopts.EquateApprox(1e-9, 1e-12),
}

// valueSize is the number of lines or samples in v.
func valueSize(v engine.Value) int {
	n := 0
	switch v := v.(type) {
	case engine.Streams:
		for _, s := range v {
			n += len(s.Entries)
		}
	case engine.Matrix:
		for _, s := range v {
			n += len(s.Points)
		}
	case engine.Vector:
		n = len(v)
	case engine.Scalar:
		n = 1
	}
	return n
}

// checkQuery runs q through c as tid and compares the answer with the
// engine over src. It returns the decoded answer.
func (c lokiClient) checkQuery(t testing.TB, tid tenant.ID, src engine.Source, q qcase) lokijson.Response {
	t.Helper()
	path, form, p := q.params()
	body := c.mustGet(t, tid, path, form)
	got, err := lokijson.Decode(body)
	if err != nil {
		t.Fatalf("%s: decode answer: %v\n%.2000s", q.Name, err, body)
	}
	want := expected(t, src, p)
	if valueSize(want) == 0 {
		t.Errorf("%s: the engine's answer is empty: the case proves nothing", q.Name)
	}
	if got.Value == nil || got.Value.Type() != want.Type() {
		t.Fatalf("%s: resultType %v, want %s", q.Name, got.Value, want.Type())
	}
	if diff := cmp.Diff(want, got.Value, valueOpts); diff != "" {
		t.Errorf("%s: %s answer differs from the engine's (-engine +http):\n%.4000s", q.Name, q.Query, diff)
	}
	return got
}

// checkCategorized runs log query q with the categorize-labels encoding
// flag and compares the answer with the engine's, categorised as Loki
// does (stream labels apart from structured metadata and parsed labels).
func (c lokiClient) checkCategorized(t testing.TB, tid tenant.ID, src engine.Source, q qcase) {
	t.Helper()
	path, form, p := q.params()
	body := c.mustGet(t, tid, path, form, lokijson.HeaderEncodingFlags, lokijson.FlagCategorizeLabels)
	got, err := lokijson.Decode(body)
	if err != nil {
		t.Fatalf("%s: decode answer: %v", q.Name, err)
	}
	if !got.CategorizeLabels {
		t.Errorf("%s: no categorize-labels flag in the answer", q.Name)
	}
	res, err := engine.New(engine.Opts{}).Query(context.Background(), src, p)
	if err != nil {
		t.Fatal(err)
	}
	want := lokijson.Categorize(res.Value.(engine.Streams), p.Direction)
	if valueSize(want) == 0 {
		t.Errorf("%s: the engine's answer is empty", q.Name)
	}
	if diff := cmp.Diff(engine.Value(want), got.Value, valueOpts); diff != "" {
		t.Errorf("%s: categorised answer differs (-engine +http):\n%.4000s", q.Name, diff)
	}
}

// queryCases are the LogQL requests compared with the engine over the
// dataset's days [first, end) (end may reach past the last day, to now).
func queryCases(d *dataset, end time.Time) []qcase {
	first := d.First()
	day := func(i int) time.Time { return d.Days[i] }
	return []qcase{
		{Name: "log backward", Query: `{namespace="prod"}`, Start: first, End: end, Limit: 100},
		{Name: "log forward filter", Query: `{namespace="prod", level="error"} |= "failed"`, Start: first, End: end, Limit: 50, Dir: engine.Forward},
		{Name: "log partial days", Query: `{namespace=~".+"} != "GET"`, Start: day(1).Add(6 * time.Hour), End: day(3).Add(3 * time.Hour), Limit: 700},
		{Name: "log all matching", Query: `{level="error"} |= "timeout"`, Start: first, End: end, Limit: 5000, Dir: engine.Forward},
		{Name: "log json filter", Query: `{namespace="prod"} | json | latency_ms > 100`, Start: first, End: end, Limit: 200},
		{Name: "log logfmt format", Query: `{namespace=~".+"} | logfmt | method="POST" | line_format "{{.method}} {{.path}} {{.status}}"`, Start: first, End: end, Limit: 100},
		{Name: "log drop merges streams", Query: `{namespace="prod"} | drop pod, container`, Start: first, End: end, Limit: 500, Dir: engine.Forward},
		{Name: "log label_format keep", Query: `{namespace=~".+"} |~ "fail(ed|ure)" | label_format lvl=level | keep app, lvl`, Start: first, End: end, Limit: 300},
		{Name: "log metadata filter", Query: `{namespace=~".+"} | trace_id != "" | json | level="error"`, Start: day(1), End: day(4), Limit: 120},
		{Name: "needle", Query: fmt.Sprintf(`{namespace=~".+"} |= "%s"`, d.Needle), Start: first, End: end, Limit: 10},
		{Name: "count sum by", Query: `sum by (level) (count_over_time({namespace="prod"}[1h]))`, Start: first, End: end, Step: time.Hour},
		{Name: "rate", Query: `sum by (app) (rate({namespace=~".+"} |= "error" [5m]))`, Start: day(2), End: day(3), Step: 15 * time.Minute},
		{Name: "topk bytes", Query: `topk(3, sum by (pod) (bytes_over_time({namespace=~".+"}[1h])))`, Start: first, End: end, Step: 2 * time.Hour},
		{Name: "unwrap avg", Query: `avg by (app) (avg_over_time({namespace=~".+"} | json | unwrap latency_ms | __error__="" [6h]))`, Start: first, End: end, Step: 6 * time.Hour},
		{Name: "quantile whole", Query: `quantile_over_time(0.9, {namespace=~".+"} | json | unwrap latency_ms | __error__="" [6h]) by (app)`, Start: first, End: end, Step: 6 * time.Hour},
		{Name: "offset", Query: `sum by (namespace) (count_over_time({namespace=~".+"}[1h] offset 3h))`, Start: first, End: end, Step: time.Hour},
		{Name: "day windows across shards", Query: `sum by (level) (count_over_time({namespace=~".+"}[1d]))`, Start: first.Add(3 * time.Hour), End: end, Step: 6 * time.Hour},
		{Name: "absent", Query: `absent_over_time({namespace="prod", app="no-such-app"}[1h])`, Start: first, End: end, Step: 4 * time.Hour},
		{Name: "stddev whole", Query: `stddev_over_time({namespace="prod"} | json | unwrap latency_ms | __error__="" [1d]) by (level)`, Start: first, End: end, Step: 12 * time.Hour},
		{Name: "max by json", Query: `max by (level) (max_over_time({namespace=~".+"} | json | unwrap latency_ms | __error__="" [2h]))`, Start: first, End: end, Step: 2 * time.Hour},
		{Name: "binop threshold", Query: `sum by (app) (count_over_time({level="error"}[1h])) > 5`, Start: first, End: end, Step: time.Hour},
		{Name: "log interval whole", Query: `{namespace="prod", level="warn"}`, Start: first, End: end, Limit: 300, Interval: 10 * time.Minute},
		{Name: "or vector", Query: `sum(count_over_time({namespace="prod", level="error"}[30m])) or vector(0)`, Start: day(3), End: day(4), Step: 30 * time.Minute},
		{Name: "drop in metric", Query: `sum by (app, level) (count_over_time({namespace=~".+"} | drop pod [3h]))`, Start: first, End: end, Step: 3 * time.Hour},
		{Name: "instant vector", Query: `sum by (namespace, level) (count_over_time({namespace=~".+"}[1d]))`, End: day(3).Add(12 * time.Hour), Instant: true},
		{Name: "instant all days", Query: `sum(bytes_over_time({namespace=~".+"}[5d]))`, End: d.End(), Instant: true},
		{Name: "instant binop", Query: `sum by (app) (count_over_time({level="error"}[1d])) / sum by (app) (count_over_time({namespace=~".+"}[1d]))`, End: day(2).Add(18 * time.Hour), Instant: true},
	}
}

// apiValues decodes {"status":"success","data":[...strings]}.
func apiValues(t testing.TB, body []byte) []string {
	t.Helper()
	var r struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r.Data
}

// checkMeta compares labels, label values, series, index/stats and
// index/volume of tid over whole days [from, through) with the dataset.
func (c lokiClient) checkMeta(t testing.TB, d *dataset, tid tenant.ID, from, through time.Time) {
	t.Helper()
	rng := url.Values{"start": {nsParam(from)}, "end": {nsParam(through.Add(-1))}}
	with := func(kv ...string) url.Values {
		v := maps.Clone(rng)
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	all := d.streamsIn(tid, from, through)
	if len(all) == 0 {
		t.Fatalf("no %s streams in [%s, %s)", tid, from, through)
	}

	names := map[string]bool{}
	for _, ls := range all {
		for _, l := range ls {
			names[l.Name] = true
		}
	}
	got := apiValues(t, c.mustGet(t, tid, "/loki/api/v1/labels", rng))
	if diff := cmp.Diff(slices.Sorted(maps.Keys(names)), got); diff != "" {
		t.Errorf("labels differ (-want +got):\n%s", diff)
	}

	prod := labels.MustNewMatcher(labels.MatchEqual, "namespace", "prod")
	pods := map[string]bool{}
	for _, ls := range d.streamsIn(tid, from, through, prod) {
		pods[ls.Get("pod")] = true
	}
	got = apiValues(t, c.mustGet(t, tid, "/loki/api/v1/label/pod/values", with("query", `{namespace="prod"}`)))
	if diff := cmp.Diff(slices.Sorted(maps.Keys(pods)), got); diff != "" {
		t.Errorf("label/pod/values differ (-want +got):\n%s", diff)
	}

	errs := labels.MustNewMatcher(labels.MatchEqual, "level", "error")
	var wantSeries []map[string]string
	for _, ls := range d.streamsIn(tid, from, through, prod, errs) {
		wantSeries = append(wantSeries, ls.Map())
	}
	var series struct {
		Status string              `json:"status"`
		Data   []map[string]string `json:"data"`
	}
	body := c.mustGet(t, tid, "/loki/api/v1/series", with("match[]", `{namespace="prod", level="error"}`))
	if err := json.Unmarshal(body, &series); err != nil || series.Status != "success" {
		t.Fatalf("decode series %s: %v", body, err)
	}
	sortMaps := cmpopts.SortSlices(func(a, b map[string]string) bool {
		return labels.FromMap(a).String() < labels.FromMap(b).String()
	})
	if diff := cmp.Diff(wantSeries, series.Data, sortMaps); diff != "" {
		t.Errorf("series differ (-want +got):\n%s", diff)
	}

	// index/stats and index/volume count stored line bytes.
	var want struct{ Streams, Entries, Bytes uint64 }
	vol := map[string]float64{}
	seen := map[string]bool{}
	for _, e := range d.Entries(tid) {
		if e.Timestamp < from.UnixNano() || e.Timestamp >= through.UnixNano() || !prod.Matches(e.Labels.Get("namespace")) {
			continue
		}
		if k := e.Labels.String(); !seen[k] {
			seen[k] = true
			want.Streams++
		}
		want.Entries++
		want.Bytes += uint64(len(e.Line))
		vol[e.Labels.Get("app")] += float64(len(e.Line))
	}
	var st struct{ Streams, Chunks, Entries, Bytes uint64 }
	body = c.mustGet(t, tid, "/loki/api/v1/index/stats", with("query", `{namespace="prod"}`))
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decode index/stats %s: %v", body, err)
	}
	if st.Streams != want.Streams || st.Entries != want.Entries || st.Bytes != want.Bytes || st.Chunks == 0 {
		t.Errorf("index/stats = %+v, want %+v and chunks > 0", st, want)
	}

	body = c.mustGet(t, tid, "/loki/api/v1/index/volume", with("query", `{namespace="prod"}`, "targetLabels", "app"))
	res, err := lokijson.Decode(body)
	if err != nil {
		t.Fatalf("decode index/volume: %v\n%s", err, body)
	}
	vec, ok := res.Value.(engine.Vector)
	if !ok {
		t.Fatalf("index/volume: resultType %T, want vector", res.Value)
	}
	gotVol := map[string]float64{}
	for i, s := range vec {
		gotVol[s.Labels.Get("app")] = s.V
		if len(s.Labels) != 1 {
			t.Errorf("index/volume: labels %s, want only app", s.Labels)
		}
		if i > 0 && s.V > vec[i-1].V {
			t.Errorf("index/volume not largest first: %v", vec)
		}
	}
	if diff := cmp.Diff(vol, gotVol); diff != "" {
		t.Errorf("index/volume by app differs (-want +got):\n%s", diff)
	}
}

// statsOfBody decodes data.stats of a query answer.
func statsOfBody(t testing.TB, body []byte) lokijson.Stats {
	t.Helper()
	r, err := lokijson.Decode(body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return r.Stats
}

// roundUp returns ts rounded up to a multiple of d.
func roundUp(ts time.Time, d time.Duration) time.Time {
	r := ts.Truncate(d)
	if r.Before(ts) {
		r = r.Add(d)
	}
	return r
}
