package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

// kmlogBin is the binary TestMain built; every process of every test runs it.
var kmlogBin string

// raceBuild is set when the tests run with -race (race_test.go): kmlog is
// then built with -race as well.
var raceBuild bool

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kmlog-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kmlogBin = filepath.Join(dir, "kmlog")
	args := []string{"build", "-o", kmlogBin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command(goTool(), append(args, "github.com/kubemate/kmlog/cmd/kmlog")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build kmlog: %v\n%s", err, out)
		return 1
	}
	return miniotest.Main(m)
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Config is a kmlog YAML config as nested maps; Merge lays one over another.
type Config = map[string]any

// merge lays src over dst, recursing into nested maps, and returns dst.
func merge(dst, src Config) Config {
	for k, v := range src {
		if sv, ok := v.(Config); ok {
			if dv, ok := dst[k].(Config); ok {
				dst[k] = merge(maps.Clone(dv), sv)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is one kmlog process (one role). Its address, config, data and WAL
// directories stay the same across Stop, Kill and Start, as for a pod of a
// StatefulSet that comes back.
type Proc struct {
	t      testing.TB
	Name   string
	Addr   string // host:port it listens on
	Dir    string // its own directory: config, log, data, WAL
	Scheme string // "http", or "https" once TLS is configured
	Client *http.Client
	// Token, when set, is sent as a bearer token with Flush.
	Token string
	// Env is added to the process's environment (KEY=value).
	Env []string
	// NoFlags runs the process without arguments, the config file named by
	// $KMLOG_CONFIG_FILE, as Knative and Lambda start functions.
	NoFlags bool
	// ReadyPath is polled by WaitReady; "" means /ready.
	ReadyPath string
	// Args are added to the command line (after -config.file).
	Args []string

	cfg     Config
	cfgPath string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // cmd's exit error, once done
}

// NewProc reserves an address and a directory for a process; Start runs it.
func NewProc(t testing.TB, name string) *Proc {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Proc{
		t: t, Name: name, Addr: freeAddr(t), Dir: dir, Scheme: "http",
		Client:  &http.Client{Timeout: 30 * time.Second},
		cfgPath: filepath.Join(dir, "kmlog.yaml"),
		logPath: filepath.Join(dir, "kmlog.log"),
	}
	t.Cleanup(func() {
		if p.Running() {
			p.stop(syscall.SIGTERM, time.Minute)
		}
		if b, err := os.ReadFile(p.logPath); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("%s: the race detector reported a data race; see its log", p.Name)
		}
		if t.Failed() || os.Getenv("KMLOG_E2E_LOGS") != "" {
			t.Logf("--- log of %s (%s), last 16 KiB ---\n%s", p.Name, p.logPath, p.LogTail(16<<10))
		}
	})
	return p
}

// URL returns the process's URL for path.
func (p *Proc) URL(path string) string { return p.Scheme + "://" + p.Addr + path }

// Start writes cfg (with this process's listen address and, unless cfg says
// otherwise, its WAL and local object directories) and runs the process
// until /ready answers 200. Start without cfg restarts with the last one.
func (p *Proc) Start(cfg Config) {
	p.t.Helper()
	p.Launch(cfg)
	p.WaitReady()
}

// Launch is Start without waiting for readiness.
func (p *Proc) Launch(cfg Config) {
	p.t.Helper()
	if cfg != nil {
		base := Config{
			"server": Config{"http_listen_address": p.Addr},
			"log":    Config{"level": "info"},
			"storage": Config{
				"backend": "dir",
				"dir":     filepath.Join(p.Dir, "objects"),
			},
			"ingester": Config{
				"wal": Config{"dir": filepath.Join(p.Dir, "wal")},
			},
		}
		p.cfg = merge(base, cfg)
		raw, err := yaml.Marshal(p.cfg)
		if err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(p.cfgPath, raw, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	if p.cfg == nil {
		p.t.Fatal("BUG: Start(nil) before any config")
	}
	if p.Running() {
		p.t.Fatalf("start %s: already running", p.Name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s at %s\n", p.Name, time.Now().Format(time.RFC3339Nano))
	args := []string{"-config.file", p.cfgPath}
	if p.NoFlags {
		args = nil
	}
	cmd := exec.Command(kmlogBin, append(args, p.Args...)...)
	if p.NoFlags || len(p.Env) > 0 {
		cmd.Env = append(os.Environ(), p.Env...)
		if p.NoFlags {
			cmd.Env = append(cmd.Env, "KMLOG_CONFIG_FILE="+p.cfgPath)
		}
	}
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
}

// WaitReady polls /ready until it answers 200; it fails the test if the
// process exits first or a minute passes.
func (p *Proc) WaitReady() {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			p.t.Fatalf("%s exited before it was ready: %v\n%s", p.Name, p.exitErr(), p.LogTail(8<<10))
		default:
		}
		path := p.ReadyPath
		if path == "" {
			path = "/ready"
		}
		resp, err := p.Client.Get(p.URL(path))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after a minute (last: %v)\n%s", p.Name, err, p.LogTail(8<<10))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Running reports whether the process is up.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *Proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop ends the process with SIGTERM (a graceful stop: it flushes) and
// fails the test unless it exits cleanly within a minute.
func (p *Proc) Stop() {
	p.t.Helper()
	if err := p.stop(syscall.SIGTERM, time.Minute); err != nil {
		p.t.Fatalf("stop %s: %v\n%s", p.Name, err, p.LogTail(8<<10))
	}
}

// Kill ends the process with SIGKILL, as a crash or an OOM kill would.
func (p *Proc) Kill() {
	p.t.Helper()
	_ = p.stop(syscall.SIGKILL, time.Minute)
}

func (p *Proc) stop(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("no exit %s after %s: killed", sig, timeout)
	}
	if sig == syscall.SIGKILL {
		return nil
	}
	return p.exitErr()
}

// LogTail returns the last n bytes of the process's log.
func (p *Proc) LogTail(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := max(0, fi.Size()-n)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	return string(b)
}

// Flush POSTs /flush and fails the test unless it answers 204: every head
// of the process is then in the bucket.
func (p *Proc) Flush() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL("/flush"), nil)
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	// A flush after a long bucket outage uploads a lot: only ctx bounds it,
	// not the client's per-request timeout.
	c := *p.Client
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		p.t.Fatalf("flush %s: %v", p.Name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		p.t.Fatalf("flush %s: %s: %s", p.Name, resp.Status, body)
	}
}

// Metrics scrapes /metrics and returns the samples by their full name with
// labels, as written: `kmlog_x_total{reason="y"}`.
func (p *Proc) Metrics() map[string]float64 {
	p.t.Helper()
	resp, err := p.Client.Get(p.URL("/metrics"))
	if err != nil {
		p.t.Fatalf("metrics of %s: %v", p.Name, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// Push is one push request as a client sends it.
type Push struct {
	Body            []byte
	ContentType     string
	ContentEncoding string
	OrgID           string // X-Scope-OrgID, when not empty
	Token           string // bearer token, when not empty
}

// Do sends the push to the process's /loki/api/v1/push and returns the
// status and the response body. Transport errors are returned as such.
func (p *Proc) Do(ctx context.Context, ps Push) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL("/loki/api/v1/push"), bytes.NewReader(ps.Body))
	if err != nil {
		return 0, "", err
	}
	if ps.ContentType != "" {
		req.Header.Set("Content-Type", ps.ContentType)
	}
	if ps.ContentEncoding != "" {
		req.Header.Set("Content-Encoding", ps.ContentEncoding)
	}
	if ps.OrgID != "" {
		req.Header.Set("X-Scope-OrgID", ps.OrgID)
	}
	if ps.Token != "" {
		req.Header.Set("Authorization", "Bearer "+ps.Token)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(body), nil
}

// MustPush sends the push and fails the test unless the status is want.
func (p *Proc) MustPush(ps Push, want int) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, body, err := p.Do(ctx, ps)
	if err != nil {
		p.t.Fatalf("push to %s: %v", p.Name, err)
	}
	if code != want {
		p.t.Fatalf("push to %s: status %d, want %d: %s", p.Name, code, want, body)
	}
	return body
}
