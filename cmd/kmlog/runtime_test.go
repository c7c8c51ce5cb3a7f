package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseOverrides(t *testing.T) {
	m, err := parseOverrides([]byte(`
overrides:
  tenant-financial:
    ingestion_rate_mb: 20
    per_stream_rate_limit: 5MB
    reject_old_samples_max_age: 2w
    max_query_length: 2160h
    max_entries_limit_per_query: 10000
`), DefaultLimitsConfig())
	if err != nil {
		t.Fatal(err)
	}
	l := m["tenant-financial"]
	if l.Ingest.IngestionRateMB != 20 || l.Ingest.PerStreamRateLimit != 5<<20 || l.Ingest.RejectOldSamplesMaxAge.D() != 14*24*time.Hour {
		t.Fatalf("ingest limits %+v", l.Ingest)
	}
	if l.Query.MaxQueryLength != 2160*time.Hour || l.Query.MaxEntriesLimitPerQuery != 10000 {
		t.Fatalf("query limits %+v", l.Query)
	}
	if l.Ingest.MaxLineSize != DefaultLimitsConfig().Ingest.MaxLineSize || l.Query.QueryTimeout != time.Minute {
		t.Fatal("unset fields did not keep their defaults")
	}
	for in, want := range map[string]string{
		"overrides:\n  t:\n    ingestion_rate: 1\n":       "field ingestion_rate not found",
		"overrides:\n  ../x:\n    ingestion_rate_mb: 1\n": "invalid tenant ID",
		"overridez: {}\n": "field overridez not found",
		"overrides:\n  t:\n    ingestion_rate_mb: -1\n":       "ingestion_rate_mb",
		"overrides:\n  t:\n    max_line_size: lots\n":         "bad byte size",
		"overrides:\n  t:\n    split_queries_by_interval: 5h": "must divide 24h",
	} {
		if _, err := parseOverrides([]byte(in), DefaultLimitsConfig()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestTenantLimitsReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("overrides:\n  a:\n    ingestion_rate_mb: 1\n    max_query_series: 7\n")
	tl, err := newTenantLimits(DefaultLimitsConfig(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if tl.ingest.For("a").IngestionRateMB != 1 || tl.Query("a").MaxQuerySeries != 7 || tl.ingest.For("b").IngestionRateMB != 4 {
		t.Fatal("initial load")
	}
	write("overrides:\n  a:\n    ingestion_rate_mb: 2.5\n")
	if changed, err := tl.reload(); err != nil || !changed || tl.ingest.For("a").IngestionRateMB != 2.5 || tl.Query("a").MaxQuerySeries != 500 {
		t.Fatalf("reload: %v %v", changed, err)
	}
	write("overrides: [not a map\n")
	if _, err := tl.reload(); err == nil {
		t.Fatal("bad file accepted")
	}
	if tl.ingest.For("a").IngestionRateMB != 2.5 {
		t.Fatal("a bad file replaced the limits in force")
	}
	write("overrides:\n  a:\n    nonsense: 1\n")
	if _, err := newTenantLimits(DefaultLimitsConfig(), path, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a bad file at start must be an error")
	}
}

func FuzzParseOverrides(f *testing.F) {
	f.Add([]byte("overrides:\n  a:\n    ingestion_rate_mb: 1\n    max_line_size: 1MB\n    max_query_length: 1h\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseOverrides(raw, DefaultLimitsConfig())
		if err != nil {
			return
		}
		for _, l := range m {
			if l.Validate() != nil {
				t.Fatal("accepted invalid limits")
			}
		}
	})
}
