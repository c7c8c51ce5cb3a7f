package limits

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "1024": 1024, "3MB": 3 << 20, "15MiB": 15 << 20, "512KB": 512 << 10, "1.5GB": 3 << 29, "256kb": 256 << 10} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "3XB", "1..2"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "1w": 7 * 24 * time.Hour, "168h": 168 * time.Hour, "30d": 720 * time.Hour, "1h30m": 90 * time.Minute, "1d12h": 36 * time.Hour} {
		got, err := ParseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got.D(), err, want)
		}
	}
	for _, in := range []string{"", "h", "1q", "-"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestParseOverrides(t *testing.T) {
	m, err := ParseOverrides([]byte(`
overrides:
  tenant-financial:
    ingestion_rate_mb: 20
    per_stream_rate_limit: 5MB
    reject_old_samples_max_age: 2w
`), Default())
	if err != nil {
		t.Fatal(err)
	}
	l := m["tenant-financial"]
	if l.IngestionRateMB != 20 || l.PerStreamRateLimit != 5<<20 || l.RejectOldSamplesMaxAge.D() != 14*24*time.Hour {
		t.Fatalf("limits %+v", l)
	}
	if l.MaxLineSize != Default().MaxLineSize {
		t.Fatal("unset field did not keep its default")
	}
	for in, want := range map[string]string{
		"overrides:\n  t:\n    ingestion_rate: 1\n":       "field ingestion_rate not found",
		"overrides:\n  ../x:\n    ingestion_rate_mb: 1\n": "invalid tenant ID",
		"overridez: {}\n": "field overridez not found",
		"overrides:\n  t:\n    ingestion_rate_mb: -1\n": "ingestion_rate_mb",
		"overrides:\n  t:\n    max_line_size: lots\n":   "bad byte size",
	} {
		if _, err := ParseOverrides([]byte(in), Default()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestOverridesReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("overrides:\n  a:\n    ingestion_rate_mb: 1\n")
	o, err := NewOverrides(Default(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if o.For("a").IngestionRateMB != 1 || o.For("b").IngestionRateMB != 4 {
		t.Fatal("initial load")
	}
	write("overrides:\n  a:\n    ingestion_rate_mb: 2.5\n")
	if changed, err := o.reload(); err != nil || !changed || o.For("a").IngestionRateMB != 2.5 {
		t.Fatalf("reload: %v %v %v", changed, err, o.For("a"))
	}
	write("overrides: [not a map\n")
	if _, err := o.reload(); err == nil {
		t.Fatal("bad file accepted")
	}
	if o.For("a").IngestionRateMB != 2.5 {
		t.Fatal("a bad file replaced the limits in force")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	o.Run(ctx, time.Millisecond) // returns at once
}

func FuzzParseOverrides(f *testing.F) {
	f.Add([]byte("overrides:\n  a:\n    ingestion_rate_mb: 1\n    max_line_size: 1MB\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseOverrides(raw, Default())
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
