package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/agent/tail"
	"github.com/kubemate/kmlog/format/push"
)

// receiver is a push endpoint that records every entry it gets.
type receiver struct {
	mu   sync.Mutex
	got  map[string]int // labels|ts|line → times received
	reqs int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs++
	for _, s := range req.Streams {
		for _, e := range s.Entries {
			rc.got[fmt.Sprintf("%s|%d|%s", s.Labels, e.Timestamp, e.Line)]++
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) snapshot() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.got))
	for k, v := range rc.got {
		out[k] = v
	}
	return out
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{got: map[string]int{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/loki/api/v1/push"
}

// testConfig is a Promtail config over root's pod logs, pushing to url.
func testConfig(t testing.TB, root, url, maxWait string) config.Config {
	t.Helper()
	return testConfigWAL(t, root, url, maxWait, 65536, 1048576)
}

// testConfigWAL is testConfig with the given WAL sizes.
func testConfigWAL(t testing.TB, root, url, maxWait string, segSize, maxSize int) config.Config {
	t.Helper()
	text := fmt.Sprintf(`
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 0
positions:
  filename: %[1]s/state/positions.yaml
  sync_period: 100ms
wal:
  dir: %[1]s/state/wal
  segment_size_bytes: %[4]d
  max_size_bytes: %[5]d
clients:
  - url: %[2]s
    batchwait: 50ms
global:
  file_watch_config:
    min_poll_frequency: 10ms
    max_poll_frequency: 10ms
target_config:
  sync_period: 50ms
scrape_configs:
  - job_name: pods
    pipeline_stages:
      - cri: {}
      - multiline:
          firstline: '^\{'
          max_wait_time: %[3]s
      - json:
          expressions:
            level: level
      - labels:
          level:
      - replace:
          expression: '(\d{17}[\dX])'
          replace: '**************'
    static_configs:
      - targets: [localhost]
        labels:
          job: pods
          __path__: %[1]s/pods/*/*/0.log
`, root, url, maxWait, segSize, maxSize)
	if err := os.MkdirAll(filepath.Join(root, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return *cfg
}

// running is an agent started in the background.
type running struct {
	a    *Agent
	stop func() error
}

func startAgent(t testing.TB, cfg config.Config) running {
	t.Helper()
	reg := prometheus.NewRegistry()
	a, err := New(cfg, Options{
		Hostname: "node-1", Registerer: reg, Gatherer: reg, Seed: 1,
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		CommitInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "ready", a.Ready)
	var once sync.Once
	var err2 error
	stop := func() error {
		once.Do(func() { cancel(); err2 = <-done })
		return err2
	}
	t.Cleanup(func() { _ = stop() })
	return running{a: a, stop: stop}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func cri(ts int, flag, s string) string {
	return fmt.Sprintf("2026-11-25T10:00:%02d.%09dZ stdout %s %s", ts/1000, ts%1000, flag, s)
}

func key(labels string, ts int, line string) string {
	return fmt.Sprintf("%s|%d|%s", labels, time.Date(2026, 11, 25, 10, 0, ts/1000, ts%1000, time.UTC).UnixNano(), line)
}

// TestAgentShipsPods runs the agent over two pods' files: CRI lines with
// partial lines, a stack trace, an ID number, a rotation and a deleted
// pod, and checks what arrives, the committed positions, and that the
// deleted pod's position is removed.
func TestAgentShipsPods(t *testing.T) {
	root := t.TempDir()
	rc, url := newReceiver(t)
	cfg := testConfig(t, root, url, "100ms")
	a := startAgent(t, cfg)

	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	gone := filepath.Join(root, "pods", "prod_gone-1_u2", "c", "0.log")
	appendFile(t, app,
		cri(1, "F", `{"level":"info","msg":"start id 11010519491231002X"}`),
		cri(2, "F", `{"level":"error","msg":"boom"}`),
		cri(3, "F", `java.lang.IllegalStateException: x`),
		cri(4, "P", `	at com.example.A.run(`),
		cri(5, "F", `A.java:1)`),
		cri(6, "F", `{"level":"info","msg":"after"}`),
	)
	appendFile(t, gone, cri(7, "F", `{"level":"warn","msg":"last words"}`))
	appL := func(level string) string {
		if level == "" {
			return fmt.Sprintf(`{filename="%s", job="pods", stream="stdout"}`, app)
		}
		return fmt.Sprintf(`{filename="%s", job="pods", level="%s", stream="stdout"}`, app, level)
	}
	want := map[string]int{
		key(appL("info"), 1, `{"level":"info","msg":"start id **************"}`): 1,
		// The joined block is not JSON: no level (as in Promtail).
		key(appL(""), 2, "{\"level\":\"error\",\"msg\":\"boom\"}\njava.lang.IllegalStateException: x\n\tat com.example.A.run(A.java:1)"): 1,
		key(appL("info"), 6, `{"level":"info","msg":"after"}`):                                                                           1,
		key(fmt.Sprintf(`{filename="%s", job="pods", level="warn", stream="stdout"}`, gone), 7, `{"level":"warn","msg":"last words"}`):   1,
	}
	waitFor(t, "four entries", func() bool { return len(rc.snapshot()) >= 4 })

	// Rotate app's file as kubelet does, and delete the other pod.
	if err := os.Rename(app, app+".20261125-100010"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, app, cri(8, "F", `{"level":"info","msg":"new file"}`))
	want[key(appL("info"), 8, `{"level":"info","msg":"new file"}`)] = 1
	if err := os.RemoveAll(filepath.Dir(filepath.Dir(gone))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "five entries", func() bool { return len(rc.snapshot()) >= 5 })
	waitFor(t, "the deleted pod's file forgotten", func() bool {
		return len(a.a.Targets()) == 1
	})
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rc.snapshot()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	pos, err := tail.OpenPositions(tail.PositionsConfig{Filename: cfg.Positions.Filename, SyncPeriod: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(app)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := pos.Get(app); !ok || p.Offset != fi.Size() || p.ID != tail.IdentityOf(fi) {
		t.Errorf("position of %s: %+v (%v), want the end of the new file (%d)", app, p, ok, fi.Size())
	}
	if p, ok := pos.Get(gone); ok {
		t.Errorf("the deleted file still has a position: %+v", p)
	}
}

// TestAgentCommitsBeforeHeldLines: while the multiline stage holds a
// block, the committed position stays at the block's first line; after a
// restart the block is read again and shipped once, whole.
func TestAgentCommitsBeforeHeldLines(t *testing.T) {
	root := t.TempDir()
	rc, url := newReceiver(t)
	cfg := testConfig(t, root, url, "1h") // blocks end only with the next start or shutdown
	a := startAgent(t, cfg)
	app := filepath.Join(root, "pods", "prod_app-1_u1", "app", "0.log")
	first := cri(1, "F", `{"level":"info","msg":"one"}`)
	appendFile(t, app, first)
	held := int64(len(first) + 1)
	appendFile(t, app, cri(2, "F", `{"level":"error","msg":"two"}`), cri(3, "F", "trace line"))
	size := func() int64 { fi, _ := os.Stat(app); return fi.Size() }()
	// The first block was released by the second; the second is held.
	waitFor(t, "the first entry", func() bool { return len(rc.snapshot()) == 1 })
	waitFor(t, "everything read and committed up to the held block", func() bool {
		ts := a.a.Targets()
		return len(ts) == 1 && ts[0].ReadOffset == size && ts[0].Committed == held
	})

	// A clean stop flushes the held block into the WAL and commits the
	// end (the crash case is tests/e2e's).
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	pos, err := tail.OpenPositions(tail.PositionsConfig{Filename: cfg.Positions.Filename, SyncPeriod: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := pos.Get(app); p.Offset != size {
		t.Errorf("after a clean stop the position is %d, want the end %d", p.Offset, size)
	}
	_ = pos.Close()

	// Restarted, the WAL ships what the first run appended at shutdown.
	b := startAgent(t, cfg)
	waitFor(t, "the block flushed at shutdown", func() bool { return len(rc.snapshot()) >= 2 })
	appendFile(t, app, cri(4, "F", `{"level":"info","msg":"four"}`), cri(5, "F", `{"level":"info","msg":"five"}`))
	waitFor(t, "three entries", func() bool { return len(rc.snapshot()) >= 3 })
	_ = b.stop()
	got := slices.Sorted(mapKeys(rc.snapshot()))
	want := []string{
		key(fmt.Sprintf(`{filename="%s", job="pods", stream="stdout"}`, app), 2, "{\"level\":\"error\",\"msg\":\"two\"}\ntrace line"),
		key(fmt.Sprintf(`{filename="%s", job="pods", level="info", stream="stdout"}`, app), 1, `{"level":"info","msg":"one"}`),
		key(fmt.Sprintf(`{filename="%s", job="pods", level="info", stream="stdout"}`, app), 4, `{"level":"info","msg":"four"}`),
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

// TestAgentServes checks /ready, /metrics and /targets.
func TestAgentServes(t *testing.T) {
	root := t.TempDir()
	_, url := newReceiver(t)
	a := startAgent(t, testConfig(t, root, url, "100ms"))
	appendFile(t, filepath.Join(root, "pods", "ns_p_u", "c", "0.log"), cri(1, "F", "x"))
	waitFor(t, "a target", func() bool { return len(a.a.Targets()) == 1 })
	base := "http://" + a.a.Addr().String()
	for path, want := range map[string]string{
		"/ready":   "ready",
		"/metrics": "kmlog_agent_read_lines_total 1",
		"/targets": `"job":"pods"`,
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		_, _ = fmt.Fprint(&sb, readAll(resp))
		if resp.StatusCode != 200 || !strings.Contains(sb.String(), want) {
			t.Errorf("%s: %s, body lacks %q:\n%.500s", path, resp.Status, want, sb.String())
		}
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
