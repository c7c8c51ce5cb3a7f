package querier_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
)

func TestHandler(t *testing.T) {
	s := newScenario(t, newDir(t), 2000)
	q := newQuerier(t, s, querier.DefaultConfig())
	srv := httptest.NewServer(q)
	t.Cleanup(srv.Close)
	post := func(body string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.Bytes()
	}
	good := qcase{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 20}.request(true)
	js, _ := json.Marshal(good)
	resp, body := post(string(js))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %s: %s", resp.Status, body)
	}
	var got querier.Response
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	direct, err := q.Query(t.Context(), good)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Opts{})
	finalize := func(b []byte) engine.Value {
		var part engine.Partial
		if err := part.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		res, err := eng.Finalize(t.Context(), qcase{query: good.Query, end: 24 * time.Hour, limit: 20}.params(), &part)
		if err != nil {
			t.Fatal(err)
		}
		return res.Value
	}
	if diff := cmp.Diff(finalize(direct.Partial), finalize(got.Partial)); diff != "" || got.Stats.GetRequests == 0 {
		t.Errorf("HTTP answer differs from Query (stats %+v):\n%s", got.Stats, diff)
	}

	bad := good
	bad.Query = `{namespace=~".+"} |= `
	js, _ = json.Marshal(bad)
	if resp, body := post(string(js)); resp.StatusCode != 400 || !strings.Contains(string(body), "parse error") {
		t.Errorf("bad query: %s %s", resp.Status, body)
	}
	if resp, _ := post(`{"kind": 3}`); resp.StatusCode != 400 {
		t.Errorf("bad JSON: %s", resp.Status)
	}
	r, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s", r.Status)
	}
}

func TestConfig(t *testing.T) {
	if err := querier.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 2 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg := querier.DefaultConfig()
			dec := yaml.NewDecoder(bytes.NewReader(b))
			dec.KnownFields(true)
			if err := dec.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if bad := strings.HasSuffix(f, ".bad.yaml"); bad != (err != nil) {
				t.Errorf("Validate = %v", err)
			}
		})
	}
	want := querier.Config{IndexCacheBytes: 1 << 20, MaxParallelReads: 4, RecentTimeout: 3 * time.Second,
		MaxSeries: 100, MaxInternalSeries: 1000, MaxEntries: 1000, MaxLabelResults: 10}
	b, _ := os.ReadFile("testdata/good.yaml")
	var got querier.Config
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

// TestMinIO runs the scenario on a real MinIO: the same answers, and
// every GET goes over HTTP.
func TestMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	b := srv.NewBucket(t, "querier")
	s := newScenario(t, b, 5000)
	q := newQuerier(t, s, querier.DefaultConfig())
	needle := needleOf(t, s.storage)
	cases := queryCases(needle)
	checkQueries(t, q, s.all, true, []qcase{cases[0], cases[1], cases[6], cases[7]})
}
