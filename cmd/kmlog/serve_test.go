package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAllInOneDemo runs the all-in-one process with demo data, waits for
// data to flow, stops it, and checks that the shutdown flushed everything
// to data files and left the WAL empty.
func TestAllInOneDemo(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "kmlog.yaml")
	cfg := fmt.Sprintf(`
server:
  http_listen_address: %s
storage:
  dir: %s/objects
ingester:
  wal:
    dir: %s/wal
demo:
  backfill: 10m
log:
  level: warn
`, addr, dir, dir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-config.file", cfgPath, "-demo"}, &out, &out) }()

	received := func() float64 {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, `kmlog_distributor_received_entries_total{tenant="fake"}`) {
				var v float64
				fmt.Sscan(strings.Fields(line)[1], &v)
				return v
			}
		}
		return 0
	}
	deadline := time.Now().Add(60 * time.Second)
	for received() < 2000 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no demo data arrived; output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "objects", "fake", "*", "data", "*.parquet"))
	idx, _ := filepath.Glob(filepath.Join(dir, "objects", "fake", "*", "index", "*.idx"))
	if len(files) == 0 || len(files) != len(idx) {
		t.Fatalf("data files %v, indexes %v", files, idx)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil && fi.Size() > 64 {
			t.Errorf("WAL segment %s holds %d bytes after a clean shutdown", s, fi.Size())
		}
	}
}

// startAll runs the all-in-one process on a temp dir until the test ends
// and returns its base URL.
func startAll(t *testing.T, extraYAML string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "kmlog.yaml")
	cfg := fmt.Sprintf("server:\n  http_listen_address: %s\nstorage:\n  dir: %s/objects\ningester:\n  wal:\n    dir: %s/wal\nlog:\n  level: warn\n%s", addr, dir, dir, extraYAML)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-config.file", cfgPath}, args...), &out, &out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v\n%s", err, out.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// TestAllInOneQuery pushes through the Loki push API and reads back
// through the Loki query API, before the flush (from the ingester) and
// after it (from the bucket): the answers are the same.
func TestAllInOneQuery(t *testing.T) {
	base := startAll(t, "")
	now := time.Now()
	var vals []string
	for i := 0; i < 5; i++ {
		vals = append(vals, fmt.Sprintf(`["%d", "line %d trace_id=4bf92f3577b34da6a3ce929d0e0e473%d"]`, now.Add(time.Duration(i-10)*time.Second).UnixNano(), i, i))
	}
	body := `{"streams":[{"stream":{"app":"api","namespace":"prod"},"values":[` + strings.Join(vals, ",") + `]},` +
		`{"stream":{"app":"web","namespace":"dev"},"values":[["` + fmt.Sprint(now.Add(-time.Second).UnixNano()) + `","web line"]]}]}`
	resp, err := http.Post(base+"/loki/api/v1/push", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("push: %s", resp.Status)
	}
	queries := func() []string {
		return []string{
			get(t, base+"/loki/api/v1/labels"),
			get(t, base+"/loki/api/v1/label/app/values"),
			get(t, base+"/loki/api/v1/query_range?limit=3&query="+url.QueryEscape(`{namespace="prod"} |= "trace_id"`)),
			get(t, base+"/loki/api/v1/query_range?query="+url.QueryEscape(`{app=~".+"} |= "4bf92f3577b34da6a3ce929d0e0e4732"`)),
			get(t, base+"/loki/api/v1/series?match[]="+url.QueryEscape(`{app="web"}`)),
		}
	}
	stripStats := func(s string) string {
		if i := strings.Index(s, `,"stats":`); i >= 0 {
			return s[:i]
		}
		return s
	}
	before := queries()
	for _, want := range []string{`"app"`, `"namespace"`, `"api"`, `"web"`, "line 4", "line 2", `"namespace":"dev"`} {
		if !strings.Contains(strings.Join(before, "\n"), want) {
			t.Errorf("answers before the flush lack %s:\n%s", want, strings.Join(before, "\n"))
		}
	}
	if strings.Contains(before[2], "line 1") {
		t.Errorf("limit 3, backward: line 1 must not be there:\n%s", before[2])
	}
	resp, err = http.Post(base+"/flush", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	after := queries()
	for i := range before {
		if stripStats(before[i]) != stripStats(after[i]) {
			t.Errorf("query %d differs after the flush:\nbefore %s\nafter  %s", i, before[i], after[i])
		}
	}
}

// TestKnativeQuerier runs the querier target under the Knative runtime
// contract, as a Knative Service would start it: no flags, the target and
// config from the environment, HTTP on $PORT, health endpoints.
func TestKnativeQuerier(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kmlog.yaml")
	if err := os.WriteFile(cfgPath, []byte("storage:\n  dir: "+dir+"/objects\nlog:\n  level: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	t.Setenv("K_SERVICE", "kmlog-querier")
	t.Setenv("PORT", port)
	t.Setenv("KMLOG_TARGET", "querier")
	t.Setenv("KMLOG_CONFIG_FILE", cfgPath)
	ctx, cancel := context.WithCancel(t.Context())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, &out, &out) }()
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not ready: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	resp, err := http.Post(base+"/", "application/json", strings.NewReader(`{"kind":"labels","tenant":"fake","day":"`+day+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"stats"`) {
		t.Fatalf("querier answer %s: %s", resp.Status, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
}
