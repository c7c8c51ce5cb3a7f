package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/ingestgw/gateway"
)

func TestRulerConfig(t *testing.T) {
	cfg := DefaultConfig()
	raw := []byte(`
target: ruler
frontend: {querier_url: http://querier}
ruler:
  evaluation_interval: 30s
  alertmanager_url: http://a:9093, http://b:9093
  alertmanager_client: {credentials: tok}
  resend_delay: 2m
  external_url: https://grafana.example.com
  tenant_label: org
  default_rules_tenants: [fake, t1]
  push_url: http://gateway/loki/api/v1/push
`)
	if err := parseConfig(raw, func(string) (string, bool) { return "", false }, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Ruler
	if r.EvaluationInterval != 30*time.Second || len(r.Alertmanager.URLs()) != 2 || r.Alertmanager.Client.Credentials != "tok" ||
		r.Alertmanager.TenantLabel != "org" || r.ResendDelay != 2*time.Minute || len(r.DefaultRulesTenants) != 2 || !r.Enabled {
		t.Fatalf("%+v", r)
	}
	rulerEnv(&cfg.Ruler, func(string) string { return "http://env:9093" })
	if cfg.Ruler.Alertmanager.URL == "http://env:9093" {
		t.Fatal("the environment overrode a configured Alertmanager URL")
	}
	bad := DefaultConfig()
	if err := parseConfig([]byte("ruler: {alertmanager_url: 'ftp://x'}\n"), func(string) (string, bool) { return "", false }, &bad); err != nil {
		t.Fatal(err)
	}
	if err := bad.Validate(); err == nil {
		t.Fatal("an ftp Alertmanager URL validated")
	}
	noQuerier := DefaultConfig()
	noQuerier.Target = "ruler"
	if err := noQuerier.Validate(); err == nil {
		t.Fatal("target ruler without frontend.querier_url validated")
	}
}

// TestRulerPushesThroughAuthGateway: with gateway auth on, target ruler's
// recording-rule pushes reach a gateway with a token the ruler signed for
// the tenant (the gateway's own verifier takes the tenant from it, not
// from X-Scope-OrgID); without one, or signed with another secret, the
// gateway refuses them.
func TestRulerPushesThroughAuthGateway(t *testing.T) {
	gcfg := gateway.DefaultConfig()
	gcfg.Auth.Enabled = true
	gcfg.Auth.HS256Secret = "ruler-test-secret-0123456789abcdef"
	gcfg.Auth.TenantClaim = "kubemate.org"
	gcfg.Auth.Issuer = "https://idp.example"
	if err := gcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	auth, err := gateway.NewAuthenticator(gcfg.Auth, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	pushRoute := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := gateway.TenantFrom(r)
		b, _ := io.ReadAll(r.Body)
		req, derr := push.DecodeJSON(b)
		if err != nil || derr != nil || len(req.Streams) != 1 {
			http.Error(w, fmt.Sprint(err, derr), http.StatusBadRequest)
			return
		}
		got <- string(id) + " " + req.Streams[0].Labels
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(gateway.Handler(gcfg, auth, gateway.Routes{Push: pushRoute}, slog.New(slog.DiscardHandler), prometheus.NewRegistry()))
	t.Cleanup(srv.Close)
	sample := &push.Request{Streams: []push.Stream{{Labels: `{record="app:errors:count5m"}`, Entries: []push.Entry{{Timestamp: time.Now().UnixNano(), Line: "value=12"}}}}}

	m, err := gateway.NewMinter(gcfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	p := httpPusher{url: srv.URL + "/loki/api/v1/push", client: srv.Client(), token: m.Token}
	if err := p.Push(context.Background(), "tenant-financial", sample); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != `tenant-financial {record="app:errors:count5m"}` {
		t.Fatalf("gateway saw %q", g)
	}

	p.token = nil
	if err := p.Push(context.Background(), "tenant-financial", sample); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("push without a token: %v, want 401", err)
	}
	other := gcfg.Auth
	other.HS256Secret += "-other"
	m2, err := gateway.NewMinter(other)
	if err != nil {
		t.Fatal(err)
	}
	p.token = m2.Token
	if err := p.Push(context.Background(), "tenant-financial", sample); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("push with a foreign token: %v, want 401", err)
	}

	// The config: push_url with auth on but only a JWKS cannot sign.
	if _, err := gateway.NewMinter(gateway.AuthConfig{Enabled: true, JWKSURL: "https://idp.example/jwks"}); err == nil {
		t.Fatal("a minter without an HS256 secret")
	}
}
