package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Alertmanager is a real Alertmanager (Debian's prometheus-alertmanager,
// installed by scripts/install-test-deps.sh) on a free loopback port, with
// a webhook receiver that records every notification it sends.
type Alertmanager struct {
	URL     string
	t       testing.TB
	mu      sync.Mutex
	hooks   []amWebhook
	logPath string
}

// amWebhook is the body Alertmanager's webhook receiver posts.
type amWebhook struct {
	Status string `json:"status"`
	Alerts []struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt"`
	} `json:"alerts"`
}

// amAlert is an alert of GET /api/v2/alerts.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func alertmanagerBinary(t testing.TB) string {
	for _, p := range []string{"/usr/bin/prometheus-alertmanager", "/usr/local/bin/prometheus-alertmanager"} {
		if fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("prometheus-alertmanager"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus-alertmanager is not installed; run scripts/install-test-deps.sh")
	}
	t.Skip("prometheus-alertmanager is not installed; run scripts/install-test-deps.sh")
	return ""
}

// StartAlertmanager runs Alertmanager until the test ends.
func StartAlertmanager(t testing.TB) *Alertmanager {
	t.Helper()
	bin := alertmanagerBinary(t)
	am := &Alertmanager{t: t}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h amWebhook
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &h); err == nil {
			am.mu.Lock()
			am.hooks = append(am.hooks, h)
			am.mu.Unlock()
		}
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: webhook
  group_by: [alertname, tenant]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook.URL)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	am.URL = "http://" + addr
	am.logPath = filepath.Join(dir, "alertmanager.log")
	logf, err := os.Create(am.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(am.logPath)
			if len(b) > 8<<10 {
				b = b[len(b)-8<<10:]
			}
			t.Logf("--- alertmanager log ---\n%s", b)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Get(am.URL + "/-/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return am
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(am.logPath)
			t.Fatalf("alertmanager exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("alertmanager not ready after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Alerts returns GET /api/v2/alerts (active, silenced, inhibited and
// unprocessed alerts; resolved ones are left out by Alertmanager).
func (am *Alertmanager) Alerts() []amAlert {
	am.t.Helper()
	res, err := http.Get(am.URL + "/api/v2/alerts")
	if err != nil {
		am.t.Fatal(err)
	}
	defer res.Body.Close()
	var out []amAlert
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		am.t.Fatal(err)
	}
	return out
}

// Notified returns the webhook notifications so far.
func (am *Alertmanager) Notified() []amWebhook {
	am.mu.Lock()
	defer am.mu.Unlock()
	return append([]amWebhook(nil), am.hooks...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
