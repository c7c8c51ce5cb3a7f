package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "kmlog ") {
		t.Fatalf("version output %q", out.String())
	}
}

func TestUnknownSubcommandAndTarget(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &out); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("err = %v", err)
	}
	if err := run(context.Background(), []string{"-target=nope"}, &out, &out); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadConfigs(t *testing.T) {
	want := map[string]string{
		"unknown-key.bad.yaml": "field http_listen_adress not found",
		"bad-level.bad.yaml":   "log.level",
		"missing-env.bad.yaml": "KMLOG_TEST_SURELY_UNSET",
		"bad-address.bad.yaml": "server.http_listen_address",
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) != len(want) {
		t.Fatalf("%d bad fixtures, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		cfg, err := loadConfig(f)
		if err == nil {
			err = cfg.Validate()
		}
		w := want[filepath.Base(f)]
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: err = %v, want it to mention %q", f, err, w)
		}
	}
}

func TestConfigEnvExpansion(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "PORT" {
			return "4100", true
		}
		return "", false
	}
	cfg := DefaultConfig()
	raw := []byte("server:\n  http_listen_address: 127.0.0.1:${PORT}\nlog:\n  level: ${LEVEL:-debug}\n")
	if err := parseConfig(raw, lookup, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Server.HTTPListenAddress != "127.0.0.1:4100" || cfg.Log.Level != "debug" {
		t.Fatalf("cfg %+v", cfg)
	}
	empty := DefaultConfig()
	if err := parseConfig(nil, lookup, &empty); err != nil || !reflect.DeepEqual(empty, DefaultConfig()) {
		t.Fatalf("empty config: %v %+v", err, empty)
	}
}

func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := DefaultConfig()
		if err := parseConfig(raw, func(string) (string, bool) { return "", false }, &cfg); err != nil {
			return
		}
		_ = cfg.Validate()
	})
}

func TestMemoryLimit(t *testing.T) {
	cfg := DefaultConfig()
	if got, want := memoryLimit(cfg), cfg.Ingester.MaxHeadBytes+cfg.Frontend.CacheSizeBytes+memoryLimitHeadroom; got != want || want > 256<<20 {
		t.Errorf("all-in-one default: memory limit %d, want %d (max_head_bytes + results cache + headroom, at most 256 MiB)", got, want)
	}
	cfg.Target = "ingester"
	if got, want := memoryLimit(cfg), cfg.Ingester.MaxHeadBytes+memoryLimitHeadroom; got != want {
		t.Errorf("ingester default: memory limit %d, want %d (max_head_bytes + headroom)", got, want)
	}
	cfg.Target = "querier"
	if got := memoryLimit(cfg); got != 0 {
		t.Errorf("querier default: memory limit %d, want none", got)
	}
	cfg.Server.MemoryLimit = 300 << 20
	if got := memoryLimit(cfg); got != 300<<20 {
		t.Errorf("server.memory_limit 300 MiB: got %d", got)
	}
	cfg.Target = "ingester"
	cfg.Server.MemoryLimit = -1
	if got := memoryLimit(cfg); got != 0 {
		t.Errorf("server.memory_limit -1: got %d, want none", got)
	}
	var parsed Config
	if err := parseConfig([]byte("server: {memory_limit: 104857600}\n"), func(string) (string, bool) { return "", false }, &parsed); err != nil {
		t.Fatalf("parse server.memory_limit: %v", err)
	}
	if parsed.Server.MemoryLimit != 100<<20 {
		t.Errorf("parsed server.memory_limit %d, want %d", parsed.Server.MemoryLimit, 100<<20)
	}
}
