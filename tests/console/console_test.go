package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// tools finds node, chromium and the console's node_modules, which
// scripts/install-test-deps.sh installs.
func tools(t *testing.T) (node, chromium string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: run scripts/install-test-deps.sh")
	}
	chromium = os.Getenv("KMLOG_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium not found at %s: run scripts/install-test-deps.sh (or set KMLOG_CHROMIUM)", chromium)
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "console", "node_modules", "playwright-core")); err != nil {
		t.Fatal("console/node_modules is missing: run scripts/install-test-deps.sh (npm ci in console/)")
	}
	return node, chromium
}

// TestAssetsUpToDate builds the console from its sources into a temporary
// directory and compares the result with the embedded console/dist.
func TestAssetsUpToDate(t *testing.T) {
	tools(t)
	root := repoRoot(t)
	out := filepath.Join(t.TempDir(), "dist")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "run", "build", "--", "--outDir", out, "--emptyOutDir")
	cmd.Dir = filepath.Join(root, "console")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm run build: %v\n%s", err, b)
	}
	fresh, embedded := readTree(t, out), readTree(t, filepath.Join(root, "console", "dist"))
	var diff []string
	for name, b := range fresh {
		if e, ok := embedded[name]; !ok {
			diff = append(diff, "missing from console/dist: "+name)
		} else if !bytes.Equal(b, e) {
			diff = append(diff, "differs: "+name)
		}
	}
	for name := range embedded {
		if _, ok := fresh[name]; !ok {
			diff = append(diff, "stale in console/dist: "+name)
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		t.Fatalf("console/dist does not match console/src; run `npm ci && npm run build` in console/ and commit dist/:\n%s", strings.Join(diff, "\n"))
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// buildKmlog builds the binary once for every test of the package.
var buildKmlog = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kmlog-console-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "kmlog")
	build := exec.Command(goTool(), "build", "-o", bin, "github.com/kubemate/kmlog/cmd/kmlog")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build kmlog: %v\n%s", err, b)
	}
	return bin, nil
})

var buildDir string // removed by TestMain

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// startKmlog builds and starts kmlog with cfg appended to a base config,
// waits until /ready answers 200, and returns the base URL.
func startKmlog(t *testing.T, cfg string) string {
	t.Helper()
	return startKmlogWait(t, cfg, "/ready")
}

// startKmlogWait is startKmlog waiting for readyPath instead.
func startKmlogWait(t *testing.T, cfg, readyPath string) string {
	t.Helper()
	dir := t.TempDir()
	bin, err := buildKmlog()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	conf := fmt.Sprintf(`server: {http_listen_address: %q}
storage: {backend: dir, dir: %q}
ingester: {wal: {dir: %q}}
`, addr, filepath.Join(dir, "objects"), filepath.Join(dir, "wal")) + cfg
	cfgPath := filepath.Join(dir, "kmlog.yaml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "kmlog.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config.file", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "kmlog.log"))
			if len(b) > 16<<10 {
				b = b[len(b)-16<<10:]
			}
			t.Logf("kmlog log (tail):\n%s", b)
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Get(base + readyPath)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return base
			}
		}
		select {
		case <-done:
			t.Fatal("kmlog exited before it was ready")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kmlog: %s not 200 after a minute", readyPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

func push(t *testing.T, base string, streams []stream) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(base+"/loki/api/v1/push", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(res.Body)
		t.Fatalf("push: %d %s", res.StatusCode, msg.String())
	}
}

// Data the browser script expects (see browser.mjs).
const (
	failedLines = 40    // {namespace="prod", level="error"} |= "transaction failed"
	bulkLines   = 50000 // {namespace="dev"}
)

func pushData(t *testing.T, base string, now time.Time) (traces []string) {
	t.Helper()
	ns := func(ago time.Duration) string { return fmt.Sprint(now.Add(-ago).UnixNano()) }
	prodErr := stream{Stream: map[string]string{"namespace": "prod", "app": "trading-service", "level": "error"}}
	prodInfo := stream{Stream: map[string]string{"namespace": "prod", "app": "trading-service", "level": "info"}}
	prodWarn := stream{Stream: map[string]string{"namespace": "prod", "app": "payments", "level": "warn"}}
	for i := range failedLines {
		trace := fmt.Sprintf("%032x", 0xabc000+i)
		traces = append(traces, trace)
		line := fmt.Sprintf(`{"level":"error","msg":"transaction failed: insufficient margin","order":%d,"trace_id":"%s"}`, 1000+i, trace)
		prodErr.Values = append(prodErr.Values, []any{ns(time.Duration(50-i) * time.Minute), line, map[string]string{"user": fmt.Sprintf("u%d", i)}})
		// Errors that do not match the keyword.
		prodErr.Values = append(prodErr.Values, []any{ns(time.Duration(50-i)*time.Minute + 30*time.Second), fmt.Sprintf(`{"level":"error","msg":"connection reset","n":%d}`, i)})
	}
	for i := range 600 {
		prodInfo.Values = append(prodInfo.Values, []any{ns(time.Duration(i) * 5 * time.Second), fmt.Sprintf("level=info msg=\"order accepted\" order=%d trace_id=%032x", i, 0xdef000+i)})
		if i%3 == 0 {
			prodWarn.Values = append(prodWarn.Values, []any{ns(time.Duration(i)*5*time.Second + time.Second), fmt.Sprintf("level=warn msg=\"slow ledger call\" took=%dms", 200+i)})
		}
	}
	push(t, base, []stream{prodErr, prodInfo, prodWarn})
	// 50,000 lines spread over the last 50 minutes, in batches.
	const batch = 5000
	for b := 0; b < bulkLines; b += batch {
		s := stream{Stream: map[string]string{"namespace": "dev", "app": "bulk", "level": "info"}}
		for i := b; i < b+batch; i++ {
			ago := time.Duration(bulkLines-i) * 60 * time.Millisecond
			s.Values = append(s.Values, []any{ns(ago), fmt.Sprintf("bulk line %05d of %d: lorem ipsum dolor sit amet, consectetur adipiscing elit", i, bulkLines)})
		}
		push(t, base, []stream{s})
	}
	return traces
}

// TestBrowser drives the console in headless Chromium against a real
// kmlog: builder, LogQL, results, expand, trace link, errors, histogram
// zoom, metric chart, 50,000-line scrolling and live tail.
func TestBrowser(t *testing.T) {
	tools(t)

	// A stand-in for Jaeger that records which traces were opened.
	var mu sync.Mutex
	var opened []string
	jaeger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		opened = append(opened, r.URL.Path)
		mu.Unlock()
		fmt.Fprintf(w, "<html><title>jaeger</title><body>trace %s</body></html>", strings.TrimPrefix(r.URL.Path, "/trace/"))
	}))
	defer jaeger.Close()

	base := startKmlog(t, fmt.Sprintf(`limits_config:
  max_entries_limit_per_query: 60000
  ingestion_rate_mb: 512
  ingestion_burst_size_mb: 1024
  per_stream_rate_limit: 512MB
  per_stream_rate_limit_burst: 1GB
frontend: {tail_poll_interval: 200ms}
querier: {max_entries: 60000}
console:
  trace_field: trace_id
  trace_url: %q
`, jaeger.URL+"/trace/{trace_id}"))
	traces := pushData(t, base, time.Now())

	runBrowser(t, base, "JAEGER_URL="+jaeger.URL)

	// The trace link the browser followed reached "Jaeger" with one of
	// the pushed trace ids.
	mu.Lock()
	defer mu.Unlock()
	ok := false
	for _, p := range opened {
		if id, found := strings.CutPrefix(p, "/trace/"); found && slices.Contains(traces, id) {
			ok = true
		}
	}
	if !ok {
		t.Errorf("Jaeger saw %q, want /trace/<one of the pushed trace ids>", opened)
	}
}

// runBrowser runs browser.mjs against base with extra environment and
// logs its measurements.
func runBrowser(t *testing.T, base string, env ...string) {
	t.Helper()
	node, chromium := tools(t)
	root := repoRoot(t)
	artifacts := os.Getenv("KMLOG_CONSOLE_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "tests", "console", "artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "tests", "console", "browser.mjs"))
	cmd.Env = append(os.Environ(),
		"KMLOG_URL="+base,
		"CHROMIUM="+chromium,
		"CONSOLE_DIR="+filepath.Join(root, "console"),
		"ARTIFACTS="+artifacts,
		fmt.Sprintf("FAILED_LINES=%d", failedLines),
		fmt.Sprintf("BULK_LINES=%d", bulkLines),
	)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var results map[string]any
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "RESULT ") {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &results); err != nil {
				t.Errorf("bad result line: %v", err)
			}
		} else {
			t.Log(line)
		}
	}
	if err != nil {
		t.Fatalf("browser.mjs: %v\n%s", err, stderr.String())
	}
	t.Logf("screenshots in %s", artifacts)
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("%s = %v", k, results[k])
	}
}

// TestBrowserAuth runs the console against kmlog with gateway auth on:
// it asks for a token, sends it as a bearer token and never a tenant,
// shows one tenant's lines only, tails over the WebSocket with the token
// as a subprotocol (a bad token refused), and cancels a slow
// query.
func TestBrowserAuth(t *testing.T) {
	tools(t)
	const secret = "console-test-secret-0123456789abcdef"
	base := startKmlog(t, fmt.Sprintf(`gateway:
  auth: {enabled: true, hs256_secret: %q, tenant_claim: tenant}
frontend: {tail_poll_interval: 200ms}
`, secret))
	sign := func(tenant string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"tenant": tenant, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tokA, tokB := sign("team-a"), sign("team-b")
	now := time.Now()
	for tok, who := range map[string]string{tokA: "tenant a", tokB: "tenant b"} {
		s := stream{Stream: map[string]string{"app": "ledger"}}
		for i := range 50 {
			s.Values = append(s.Values, []any{fmt.Sprint(now.Add(-time.Duration(i) * time.Minute).UnixNano()), fmt.Sprintf("%s line %d", who, i)})
		}
		pushAs(t, base, tok, []stream{s})
	}
	const odd = `C:\tmp\"x y"`
	s := stream{Stream: map[string]string{"app": "ledger", "path": odd}}
	for i := range 5 {
		s.Values = append(s.Values, []any{fmt.Sprint(now.Add(-time.Duration(i) * time.Second).UnixNano()), fmt.Sprintf("tenant a odd path line %d", i)})
	}
	pushAs(t, base, tokA, []stream{s})
	bad, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"tenant": "team-a", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret + "-not"))
	if err != nil {
		t.Fatal(err)
	}
	tailWithProtocolToken(t, base, tokA, bad)
	runBrowser(t, base, "MODE=auth", "TOKEN_A="+tokA, "TOKEN_B="+tokB, "TOKEN_BAD="+bad, "ODD_VALUE="+odd)
}

// tailWithProtocolToken makes the console's WebSocket offer against the
// real kmlog: the good token opens a tail of its tenant's lines, answered
// with the kmlog.bearer subprotocol; the bad one is refused with 401.
func tailWithProtocolToken(t *testing.T, base, good, bad string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http") + "/loki/api/v1/tail?query=" + url.QueryEscape(`{app="ledger"}`) +
		"&start=" + fmt.Sprint(time.Now().Add(-time.Hour).UnixNano())
	offer := func(tok string) []string {
		return []string{"kmlog.bearer", "kmlog.bearer." + base64.RawURLEncoding.EncodeToString([]byte(tok))}
	}
	_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: offer(bad)})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tail with a bad token: %v, %v; want 401", resp, err)
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: offer(good),
		HTTPHeader: http.Header{"X-Scope-OrgID": {"team-b"}}})
	if err != nil {
		t.Fatalf("tail with the token: %v", err)
	}
	defer conn.CloseNow()
	if p := conn.Subprotocol(); p != "kmlog.bearer" {
		t.Fatalf("subprotocol %q, want kmlog.bearer", p)
	}
	_, msg, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read the first tail frame: %v", err)
	}
	if !bytes.Contains(msg, []byte("tenant a line")) || bytes.Contains(msg, []byte("tenant b")) {
		t.Fatalf("first tail frame is not tenant a's alone: %.300s", msg)
	}
}

func pushAs(t *testing.T, base, token string, streams []stream) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("push: %d", res.StatusCode)
	}
}

// TestGatewayServesConsole: the gateway of a split deployment serves the
// console too (its API routes go to remote ingesters and the frontend). No
// ingester answers here, so the gateway never gets ready; the console is
// served anyway.
func TestGatewayServesConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts kmlog")
	}
	base := startKmlogWait(t, `target: gateway
ring: {members: ["127.0.0.1:1"]}
console: {trace_url: "https://jaeger.example/trace/{trace_id}"}
`, "/")
	for _, path := range []string{"/", "/console/", "/console/config.json"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(res.Body)
		res.Body.Close()
		want := `<div id="app">`
		if path == "/console/config.json" {
			want = `"traceURL":"https://jaeger.example/trace/{trace_id}"`
		}
		if res.StatusCode != 200 || !strings.Contains(body.String(), want) {
			t.Errorf("GET %s: %d %q, want %q", path, res.StatusCode, body.String(), want)
		}
	}
}
