package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// AgentProc is one `kmlog agent` process over a Promtail-style config. Its
// directory (positions, WAL, log) stays across Kill and Start, as for the
// DaemonSet pod of one node coming back.
type AgentProc struct {
	t       testing.TB
	Addr    string // its HTTP server: /ready, /metrics, /targets
	Dir     string
	cfgPath string
	logPath string
	Env     []string
	// Args are added to the command line.
	Args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// NewAgentProc writes cfg (a Promtail config as nested maps; server,
// positions and wal are filled in) and returns the process, not started.
func NewAgentProc(t testing.TB, name string, cfg Config) *AgentProc {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &AgentProc{t: t, Addr: freeAddr(t), Dir: dir, cfgPath: filepath.Join(dir, "agent.yaml"), logPath: filepath.Join(dir, "agent.log")}
	host, port, _ := splitHostPort(a.Addr)
	base := Config{
		"server":    Config{"http_listen_address": host, "http_listen_port": port, "log_level": "info"},
		"positions": Config{"filename": filepath.Join(dir, "positions.yaml"), "sync_period": "200ms"},
		"wal":       Config{"dir": filepath.Join(dir, "wal")},
	}
	raw, err := yaml.Marshal(merge(base, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.stop(syscall.SIGTERM)
		if b, err := os.ReadFile(a.logPath); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("%s: the race detector reported a data race; see its log", name)
		}
		if t.Failed() || os.Getenv("KMLOG_E2E_LOGS") != "" {
			b, _ := os.ReadFile(a.logPath)
			if len(b) > 16<<10 {
				b = b[len(b)-16<<10:]
			}
			t.Logf("--- log of %s, last 16 KiB ---\n%s", name, b)
		}
	})
	return a
}

func splitHostPort(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			return addr[:i], p, err
		}
	}
	return addr, 0, fmt.Errorf("no port in %q", addr)
}

// Start runs `kmlog agent -config.file ...` and waits for /ready.
func (a *AgentProc) Start() {
	a.t.Helper()
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(kmlogBin, append([]string{"agent", "-config.file", a.cfgPath}, a.Args...)...)
	cmd.Env = append(os.Environ(), append([]string{"HOSTNAME=node-e2e"}, a.Env...)...)
	cmd.Dir = a.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	done := make(chan struct{})
	a.mu.Lock()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-done:
			a.t.Fatalf("agent exited before it was ready:\n%s", a.logTail())
		default:
		}
		resp, err := http.Get("http://" + a.Addr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("agent not ready after a minute:\n%s", a.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *AgentProc) logTail() string {
	b, _ := os.ReadFile(a.logPath)
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// Kill ends the agent with SIGKILL: no flush, no final commit.
func (a *AgentProc) Kill() { a.stop(syscall.SIGKILL) }

// Stop ends the agent with SIGTERM and waits.
func (a *AgentProc) Stop() { a.stop(syscall.SIGTERM) }

func (a *AgentProc) stop(sig syscall.Signal) {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Metrics scrapes the agent's /metrics.
func (a *AgentProc) Metrics() map[string]float64 {
	a.t.Helper()
	p := &Proc{t: a.t, Name: "agent", Addr: a.Addr, Scheme: "http", Client: http.DefaultClient}
	return p.Metrics()
}

// faultProxy stands between the agent and kmlog: a TLS endpoint (HTTP/1.1,
// so connections can be cut) that forwards pushes upstream but, drawn from
// a seeded source, answers 503 or 429 without forwarding, cuts the
// connection before forwarding, or forwards and then cuts the connection
// so the agent never learns the push succeeded (and sends it again).
type faultProxy struct {
	srv      *httptest.Server
	upstream string
	client   *http.Client

	mu  sync.Mutex
	rng *rand.Rand
	// On turns faults on; off, every push is forwarded.
	On     atomic.Bool
	counts sync.Map // outcome → *atomic.Int64
}

func newFaultProxy(t testing.TB, seed uint64, upstream, certFile, keyFile string, pool *x509.CertPool) *faultProxy {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProxy{
		upstream: upstream,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
		}},
	}
	fp.On.Store(true)
	fp.srv = httptest.NewUnstartedServer(fp)
	fp.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	fp.srv.StartTLS()
	t.Cleanup(fp.srv.Close)
	return fp
}

func (fp *faultProxy) URL(path string) string { return fp.srv.URL + path }

func (fp *faultProxy) count(what string) {
	v, _ := fp.counts.LoadOrStore(what, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Counts returns how often each outcome happened.
func (fp *faultProxy) Counts() map[string]int64 {
	out := map[string]int64{}
	fp.counts.Range(func(k, v any) bool { out[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return out
}

func (fp *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fp.mu.Lock()
	x := fp.rng.Float64()
	fp.mu.Unlock()
	if !fp.On.Load() {
		x = 1
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fp.count("read_error")
		return
	}
	switch {
	case x < 0.10:
		fp.count("503")
		http.Error(w, "injected", http.StatusServiceUnavailable)
		return
	case x < 0.20:
		fp.count("429")
		http.Error(w, "injected", http.StatusTooManyRequests)
		return
	case x < 0.25:
		fp.count("cut_before")
		cut(w)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, fp.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for _, h := range []string{"Authorization", "Content-Type", "Content-Encoding", "X-Scope-OrgID", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := fp.client.Do(req)
	if err != nil {
		fp.count("upstream_error")
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if x < 0.32 {
		fp.count("cut_after_" + strconv.Itoa(resp.StatusCode))
		cut(w)
		return
	}
	fp.count(strconv.Itoa(resp.StatusCode))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
}

// cut closes the client's connection without an answer.
func cut(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// queryRange runs a query_range over kmlog as the token's tenant and
// returns the entries as "labels|ts|line" with how often each came back.
func queryRange(t testing.TB, p *Proc, token, query string, start, end time.Time, limit int) (map[string]int, int) {
	t.Helper()
	params := url.Values{
		"query": {query}, "start": {strconv.FormatInt(start.UnixNano(), 10)},
		"end": {strconv.FormatInt(end.UnixNano(), 10)}, "limit": {strconv.Itoa(limit)}, "direction": {"forward"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL("/loki/api/v1/query_range?"+params.Encode()), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.Client.Do(req)
	if err != nil {
		t.Fatalf("query_range: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query_range %s: %s: %s", query, resp.Status, body)
	}
	var r struct {
		Data struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("query_range: decode: %v", err)
	}
	out := map[string]int{}
	n := 0
	for _, s := range r.Data.Result {
		ls := labelsOf(s.Stream)
		for _, v := range s.Values {
			if len(v) < 2 {
				continue
			}
			out[fmt.Sprintf("%s|%v|%v", ls, v[0], v[1])]++
			n++
		}
	}
	return out, n
}
