package main

import (
	"testing"
	"time"
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
