package compactor_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/compactor"
)

func TestRetention(t *testing.T) {
	b := newDir(t)
	d := testDay()
	old := genDay(600, 20)
	replicate(t, b, d, old, 1)
	recent := genDay(600, 21)
	for i := range recent {
		recent[i].ts += 10 * int64(24*time.Hour)
	}
	replicate(t, b, d+10, recent, 1)
	// Now: the end of day d+10. Global retention 15 days keeps all; the
	// stream rule drops namespace "prod" after 5 days, so d loses its
	// prod streams; then global retention of 5 days drops d whole.
	now := (d + 11).Start().Add(-time.Minute)
	lim := compactor.Limits{RetentionPeriod: compactor.Duration(15 * 24 * time.Hour),
		RetentionStream: []compactor.StreamRetention{{Selector: `{namespace="prod"}`, Period: compactor.Duration(5 * 24 * time.Hour), Priority: 1}}}
	if err := lim.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	c := newCompactor(t, cfg, b, func(tenant.ID) compactor.Limits { return lim })
	rep, err := c.Run(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	var want []ent
	for _, e := range dedup(old) {
		if e.ls.Get("namespace") != "prod" {
			want = append(want, e)
		}
	}
	if len(want) == len(dedup(old)) {
		t.Fatal("the test day has no prod stream")
	}
	got, _ := dayEntries(t, b, d)
	if diff := cmp.Diff(want, got, entOpts...); diff != "" {
		t.Fatalf("day past the stream rule (-want +got):\n%s", diff)
	}
	if rep.RetentionEntries != int64(len(dedup(old))-len(want)) {
		t.Errorf("report counts %d entries past retention, want %d", rep.RetentionEntries, len(dedup(old))-len(want))
	}
	if got, _ := dayEntries(t, b, d+10); len(got) != len(dedup(recent)) {
		t.Errorf("recent day holds %d entries, want %d", len(got), len(dedup(recent)))
	}

	lim.RetentionPeriod = compactor.Duration(5 * 24 * time.Hour)
	rep, err = c.Run(t.Context(), now)
	if err != nil || rep.DaysRetained != 1 {
		t.Fatalf("run: %+v %v, want one day deleted", rep, err)
	}
	if data, idx := countObjects(t, b, d); data != 0 || idx != 0 {
		t.Errorf("day past retention keeps %d data files and %d indexes", data, idx)
	}
	if got, _ := dayEntries(t, b, d+10); len(got) != len(dedup(recent)) {
		t.Errorf("recent day holds %d entries, want %d", len(got), len(dedup(recent)))
	}
}

func TestDeleteAPI(t *testing.T) {
	b := newDir(t)
	d := testDay()
	es := genDay(1500, 30)
	replicate(t, b, d, es, 2)
	cfg := testConfig(t)
	cfg.DeleteRequestCancelPeriod = time.Hour
	c := newCompactor(t, cfg, b, nil)
	h := c.Handler()
	call := func(method, org string, v url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/loki/api/v1/delete?"+v.Encode(), nil)
		if org != "" {
			r.Header.Set("X-Scope-OrgID", org)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	a := api{t: t, bkt: b}
	countQ := url.Values{"query": {`sum(count_over_time({namespace=~".+"}[25h]))`}, "time": {strconv.FormatInt(d.Start().Add(24*time.Hour).Unix(), 10)}}
	count := func() int {
		code, body := a.get("/loki/api/v1/query", countQ)
		if code != 200 {
			t.Fatalf("count: %d %s", code, body)
		}
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Data.Result) > 1 {
			t.Fatalf("count: %s %v", body, err)
		}
		if len(r.Data.Result) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(r.Data.Result[0].Value[1].(string))
		return n
	}
	all := dedup(es)
	if n := count(); n != len(all) {
		t.Fatalf("before: %d entries, want %d", n, len(all))
	}
	var keep []ent
	for _, e := range all {
		if !(e.ls.Get("namespace") == "prod" && strings.Contains(e.line, "error")) {
			keep = append(keep, e)
		}
	}
	start, end := strconv.FormatInt(d.Start().Unix(), 10), strconv.FormatInt(d.Start().Add(24*time.Hour).Unix()-1, 10)

	// Bad requests, Loki's texts.
	for _, tc := range []struct {
		v    url.Values
		want string
	}{
		{url.Values{"start": {start}}, "query not set"},
		{url.Values{"query": {`{namespace="prod"`}, "start": {start}}, "invalid query expression"},
		{url.Values{"query": {`{namespace="prod"}`}}, "start time not set"},
		{url.Values{"query": {`{namespace="prod"}`}, "start": {end}, "end": {start}}, "start time can't be greater than or equal to end time"},
		{url.Values{"query": {`{namespace="prod"}`}, "start": {start}, "end": {strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}}, "deletes in the future are not allowed"},
	} {
		w := call(http.MethodPost, string(tid), tc.v)
		if w.Code != 400 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%v: %d %q, want 400 %q", tc.v, w.Code, w.Body.String(), tc.want)
		}
	}
	if w := call(http.MethodPost, "", url.Values{"query": {`{a="b"}`}, "start": {start}}); w.Code != 401 {
		t.Errorf("no tenant: %d", w.Code)
	}

	// A request to cancel, and one to keep.
	w := call(http.MethodPost, string(tid), url.Values{"query": {`{namespace=~".+"}`}, "start": {start}, "end": {end}})
	if w.Code != 204 {
		t.Fatalf("post: %d %s", w.Code, w.Body.String())
	}
	cancelID := w.Header().Get("X-Delete-Request-ID")
	if n := count(); n != 0 {
		t.Errorf("after deleting everything: %d entries visible, want 0", n)
	}
	if w := call(http.MethodDelete, string(tid), url.Values{"request_id": {cancelID}}); w.Code != 204 {
		t.Fatalf("cancel: %d %s", w.Code, w.Body.String())
	}
	if n := count(); n != len(all) {
		t.Errorf("after cancelling: %d entries, want %d", n, len(all))
	}
	w = call(http.MethodPost, string(tid), url.Values{"query": {`{namespace="prod"} |= "error"`}, "start": {start}, "end": {end}})
	if w.Code != 204 {
		t.Fatalf("post: %d %s", w.Code, w.Body.String())
	}
	id := w.Header().Get("X-Delete-Request-ID")
	if n := count(); n != len(keep) {
		t.Errorf("lines not hidden at once: %d entries, want %d", n, len(keep))
	}
	// Another tenant neither sees nor cancels it, and its lines stay.
	other := "tenant-other"
	if w := call(http.MethodGet, other, nil); w.Body.String() != "[]\n" {
		t.Errorf("other tenant lists %s", w.Body.String())
	}
	if w := call(http.MethodDelete, other, url.Values{"request_id": {id}}); w.Code != 404 {
		t.Errorf("other tenant cancels: %d", w.Code)
	}

	list := func() []map[string]any {
		w := call(http.MethodGet, string(tid), nil)
		var out []map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v", w.Body.String(), err)
		}
		return out
	}
	l := list()
	if len(l) != 1 || l[0]["request_id"] != id || l[0]["status"] != "received" || l[0]["query"] != `{namespace="prod"} |= "error"` ||
		l[0]["start_time"] != float64(d.Start().Unix()) || l[0]["user_id"] != "" {
		t.Errorf("GET: %v", l)
	}

	// Within the cancel period the compactor does not apply it; after, it
	// does, and once the grace period has passed the request is processed.
	now := time.Now()
	if _, err := c.Run(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	if got, _ := dayEntries(t, b, d); len(got) != len(all) {
		t.Errorf("applied within the cancel period: %d entries in files", len(got))
	}
	rep, err := c.Run(t.Context(), now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeletedEntries != int64(len(all)-len(keep)) {
		t.Errorf("report: %d deleted, want %d", rep.DeletedEntries, len(all)-len(keep))
	}
	got, _ := dayEntries(t, b, d)
	if diff := cmp.Diff(keep, got, entOpts...); diff != "" {
		t.Fatalf("files after the delete (-want +got):\n%s", diff)
	}
	if n := count(); n != len(keep) {
		t.Errorf("after compaction: %d entries, want %d", n, len(keep))
	}
	if _, err := c.Run(t.Context(), now.Add(2*time.Hour+cfg.Grace+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(t.Context(), now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if l := list(); len(l) != 1 || l[0]["status"] != "processed" {
		t.Errorf("GET after processing: %v", l)
	}
	if w := call(http.MethodDelete, string(tid), url.Values{"request_id": {id}}); w.Code != 400 {
		t.Errorf("cancel of a processed request: %d", w.Code)
	}
	if n := count(); n != len(keep) {
		t.Errorf("after the marker went: %d entries, want %d", n, len(keep))
	}
	_ = labels.Labels{}
	_ = objkey.Day(0)
}
