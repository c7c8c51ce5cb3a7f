package frontend

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/objkey"
)

func TestParseTime(t *testing.T) {
	def := time.Unix(42, 0)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", def, false},
		{"1764331200", time.Unix(1764331200, 0), false},                   // seconds: at most 10 digits
		{"1764331200000000000", time.Unix(0, 1764331200000000000), false}, // nanoseconds
		{"1764331200.25", time.Unix(1764331200, 250e6), false},            // float seconds
		{"1764331200.0004", time.Unix(1764331200, 0), false},              // rounded to the millisecond
		{"2026-11-28T12:00:00Z", time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), false},
		{"2026-11-28T12:00:00.5+01:00", time.Date(2026, 11, 28, 11, 0, 0, 5e8, time.UTC), false},
		{"yesterday", time.Time{}, true},
	} {
		got, err := parseTime(c.in, def)
		if (err != nil) != c.bad || !got.Equal(c.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestDurations(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"0", 0, false}, {"5m", 5 * time.Minute, false}, {"1d12h", 36 * time.Hour, false},
		{"1w", 7 * 24 * time.Hour, false}, {"1y", 365 * 24 * time.Hour, false}, {"250ms", 250 * time.Millisecond, false},
		{"1h1d", 0, true}, {"5", 0, true}, {"m", 0, true}, {"", 0, true}, {"1.5h", 0, true},
	} {
		got, err := parsePromDuration(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parsePromDuration(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
	for in, want := range map[time.Duration]string{
		721 * time.Hour: "30d1h", 744 * time.Hour: "31d", 14 * 24 * time.Hour: "2w", 0: "0s",
		90 * time.Second: "1m30s", 1500 * time.Millisecond: "1s500ms", 365 * 24 * time.Hour: "1y",
	} {
		if got := promDuration(in); got != want {
			t.Errorf("promDuration(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"15": 15 * time.Second, "0.5": 500 * time.Millisecond, "1h": time.Hour} {
		if got, err := parseSecondsOrDuration(in); err != nil || got != want {
			t.Errorf("parseSecondsOrDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestSplitRange(t *testing.T) {
	day := int64(24 * time.Hour)
	d0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	got := splitRange(d0+3, d0+2*day+5, 24*time.Hour)
	want := []shard{{day: objkey.DayOf(d0), from: d0 + 3, through: d0 + day}, {day: objkey.DayOf(d0) + 1, from: d0 + day, through: d0 + 2*day}, {day: objkey.DayOf(d0) + 2, from: d0 + 2*day, through: d0 + 2*day + 5}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(shard{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := len(splitRange(d0, d0+day, 6*time.Hour)); n != 4 {
		t.Errorf("6h shards of a day: %d", n)
	}
	if n := len(splitRange(-day-1, 1, 24*time.Hour)); n != 3 {
		t.Errorf("shards around the epoch: %d, want 3", n)
	}
}

// FuzzParams: the parameter parsers never panic, and durations print and
// parse back.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"", "0", "1d12h", "1764331200.25", "2026-11-28T12:00:00Z", "9999999999999999999", "1e300", "-5m", "1y1w1d1h1m1s1ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseTime(s, time.Time{})
		_, _ = parseSecondsOrDuration(s)
		d, err := parsePromDuration(s)
		if err != nil {
			return
		}
		back, err := parsePromDuration(promDuration(d))
		if d%time.Millisecond == 0 && (err != nil || back != d) {
			t.Fatalf("%q = %v prints %q, parses back as %v, %v", s, d, promDuration(d), back, err)
		}
	})
}
