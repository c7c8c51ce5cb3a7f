package ship

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubemate/kmlog/format/push"
)

// TestExactlyOnceUnderFaults appends while shipping, to an endpoint that
// answers 429, 503, 500 or resets connections at random (but never loses a
// 2xx): every entry arrives exactly once, for every tenant.
func TestExactlyOnceUnderFaults(t *testing.T) {
	rc := newReceiver()
	rc.decide = seeded(42, 0.5, false)
	srv := newServer(t, rc)
	cfg := testClientConfig(srv.URL)
	cfg.TenantID = "default-tenant"
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	reg := prometheus.NewRegistry()
	c, err := New(cfg, w, Options{Registerer: reg, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	tenants := map[string]string{"a": "a", "b": "b", "": "default-tenant"}
	const n = 3000
	var wg sync.WaitGroup
	for tn := range tenants {
		wg.Go(func() { appendEntries(t, w, tn, `{app="x"}`, 0, n, 7) })
	}
	wg.Wait()
	waitFor(t, "all entries", func() bool { return rc.unique() >= 3*n })
	waitFor(t, "all acknowledged", func() bool { return testutil.ToFloat64(c.m.sentEntries.WithLabelValues(c.name)) >= 3*n })
	stop()
	for tn, org := range tenants {
		for i := range n {
			key := fmt.Sprintf("%s|{app=\"x\"}|%d|line %d of %s", org, i, i, tn)
			if got := rc.seen[key]; got != 1 {
				t.Fatalf("tenant %q entry %d stored %d times", tn, i, got)
			}
		}
	}
	if len(rc.seen) != 3*n {
		t.Fatalf("%d distinct entries, want %d", len(rc.seen), 3*n)
	}
	if got := testutil.ToFloat64(c.m.retries.WithLabelValues(c.name)); got == 0 {
		t.Fatal("no retries: the faults were not exercised")
	}
	if got := testutil.ToFloat64(c.m.sentEntries.WithLabelValues(c.name)); got != 3*n {
		t.Fatalf("sent entries = %v", got)
	}
}

// TestLostAcknowledgement adds lost 2xx answers: every entry arrives at
// least once, and the only duplicates are the entries of batches whose
// 2xx was lost.
func TestLostAcknowledgement(t *testing.T) {
	rc := newReceiver()
	rc.decide = seeded(7, 0.6, true)
	srv := newServer(t, rc)
	cfg := testClientConfig(srv.URL)
	cfg.BatchSize = 1000
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	c, err := New(cfg, w, Options{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	const n = 2000
	appendEntries(t, w, "t", `{app="x"}`, 0, n, 5)
	waitFor(t, "all entries", func() bool { return rc.unique() >= n })
	stop()
	dups := 0
	for i := range n {
		got := rc.seen[entryKey("t", `{app="x"}`, i)]
		if got < 1 {
			t.Fatalf("entry %d lost", i)
		}
		dups += got - 1
	}
	if rc.lost == 0 {
		t.Fatal("no lost acknowledgement was injected")
	}
	if dups != rc.lost {
		t.Fatalf("%d duplicates, %d entries in lost acknowledgements", dups, rc.lost)
	}
}

// TestDrop4xx drops batches answered with a 4xx other than 429, counts
// them, and moves on.
func TestDrop4xx(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      int
		dropRL    bool
		reason    string
		delivered bool
	}{
		{"400", http.StatusBadRequest, false, "http_4xx", false},
		{"413", http.StatusRequestEntityTooLarge, false, "http_4xx", false},
		{"429 dropped", http.StatusTooManyRequests, true, "rate_limited", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver()
			rc.decide = func(r *http.Request, _ *push.Request) (outcome, int) {
				if r.Header.Get("X-Scope-OrgID") == "bad" {
					return status, tc.code
				}
				return accept, 0
			}
			srv := newServer(t, rc)
			cfg := testClientConfig(srv.URL)
			cfg.DropRateLimitedBatches = tc.dropRL
			w := openWAL(t, t.TempDir(), cfg.ClientName())
			defer w.Close()
			c, err := New(cfg, w, Options{Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			stop := runClient(t, c)
			appendEntries(t, w, "bad", `{app="x"}`, 0, 50, 5)
			appendEntries(t, w, "good", `{app="x"}`, 0, 50, 5)
			waitFor(t, "drops", func() bool { return testutil.ToFloat64(c.m.dropped.WithLabelValues(tc.reason)) >= 50 })
			waitFor(t, "good entries", func() bool { return rc.unique() >= 50 })
			stop()
			if got := testutil.ToFloat64(c.m.dropped.WithLabelValues(tc.reason)); got != 50 {
				t.Fatalf("dropped %v, want 50", got)
			}
		})
	}
}

func TestHeadersAndAuth(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(tokenFile, []byte("jwt-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:s3cret"))
	tests := []struct {
		name     string
		mod      func(*Config)
		tenant   string
		wantAuth string
		wantOrg  string
	}{
		{"no tenant, no auth", func(*Config) {}, "", "", ""},
		{"default tenant", func(c *Config) { c.TenantID = "team-a" }, "", "", "team-a"},
		{"entry tenant wins", func(c *Config) { c.TenantID = "team-a" }, "team-b", "", "team-b"},
		{"bearer token", func(c *Config) { c.BearerToken = "tok" }, "", "Bearer tok", ""},
		{"bearer token file", func(c *Config) { c.BearerTokenFile = tokenFile }, "", "Bearer jwt-1", ""},
		{"basic auth", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "user", Password: "s3cret"} }, "", basic, ""},
		{"basic auth file", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "user", PasswordFile: pwFile} }, "", basic, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver()
			srv := newServer(t, rc)
			cfg := testClientConfig(srv.URL)
			cfg.Headers = map[string]string{"X-Cluster": "c1"}
			tt.mod(&cfg)
			w := openWAL(t, t.TempDir(), cfg.ClientName())
			defer w.Close()
			c, err := New(cfg, w, Options{})
			if err != nil {
				t.Fatal(err)
			}
			stop := runClient(t, c)
			appendEntries(t, w, tt.tenant, `{app="x"}`, 0, 3, 3)
			waitFor(t, "entries", func() bool { return rc.unique() >= 3 })
			stop()
			h := rc.headers[0]
			got := []string{h.Get("Authorization"), h.Get("X-Scope-OrgID"), h.Get("X-Cluster"), h.Get("Content-Type"), h.Get("User-Agent")}
			want := []string{tt.wantAuth, tt.wantOrg, "c1", push.ContentTypeProto, "kmlog-agent"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBearerTokenFileRotation checks a rotated token file is used by the
// next request.
func TestBearerTokenFileRotation(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver()
	srv := newServer(t, rc)
	cfg := testClientConfig(srv.URL)
	cfg.BearerTokenFile = tokenFile
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	c, err := New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	appendEntries(t, w, "", `{a="b"}`, 0, 1, 1)
	waitFor(t, "first", func() bool { return rc.unique() >= 1 })
	if err := os.WriteFile(tokenFile, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	appendEntries(t, w, "", `{a="b"}`, 1, 1, 1)
	waitFor(t, "second", func() bool { return rc.unique() >= 2 })
	stop()
	last := rc.headers[len(rc.headers)-1].Get("Authorization")
	if last != "Bearer new" {
		t.Fatalf("Authorization after rotation = %q", last)
	}
}

func TestExternalLabels(t *testing.T) {
	rc := newReceiver()
	srv := newServer(t, rc)
	cfg := testClientConfig(srv.URL)
	cfg.ExternalLabels = map[string]string{"cluster": "c1", "env": "ext"}
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	c, err := New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	appendEntries(t, w, "", `{app="a", env="own"}`, 0, 2, 1)
	appendEntries(t, w, "", `{app="b"}`, 0, 1, 1)
	waitFor(t, "entries", func() bool { return rc.unique() >= 3 })
	stop()
	got := map[string]bool{}
	for _, s := range rc.streams {
		got[s] = true
	}
	want := map[string]bool{`{app="a", cluster="c1", env="own"}`: true, `{app="b", cluster="c1", env="ext"}`: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("streams (-want +got):\n%s", diff)
	}
}

// TestSlowTenant holds every request of one tenant: the other tenant's
// entries all arrive.
func TestSlowTenant(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver()
	slow := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Scope-OrgID") == "slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			http.Error(w, "slow", http.StatusServiceUnavailable)
			return
		}
		rc.ServeHTTP(w, r)
	}
	srv := newServer(t, http.HandlerFunc(slow))
	defer close(release)
	cfg := testClientConfig(srv.URL)
	cfg.Timeout = time.Minute
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	c, err := New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	defer stop()
	for i := range 20 {
		appendEntries(t, w, "slow", `{app="s"}`, i*10, 10, 10)
		appendEntries(t, w, "fast", `{app="f"}`, i*10, 10, 10)
	}
	waitFor(t, "fast tenant", func() bool { return rc.unique() >= 200 })
}

// TestSlowEndpoint runs two clients on one WAL; one endpoint never
// answers, the other gets everything.
func TestSlowEndpoint(t *testing.T) {
	release := make(chan struct{})
	hang := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	rc := newReceiver()
	good := newServer(t, rc)
	cfgHang, cfgGood := testClientConfig(hang.URL), testClientConfig(good.URL)
	cfgHang.Timeout = time.Minute
	w := openWAL(t, t.TempDir(), cfgHang.ClientName(), cfgGood.ClientName())
	defer w.Close()
	reg := prometheus.NewRegistry() // both clients share it
	var stops []func()
	for _, cfg := range []Config{cfgHang, cfgGood} {
		c, err := New(cfg, w, Options{Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, runClient(t, c))
	}
	appendEntries(t, w, "t", `{app="x"}`, 0, 500, 10)
	waitFor(t, "good endpoint", func() bool { return rc.unique() >= 500 })
	for _, stop := range stops {
		stop()
	}
}

// TestResumeAfterRestart ships part of the WAL, stops, appends more while
// stopped, and restarts: everything arrives exactly once.
func TestResumeAfterRestart(t *testing.T) {
	rc := newReceiver()
	srv := newServer(t, rc)
	cfg := testClientConfig(srv.URL)
	dir := t.TempDir()
	w := openWAL(t, dir, cfg.ClientName())
	c, err := New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	appendEntries(t, w, "t", `{app="x"}`, 0, 300, 10)
	waitFor(t, "first part", func() bool { return rc.unique() >= 300 })
	// Stopping before the 2xx is processed would resend (at-least-once).
	waitFor(t, "first part acknowledged", func() bool { return testutil.ToFloat64(c.m.sentEntries.WithLabelValues(c.name)) >= 300 })
	stop()
	appendEntries(t, w, "t", `{app="x"}`, 300, 300, 10)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, dir, cfg.ClientName())
	defer w.Close()
	c, err = New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop = runClient(t, c)
	waitFor(t, "second part", func() bool { return rc.unique() >= 600 })
	stop()
	for i := range 600 {
		if got := rc.seen[entryKey("t", `{app="x"}`, i)]; got != 1 {
			t.Fatalf("entry %d stored %d times", i, got)
		}
	}
}

func TestBatching(t *testing.T) {
	rc := newReceiver()
	srv := newServer(t, rc)
	cfg := testClientConfig(srv.URL)
	cfg.BatchSize = 2000
	cfg.BatchWait = time.Hour // only size closes a batch... and the first
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	// Write before starting, so batches fill up from the WAL at once.
	appendEntries(t, w, "t", `{app="x"}`, 0, 400, 4)
	c, err := New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	defer stop()
	waitFor(t, "most entries", func() bool { return rc.unique() >= 300 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.requests < 5 || rc.requests > 100 {
		t.Fatalf("%d requests for 400 entries in 2000-byte batches", rc.requests)
	}
	// Records of one stream were merged into one stream per request.
	if len(rc.streams) != rc.requests {
		t.Fatalf("%d streams in %d requests", len(rc.streams), rc.requests)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := testClientConfig("http://localhost:3100/loki/api/v1/push")
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(*Config){
		"no url":           func(c *Config) { c.URL = "" },
		"scheme":           func(c *Config) { c.URL = "ftp://x/" },
		"tenant":           func(c *Config) { c.TenantID = "bad tenant/" },
		"batchsize":        func(c *Config) { c.BatchSize = 0 },
		"backoff":          func(c *Config) { c.BackoffConfig.MaxPeriod = 0 },
		"label name":       func(c *Config) { c.ExternalLabels = map[string]string{"1x": "y"} },
		"two auths":        func(c *Config) { c.BearerToken, c.BasicAuth = "t", &BasicAuth{Username: "u"} },
		"password twice":   func(c *Config) { c.BasicAuth = &BasicAuth{Password: "a", PasswordFile: "b"} },
		"cert without key": func(c *Config) { c.TLSConfig.CertFile = "c.pem" },
	}
	for name, mod := range tests {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	bad := ok
	bad.TLSConfig.CAFile = "/does/not/exist"
	w := openWAL(t, t.TempDir(), bad.ClientName())
	defer w.Close()
	if _, err := New(bad, w, Options{}); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("New with missing ca_file = %v", err)
	}
}
