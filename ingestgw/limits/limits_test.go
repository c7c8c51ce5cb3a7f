package limits

import (
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
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

func TestOverrides(t *testing.T) {
	o, err := NewOverrides(Default())
	if err != nil {
		t.Fatal(err)
	}
	if o.For("a").IngestionRateMB != 4 {
		t.Fatal("defaults")
	}
	l := Default()
	l.IngestionRateMB = 20
	o.Set(map[tenant.ID]Limits{"a": l})
	if o.For("a").IngestionRateMB != 20 || o.For("b").IngestionRateMB != 4 {
		t.Fatal("set")
	}
	bad := Default()
	bad.IngestionRateMB = -1
	if _, err := NewOverrides(bad); err == nil {
		t.Fatal("negative defaults accepted")
	}
}
