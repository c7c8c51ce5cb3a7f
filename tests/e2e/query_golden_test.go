package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/logql/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// logcliRequest is one request as logcli sends it, answered with a golden
// file testdata/query/<Name>.golden.json.
type logcliRequest struct {
	Name   string
	Path   string
	Params url.Values
	Header []string // extra header pairs
	// Shape is the result type the answer must have ("" for the
	// metadata endpoints, whose shapes are checked by name).
	Shape string
	// Compare, when set, is also compared with the engine.
	Compare *qcase
}

// logcliRequests are logcli's requests over goldenTenant's two days from
// base: `logcli query` (range, both directions), `logcli query` of a
// metric, `logcli instant-query`, `labels`, `labels <name>`, `series`,
// `stats`, `volume`.
func logcliRequests(base time.Time) []logcliRequest {
	ns := func(d time.Duration) string { return nsParam(base.Add(d)) }
	end := base.Add(48 * time.Hour)
	rng := func(kv ...string) url.Values {
		v := url.Values{"start": {ns(0)}, "end": {nsParam(end)}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	q := func(c qcase) *qcase { return &c }
	return []logcliRequest{
		{Name: "query_range_streams", Path: "/loki/api/v1/query_range", Shape: "streams",
			Params:  rng("query", `{app="checkout"} |= "order"`, "limit", "30", "direction", "BACKWARD"),
			Compare: q(qcase{Query: `{app="checkout"} |= "order"`, Start: base, End: end, Limit: 30})},
		{Name: "query_range_forward_limit", Path: "/loki/api/v1/query_range", Shape: "streams",
			Params:  rng("query", `{env=~".+"}`, "limit", "4", "direction", "FORWARD"),
			Compare: q(qcase{Query: `{env=~".+"}`, Start: base, End: end, Limit: 4, Dir: engine.Forward})},
		{Name: "query_range_categorized", Path: "/loki/api/v1/query_range", Shape: "streams",
			Params: rng("query", `{app="checkout", level="error"} | logfmt`, "limit", "5", "direction", "BACKWARD"),
			Header: []string{"X-Loki-Response-Encoding-Flags", "categorize-labels"}},
		{Name: "query_range_matrix", Path: "/loki/api/v1/query_range", Shape: "matrix",
			Params:  rng("query", `sum by (level) (count_over_time({app="checkout"}[6h]))`, "step", "21600", "limit", "30"),
			Compare: q(qcase{Query: `sum by (level) (count_over_time({app="checkout"}[6h]))`, Start: base, End: end, Step: 6 * time.Hour})},
		{Name: "query_instant_vector", Path: "/loki/api/v1/query", Shape: "vector",
			Params:  url.Values{"query": {`sum by (app) (count_over_time({env=~".+"}[2d]))`}, "time": {nsParam(end)}, "limit": {"100"}, "direction": {"BACKWARD"}},
			Compare: q(qcase{Query: `sum by (app) (count_over_time({env=~".+"}[2d]))`, End: end, Instant: true})},
		{Name: "query_instant_scalar", Path: "/loki/api/v1/query", Shape: "scalar",
			Params: url.Values{"query": {`2 * 3`}, "time": {nsParam(end)}}},
		{Name: "labels", Path: "/loki/api/v1/labels", Params: rng()},
		{Name: "label_values", Path: "/loki/api/v1/label/app/values", Params: rng()},
		{Name: "series", Path: "/loki/api/v1/series", Params: rng("match[]", `{env="prod"}`)},
		{Name: "index_stats", Path: "/loki/api/v1/index/stats", Params: rng("query", `{app="checkout"}`)},
		{Name: "index_volume", Path: "/loki/api/v1/index/volume", Shape: "vector", Params: rng("query", `{env=~".+"}`, "targetLabels", "app")},
	}
}

// testLogcli sends logcli's requests for goldenTenant to c, checks the
// answers' shapes, compares them with golden files (timestamps relative
// to the first day, stats left out) and, for queries, with the engine;
// then tails a stream over a WebSocket while pushing to p.
func testLogcli(t *testing.T, p *Proc, c lokiClient, d *dataset) {
	base := d.First()
	src := d.Source(goldenTenant)
	for _, r := range logcliRequests(base) {
		t.Run(r.Name, func(t *testing.T) {
			body := c.mustGet(t, goldenTenant, r.Path, r.Params, r.Header...)
			v := decodeGeneric(t, body)
			checkShape(t, r.Name, v, r.Shape)
			relTimes(v, base)
			checkGolden(t, r.Name, v)
			if r.Compare != nil {
				c.checkQuery(t, goldenTenant, src, *r.Compare)
			}
		})
	}
	t.Run("tail", func(t *testing.T) { testTail(t, p, p) })
}

// testTail tails {app="tail"} of goldenTenant through fe: a line pushed
// to gw before the connection arrives in the first frame, one pushed
// after it in a later one.
func testTail(t *testing.T, gw, fe *Proc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pushLine := func(line string) {
		req := &push.Request{Streams: []push.Stream{{Labels: `{app="tail", env="prod"}`, Entries: []push.Entry{
			{Timestamp: time.Now().UnixNano(), Line: line},
		}}}}
		gw.MustPush(protoPush(goldenTenant, req), 204)
	}
	// Lines tailed earlier in the test are older than start.
	start := time.Now()
	pushLine("before the tail")
	form := url.Values{"query": {`{app="tail"}`}, "limit": {"30"}, "delay_for": {"0"}, "start": {nsParam(start)}}
	u := "ws://" + fe.Addr + "/loki/api/v1/tail?" + form.Encode()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: map[string][]string{"X-Scope-OrgID": {string(goldenTenant)}}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	defer conn.CloseNow()
	var frames []any
	var lines []string
	for !slices.Contains(lines, "after the tail") {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read a tail frame (lines so far %q): %v", lines, err)
		}
		v := decodeGeneric(t, msg)
		checkTailFrame(t, v)
		for _, s := range v.(map[string]any)["streams"].([]any) {
			for _, e := range s.(map[string]any)["values"].([]any) {
				lines = append(lines, e.([]any)[1].(string))
			}
		}
		frames = append(frames, v)
		if len(frames) == 1 {
			pushLine("after the tail")
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	if !slices.Equal(lines, []string{"before the tail", "after the tail"}) {
		raw, _ := json.Marshal(frames)
		t.Errorf("tailed lines %q in frames %s", lines, raw)
	}
	for _, f := range frames {
		walkValues(f, "", func(ts any) any { return "(now)" })
	}
	checkGolden(t, "tail", frames)
}

// decodeGeneric decodes JSON keeping numbers as written.
func decodeGeneric(t testing.TB, body []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %.500s: %v", body, err)
	}
	return v
}

var nsRe = regexp.MustCompile(`^[0-9]{1,19}$`)

// checkShape checks an answer against the shapes Loki documents for its
// HTTP API: query answers have status, data.resultType and data.result
// with [ns string, line] values for streams and [seconds, "value"]
// samples for matrices and vectors; labels, label values and series
// answer status and data; index/stats answers the four counters.
func checkShape(t testing.TB, name string, v any, resultType string) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: answer is %T, want an object", name, v)
	}
	if name == "index_stats" {
		for _, k := range []string{"streams", "chunks", "bytes", "entries"} {
			if _, ok := m[k].(json.Number); !ok {
				t.Errorf("%s: %q is %v, want a number", name, k, m[k])
			}
		}
		return
	}
	if m["status"] != "success" {
		t.Errorf("%s: status %v", name, m["status"])
	}
	if resultType == "" {
		data, ok := m["data"].([]any)
		if !ok {
			t.Fatalf("%s: data is %T, want an array", name, m["data"])
		}
		for _, e := range data {
			switch e := e.(type) {
			case string:
			case map[string]any:
				checkLabelObject(t, name, e)
			default:
				t.Errorf("%s: data element %T", name, e)
			}
		}
		return
	}
	data, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("%s: data is %T, want an object", name, m["data"])
	}
	if data["resultType"] != resultType {
		t.Fatalf("%s: resultType %v, want %s", name, data["resultType"], resultType)
	}
	if resultType == "scalar" {
		checkSample(t, name, data["result"])
		return
	}
	result, ok := data["result"].([]any)
	if !ok || len(result) == 0 {
		t.Fatalf("%s: result is %v, want a non-empty array", name, data["result"])
	}
	for _, r := range result {
		r, ok := r.(map[string]any)
		if !ok {
			t.Fatalf("%s: result element %T", name, r)
		}
		switch resultType {
		case "streams":
			flags, _ := data["encodingFlags"].([]any)
			checkStream(t, name, r, len(flags) > 0)
		case "matrix":
			checkLabelObject(t, name, r["metric"])
			for _, p := range r["values"].([]any) {
				checkSample(t, name, p)
			}
		case "vector":
			checkLabelObject(t, name, r["metric"])
			checkSample(t, name, r["value"])
		}
	}
}

func checkStream(t testing.TB, name string, s map[string]any, categorized bool) {
	t.Helper()
	checkLabelObject(t, name, s["stream"])
	vs, ok := s["values"].([]any)
	if !ok || len(vs) == 0 {
		t.Fatalf("%s: stream values %v", name, s["values"])
	}
	for _, e := range vs {
		e, ok := e.([]any)
		if !ok || len(e) < 2 || len(e) > 3 || (len(e) == 3) != categorized {
			t.Fatalf("%s: stream value %v (categorized %v)", name, e, categorized)
		}
		ts, ok := e[0].(string)
		if !ok || !nsRe.MatchString(ts) {
			t.Errorf("%s: timestamp %v, want a string of Unix nanoseconds", name, e[0])
		}
		if _, ok := e[1].(string); !ok {
			t.Errorf("%s: line %v, want a string", name, e[1])
		}
		if len(e) == 3 {
			cat, ok := e[2].(map[string]any)
			if !ok {
				t.Fatalf("%s: categories %v", name, e[2])
			}
			for k, v := range cat {
				if k != "structuredMetadata" && k != "parsed" {
					t.Errorf("%s: category %q", name, k)
				}
				checkLabelObject(t, name, v)
			}
		}
	}
}

func checkTailFrame(t testing.TB, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("tail frame %T", v)
	}
	if _, ok := m["dropped_entries"]; !ok {
		t.Errorf("tail frame without dropped_entries: %v", m)
	}
	ss, ok := m["streams"].([]any)
	if !ok {
		t.Fatalf("tail frame streams %T", m["streams"])
	}
	for _, s := range ss {
		checkStream(t, "tail", s.(map[string]any), false)
	}
}

func checkLabelObject(t testing.TB, name string, v any) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: labels %v (%T), want an object", name, v, v)
	}
	for k, v := range m {
		if _, ok := v.(string); !ok {
			t.Errorf("%s: label %s=%v, want a string", name, k, v)
		}
	}
}

func checkSample(t testing.TB, name string, v any) {
	t.Helper()
	p, ok := v.([]any)
	if !ok || len(p) != 2 {
		t.Fatalf("%s: sample %v, want [seconds, \"value\"]", name, v)
	}
	if _, ok := p[0].(json.Number); !ok {
		t.Errorf("%s: sample time %v, want a number", name, p[0])
	}
	if s, ok := p[1].(string); !ok {
		t.Errorf("%s: sample value %v, want a string", name, p[1])
	} else if _, err := strconv.ParseFloat(s, 64); err != nil {
		t.Errorf("%s: sample value %q: %v", name, s, err)
	}
}

// relTimes rewrites the times of an answer relative to base ("base+25h")
// and replaces data.stats, which holds durations and byte counts that vary
// with the run, by a marker.
func relTimes(v any, base time.Time) {
	rel := func(ts any) any {
		switch ts := ts.(type) {
		case string: // Unix ns
			n, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return ts
			}
			return relString(time.Duration(n - base.UnixNano()))
		case json.Number: // seconds
			f, err := ts.Float64()
			if err != nil {
				return ts
			}
			ms := int64(f*1000+0.5) - base.UnixMilli()
			return relString(time.Duration(ms) * time.Millisecond)
		}
		return ts
	}
	if m, ok := v.(map[string]any); ok {
		if data, ok := m["data"].(map[string]any); ok {
			if _, ok := data["stats"]; ok {
				data["stats"] = "(stats)"
			}
			if data["resultType"] == "scalar" {
				// A scalar's time is in milliseconds, as in Loki.
				if p, ok := data["result"].([]any); ok && len(p) == 2 {
					if n, ok := p[0].(json.Number); ok {
						if ms, err := n.Int64(); err == nil {
							p[0] = relString(time.Duration(ms-base.UnixMilli()) * time.Millisecond)
						}
					}
				}
			}
		}
	}
	walkValues(v, "", rel)
}

// relString writes an offset from base: "base+25h0m0s", "base-1s".
func relString(d time.Duration) string {
	if d < 0 {
		return "base-" + (-d).String()
	}
	return "base+" + d.String()
}

// walkValues applies f to the first element of every sample or entry
// under a "values" or "value" key.
func walkValues(v any, key string, f func(any) any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walkValues(e, k, f)
		}
	case []any:
		switch key {
		case "value":
			if len(v) == 2 {
				v[0] = f(v[0])
			}
		case "values":
			for _, e := range v {
				if p, ok := e.([]any); ok && len(p) >= 2 {
					p[0] = f(p[0])
				}
			}
		default:
			for _, e := range v {
				walkValues(e, "", f)
			}
		}
	}
}

// checkGolden compares v, written as indented JSON, with
// testdata/query/<name>.golden.json, or writes it there under -update.
func checkGolden(t testing.TB, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "query", name+".golden.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}
