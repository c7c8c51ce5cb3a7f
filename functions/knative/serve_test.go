package knative

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// fn is a test function with every optional capability, each observable.
type fn struct {
	mu      sync.Mutex
	events  []string
	ready   atomic.Bool
	alive   atomic.Bool
	startCh chan struct{} // Start waits for it when not nil
	gotEnv  map[string]string
}

func newFn() *fn {
	f := &fn{}
	f.ready.Store(true)
	f.alive.Store(true)
	return f
}

func (f *fn) record(e string) { f.mu.Lock(); f.events = append(f.events, e); f.mu.Unlock() }

func (f *fn) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func (f *fn) Handle(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI())
}

func (f *fn) Start(ctx context.Context, cfg map[string]string) error {
	if f.startCh != nil {
		select {
		case <-f.startCh:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.gotEnv = cfg
	f.record("start")
	if cfg["FAIL_START"] != "" {
		return errors.New(cfg["FAIL_START"])
	}
	return nil
}

func (f *fn) Stop(context.Context) error                       { f.record("stop"); return nil }
func (f *fn) Ready(context.Context) (bool, error)              { return f.ready.Load(), nil }
func (f *fn) Alive(context.Context) (bool, error)              { return f.alive.Load(), nil }
func (f *fn) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.Handle(w, r) }

// The instanced shape of the func template, checked at compile time.
var (
	_ Instance     = (*fn)(nil)
	_ Starter      = (*fn)(nil)
	_ Stopper      = (*fn)(nil)
	_ ReadyChecker = (*fn)(nil)
	_ AliveChecker = (*fn)(nil)
)

// serving runs Serve on a free loopback port and returns its base URL and
// a function that ends it and returns Serve's error.
func serving(t *testing.T, inst Instance, cfg Config) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, inst, cfg, testLogger(t)) }()
	var once sync.Once
	var serveErr error
	end := func() error {
		once.Do(func() { cancel(); serveErr = <-errc })
		return serveErr
	}
	t.Cleanup(func() { _ = end() })
	return "http://" + ln.Addr().String(), end
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHealthAndHandle(t *testing.T) {
	f := newFn()
	cfg := DefaultConfig()
	cfg.Env = map[string]string{"KMLOG_X": "1"}
	base, end := serving(t, f, cfg)
	waitFor(t, func() bool { c, _ := get(t, base+ReadinessPath); return c == 200 })

	type probe struct {
		path string
		code int
		body string
	}
	check := func(name string, want []probe) {
		t.Helper()
		for _, p := range want {
			code, body := get(t, base+p.path)
			if code != p.code || !strings.HasPrefix(body, p.body) {
				t.Errorf("%s: GET %s = %d %q, want %d %q", name, p.path, code, body, p.code, p.body)
			}
		}
	}
	check("healthy", []probe{
		{ReadinessPath, 200, "READY"},
		{LivenessPath, 200, "ALIVE"},
		{"/loki/api/v1/query_range?query=%7Bapp%3D%22x%22%7D&limit=5", 200, "GET /loki/api/v1/query_range?query=%7Bapp%3D%22x%22%7D&limit=5"},
		{"/health/other", 200, "GET /health/other"},
		{"/", 200, "GET /"},
	})
	f.ready.Store(false)
	f.alive.Store(false)
	check("unhealthy", []probe{
		{ReadinessPath, 503, "not ready"},
		{LivenessPath, 503, "not alive"},
		{"/x", 200, "GET /x"}, // readiness steers traffic; Handle still answers
	})
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"start", "stop"}, f.Events()); diff != "" {
		t.Errorf("lifecycle (-want +got):\n%s", diff)
	}
	if f.gotEnv["KMLOG_X"] != "1" {
		t.Errorf("Start got env %v", f.gotEnv)
	}
}

func TestStartGatesRequests(t *testing.T) {
	f := newFn()
	f.startCh = make(chan struct{})
	base, end := serving(t, f, DefaultConfig())
	for _, p := range []string{ReadinessPath, "/loki/api/v1/labels"} {
		if code, _ := get(t, base+p); code != 503 {
			t.Errorf("GET %s while starting = %d, want 503", p, code)
		}
	}
	if code, _ := get(t, base+LivenessPath); code != 200 {
		t.Errorf("liveness while starting = %d, want 200", code)
	}
	close(f.startCh)
	waitFor(t, func() bool { c, _ := get(t, base+ReadinessPath); return c == 200 })
	if code, body := get(t, base+"/loki/api/v1/labels"); code != 200 || body != "GET /loki/api/v1/labels" {
		t.Errorf("after start: %d %q", code, body)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
}

func TestStartError(t *testing.T) {
	f := newFn()
	cfg := DefaultConfig()
	cfg.Env = map[string]string{"FAIL_START": "bucket unreachable"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = Serve(context.Background(), ln, f, cfg, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "start function: bucket unreachable") {
		t.Fatalf("Serve = %v", err)
	}
	if diff := cmp.Diff([]string{"start"}, f.Events()); diff != "" {
		t.Errorf("Stop must not run after a failed Start (-want +got):\n%s", diff)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still open after a failed Start")
	}
}

func TestCancelDuringStart(t *testing.T) {
	f := newFn()
	f.startCh = make(chan struct{}) // never closed: Start returns ctx.Err()
	_, end := serving(t, f, DefaultConfig())
	if err := end(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve = %v, want the cancelled Start's error", err)
	}
}

// slowFn answers each request only when release is closed.
type slowFn struct {
	*fn
	entered chan struct{}
	release chan struct{}
}

func (s slowFn) Handle(w http.ResponseWriter, r *http.Request) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
		s.record("handled")
		io.WriteString(w, "complete answer")
	case <-r.Context().Done():
		s.record("cut")
	}
}

func TestDrainWaitsForInFlight(t *testing.T) {
	s := slowFn{newFn(), make(chan struct{}, 1), make(chan struct{})}
	base, end := serving(t, s, DefaultConfig())
	waitFor(t, func() bool { c, _ := get(t, base+ReadinessPath); return c == 200 })

	type result struct {
		code int
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{resp.StatusCode, string(b), err}
	}()
	<-s.entered
	endc := make(chan error, 1)
	go func() { endc <- end() }()

	// Draining: new connections are refused while the request runs.
	addr := strings.TrimPrefix(base, "http://")
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-endc:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}
	close(s.release)
	r := <-resc
	if r.err != nil || r.code != 200 || r.body != "complete answer" {
		t.Fatalf("in-flight request: %d %q %v", r.code, r.body, r.err)
	}
	if err := <-endc; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if diff := cmp.Diff([]string{"start", "handled", "stop"}, s.Events()); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestDrainTimeoutCutsRequests(t *testing.T) {
	s := slowFn{newFn(), make(chan struct{}, 1), make(chan struct{})}
	cfg := DefaultConfig()
	cfg.DrainTimeout = 20 * time.Millisecond
	base, end := serving(t, s, cfg)
	waitFor(t, func() bool { c, _ := get(t, base+ReadinessPath); return c == 200 })
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(base + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-s.entered
	err := end()
	if !errors.Is(err, ErrDrainTimeout) || !strings.Contains(err.Error(), "drain 1 requests") {
		t.Fatalf("Serve = %v, want ErrDrainTimeout for 1 request", err)
	}
	<-done
	if diff := cmp.Diff([]string{"start", "cut", "stop"}, s.Events()); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// TestSIGTERM runs the contract end to end the way cmd/ wires it: SIGTERM
// becomes the end of ctx. signal.NotifyContext is registered before the
// signal is sent, so the test process is not terminated.
func TestSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg, err := ConfigFromEnv([]string{fmt.Sprintf("PORT=%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenAddress = fmt.Sprintf("127.0.0.1:%d", port) // loopback only in tests
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	f := newFn()
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, f, cfg, testLogger(t)) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, func() bool {
		resp, err := http.Get(base + ReadinessPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if diff := cmp.Diff([]string{"start", "stop"}, f.Events()); diff != "" {
		t.Errorf("lifecycle (-want +got):\n%s", diff)
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		addr    string
		drain   time.Duration
		wantErr string
	}{
		{"default", nil, ":8080", 30 * time.Second, ""},
		{"port", []string{"PORT=9090"}, ":9090", 30 * time.Second, ""},
		{"listen address wins", []string{"PORT=9090", "LISTEN_ADDRESS=127.0.0.1:7000"}, "127.0.0.1:7000", 30 * time.Second, ""},
		{"drain", []string{"KMLOG_DRAIN_TIMEOUT=5s"}, ":8080", 5 * time.Second, ""},
		{"value with =", []string{"X=a=b", "PORT=1"}, ":1", 30 * time.Second, ""},
		{"bad drain", []string{"KMLOG_DRAIN_TIMEOUT=soon"}, "", 0, "parse KMLOG_DRAIN_TIMEOUT"},
		{"bad address", []string{"LISTEN_ADDRESS=nowhere"}, "", 0, "listen address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ListenAddress != tc.addr || cfg.DrainTimeout != tc.drain {
				t.Errorf("got %q %v, want %q %v", cfg.ListenAddress, cfg.DrainTimeout, tc.addr, tc.drain)
			}
			if len(cfg.Env) != len(tc.env) {
				t.Errorf("Env has %d entries, want %d", len(cfg.Env), len(tc.env))
			}
		})
	}
	if cfg, _ := ConfigFromEnv([]string{"X=a=b"}); cfg.Env["X"] != "a=b" {
		t.Errorf("Env[X] = %q", cfg.Env["X"])
	}
}

func TestDetect(t *testing.T) {
	env := map[string]string{"K_SERVICE": "kmlog-querier"}
	if !Detect(func(k string) string { return env[k] }) || Detect(func(string) string { return "" }) {
		t.Error("Detect")
	}
}
