package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// shippedEnv is what a deployment sets: one key source for auth, the S3
// credentials, and what the platform sets itself.
var shippedEnv = map[string]string{
	"KMLOG_AUTH_JWKS_URL":        "https://idp.example.com/.well-known/jwks.json",
	"KMLOG_S3_ACCESS_KEY_ID":     "kmlog",
	"KMLOG_S3_SECRET_ACCESS_KEY": "secret",
	"KMLOG_S3_BUCKET":            "kmlog",
	"KMLOG_S3_ENDPOINT":          "s3.eu-west-1.amazonaws.com",
	"KMLOG_QUERIER_URL":          "https://querier.lambda-url.eu-west-1.on.aws/",
	"AWS_REGION":                 "eu-west-1",
	"KMLOG_TARGET":               "", // set per function below
	"AWS_LAMBDA_FUNCTION_NAME":   "kmlog-dev-frontend",
}

// shippedConfigs are the kmlog config files the deployment files ship,
// with the targets that read each.
func shippedConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	raw, err := os.ReadFile(filepath.Join("..", "..", "infra", "lambda", "kmlog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out["infra/lambda/kmlog.yaml"] = raw
	raw, err = os.ReadFile(filepath.Join("..", "..", "infra", "k8s", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct{ Name string }
			Data     map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "ConfigMap" && doc.Data["kmlog.yaml"] != "" {
			out["infra/k8s/config.yaml "+doc.Metadata.Name] = []byte(doc.Data["kmlog.yaml"])
		}
	}
	if len(out) < 2 {
		t.Fatalf("found only %d shipped configs", len(out))
	}
	return out
}

// TestShippedConfigs loads every shipped config with the real loader for
// every target the binary has: each is valid, and each runs with auth on
// and refuses to start without a key source rather than run open.
func TestShippedConfigs(t *testing.T) {
	for name, raw := range shippedConfigs(t) {
		for _, target := range targets {
			if target == "all" {
				continue
			}
			env := func(k string) (string, bool) {
				if k == "KMLOG_TARGET" {
					return target, true
				}
				v, ok := shippedEnv[k]
				return v, ok && v != ""
			}
			cfg := DefaultConfig()
			if err := parseConfig(raw, env, &cfg); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cfg.Target = target
			if target == "gateway" && len(cfg.Ring.Members) == 0 && cfg.Ring.SRV == "" {
				continue // Lambda has no gateway
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("%s as %s: %v", name, target, err)
			}
			if !cfg.Gateway.Auth.Enabled {
				t.Errorf("%s: gateway.auth.enabled is off", name)
			}
			if slices.Contains([]string{"gateway", "frontend"}, target) {
				noKeys := func(k string) (string, bool) {
					if k == "KMLOG_AUTH_JWKS_URL" {
						return "", false
					}
					return env(k)
				}
				cfg := DefaultConfig()
				if err := parseConfig(raw, noKeys, &cfg); err != nil {
					t.Fatal(err)
				}
				cfg.Target = target
				if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "auth") {
					t.Errorf("%s as %s without a key source: %v, want an auth error", name, target, err)
				}
			}
		}
	}
}
