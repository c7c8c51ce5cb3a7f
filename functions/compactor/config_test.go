package compactor

import (
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "744h": 744 * time.Hour, "30d": 720 * time.Hour,
		"1w": 168 * time.Hour, "1y": 8760 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second, "5ms": 5 * time.Millisecond} {
		if got, err := ParseDuration(in); err != nil || time.Duration(got) != want {
			t.Errorf("%s: %v %v, want %v", in, time.Duration(got), err, want)
		}
	}
	for _, in := range []string{"", "d", "5", "5x", "-1h", "1d-"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "30d", "1w2d", "744h", "1h30m", "5ms", "99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 && len(s) < 20 {
			t.Fatalf("%q: negative %v", s, d)
		}
	})
}

func TestStreamPeriod(t *testing.T) {
	l := Limits{RetentionPeriod: Duration(30 * 24 * time.Hour), RetentionStream: []StreamRetention{
		{Selector: `{namespace="dev"}`, Priority: 1, Period: Duration(24 * time.Hour)},
		{Selector: `{namespace="dev", app="x"}`, Priority: 2, Period: Duration(48 * time.Hour)},
		{Selector: `{namespace="dev"}`, Priority: 1, Period: Duration(12 * time.Hour)},
	}}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ls   labels.Labels
		want time.Duration
	}{
		{labels.FromMap(map[string]string{"namespace": "prod"}), 30 * 24 * time.Hour},
		{labels.FromMap(map[string]string{"namespace": "dev"}), 12 * time.Hour},
		{labels.FromMap(map[string]string{"namespace": "dev", "app": "x"}), 48 * time.Hour},
	} {
		if got := l.period(c.ls); got != c.want {
			t.Errorf("%s: %v, want %v", c.ls, got, c.want)
		}
	}
	bad := Limits{RetentionStream: []StreamRetention{{Selector: `{a=`}}}
	if bad.Validate() == nil {
		t.Error("bad selector accepted")
	}
}
