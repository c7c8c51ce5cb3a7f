package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var kmlogBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kmlog-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kmlogBin = filepath.Join(dir, "kmlog")
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gotool); err != nil {
		gotool = "go"
	}
	build := exec.Command(gotool, "build", "-o", kmlogBin, "github.com/kubemate/kmlog/cmd/kmlog")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "compat: build kmlog: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// kmlog is one all-in-one kmlog process with the dataset loaded.
type kmlog struct {
	URL    string
	Client *http.Client
	dir    string
}

// startKmlog runs kmlog with limits like those of testdata/loki.yaml
// (old samples accepted, 5000 entries per query, multi-tenant queries on)
// and waits until it is ready.
func startKmlog(t *testing.T) *kmlog {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := map[string]any{
		"server":   map[string]any{"http_listen_address": addr},
		"log":      map[string]any{"level": "warn"},
		"storage":  map[string]any{"backend": "dir", "dir": filepath.Join(dir, "objects")},
		"ingester": map[string]any{"wal": map[string]any{"dir": filepath.Join(dir, "wal")}, "out_of_order_window": "12h"}, // as loki.yaml (max_chunk_age/2)
		"limits_config": map[string]any{
			"reject_old_samples":           false,
			"max_entries_limit_per_query":  5000,
			"max_query_length":             "0s",
			"multi_tenant_queries_enabled": true,
		},
	}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "kmlog.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "kmlog.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kmlogBin, "-config.file", cfgPath)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "kmlog.log"))
			t.Logf("kmlog log:\n%s", tail(b, 8<<10))
		}
	})
	k := &kmlog{URL: "http://" + addr, Client: &http.Client{Timeout: time.Minute}, dir: dir}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "kmlog.log"))
			t.Fatalf("kmlog exited:\n%s", tail(b, 8<<10))
		default:
		}
		resp, err := k.Client.Get(k.URL + "/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return k
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kmlog not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (k *kmlog) post(t testing.TB, path, org, ctype string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, k.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if org != "" {
		req.Header.Set("X-Scope-OrgID", org)
	}
	resp, err := k.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, msg)
	}
}

// loadDataset pushes testdata/dataset.json as Loki's capture did and
// flushes, so that every day is answered from data files (kmlog asks
// ingesters only for the last query_ingesters_within; the dataset is
// older).
func (k *kmlog) loadDataset(t *testing.T) {
	t.Helper()
	body, err := os.ReadFile("testdata/dataset.json")
	if err != nil {
		t.Fatal(err)
	}
	k.post(t, "/loki/api/v1/push", orgHeader, "application/json", body)
	k.post(t, "/loki/api/v1/push", otherOrg, "application/json", otherBody(t, body))
	k.post(t, "/flush", "", "", nil)
}

// TestLokiCompat sends every case of testdata/cases.txt to kmlog and
// compares the answer with Loki's (testdata/loki.json): the status, and
// the JSON body without "stats" or the text of an error.
func TestLokiCompat(t *testing.T) {
	cases, err := readCases("testdata/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readAnswers("testdata/loki.json")
	if err != nil {
		t.Fatal(err)
	}
	known, err := differences("testdata/differences.txt")
	if err != nil {
		t.Fatal(err)
	}
	k := startKmlog(t)
	k.loadDataset(t)
	same := 0
	for _, c := range cases {
		w, ok := want[c.Text]
		if !ok {
			t.Errorf("line %d: no Loki answer captured for %q: run the capture (testdata/README.md)", c.Line, c.Text)
			continue
		}
		got, err := c.do(k.Client, k.URL)
		if err != nil {
			t.Fatalf("%s: %v", c.Text, err)
		}
		diff := compareAnswers(c, w, got)
		why, isKnown := known[c.Text]
		switch {
		case diff == "" && isKnown:
			t.Errorf("line %d: %s\n  listed in differences.txt (%s) but kmlog now answers as Loki: remove it", c.Line, c.Text, why)
		case diff == "":
			same++
		case !isKnown:
			t.Errorf("line %d: %s\n%s", c.Line, c.Text, diff)
		}
	}
	t.Logf("kmlog answers %d of %d cases as Loki does; %d known differences", same, len(cases), len(known))
}

// compareAnswers returns "" when the answers agree, else what differs.
// Two things are normalised, both on the two sides alike:
//   - the order of /series results and of detected_labels, which Loki
//     builds from Go maps (it differs from run to run);
//   - sample values (strings that parse as floats) equal within a relative
//     1e-9: Loki and kmlog add floats in different orders (last-digit
//     differences in avg, stddev, stdvar).
func compareAnswers(c qcase, want, got answer) string {
	var b strings.Builder
	if want.Status != got.Status {
		fmt.Fprintf(&b, "  status: Loki %d, kmlog %d\n", want.Status, got.Status)
	}
	same := want.Text == got.Text && bytes.Equal(want.JSON, got.JSON)
	if !same && want.JSON != nil && got.JSON != nil {
		w, g := decodeJSON(want.JSON), decodeJSON(got.JSON)
		if strings.Contains(c.Path, "/series?") || strings.Contains(c.Path, "/detected_labels?") {
			sortArrays(w)
			sortArrays(g)
		}
		same = equalJSON(w, g)
	}
	if !same {
		fmt.Fprintf(&b, "  Loki:  %s\n  kmlog: %s\n", clip(want), clip(got))
	}
	return b.String()
}

func decodeJSON(b []byte) any {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(b)
	}
	return v
}

// sortArrays sorts every array of objects in v by the objects' JSON text.
func sortArrays(v any) {
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			sortArrays(x)
		}
	case []any:
		for _, x := range v {
			sortArrays(x)
		}
		sort.SliceStable(v, func(i, j int) bool {
			a, _ := json.Marshal(v[i])
			b, _ := json.Marshal(v[j])
			return string(a) < string(b)
		})
	}
}

func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, x := range a {
			y, ok := b[k]
			if !ok || !equalJSON(x, y) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	case string:
		b, ok := b.(string)
		if !ok {
			return false
		}
		if a == b {
			return true
		}
		x, err1 := strconv.ParseFloat(a, 64)
		y, err2 := strconv.ParseFloat(b, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y))
	default:
		return reflect.DeepEqual(a, b)
	}
}

func clip(a answer) string {
	s := a.Text
	if a.JSON != nil {
		s = string(a.JSON)
	}
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}
