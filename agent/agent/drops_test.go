package agent

import (
	"testing"
	"time"

	"github.com/kubemate/kmlog/agent/pipeline"
	"github.com/kubemate/kmlog/format/labels"
)

func TestDropReport(t *testing.T) {
	d := newDropReport()
	pod := labels.FromStrings("namespace", "prod", "pod", "trading-xyz", "container", "app", "filename", "/var/log/pods/a b/0.log")
	for range 3 {
		d.record(&pipeline.Entry{Labels: pod, Tenant: "t1"}, pipeline.ReasonRateLimit)
	}
	d.record(&pipeline.Entry{Labels: labels.FromStrings("pod", "other")}, pipeline.ReasonRateLimit)
	now := time.Unix(100, 0)
	got := d.take(now, "node-1")
	if len(got) != 2 || len(got["t1"]) != 1 || len(got[""]) != 1 {
		t.Fatalf("report %+v", got)
	}
	s := got["t1"][0]
	if s.Labels != `{host="node-1", kmlog_agent="drops"}` {
		t.Errorf("stream labels %s", s.Labels)
	}
	want := `reason=ratelimit_drop_stage dropped=3 container=app filename="/var/log/pods/a b/0.log" namespace=prod pod=trading-xyz`
	if len(s.Entries) != 1 || s.Entries[0].Line != want || s.Entries[0].Timestamp != now.UnixNano() {
		t.Errorf("entries %+v, want line %q", s.Entries, want)
	}
	if again := d.take(now, "node-1"); len(again) != 0 {
		t.Errorf("a second report repeats counts: %+v", again)
	}
}

// The limit stage tells OnDrop of each entry it drops.
func TestLimitStageOnDrop(t *testing.T) {
	d := newDropReport()
	p, err := pipeline.Parse([]byte("- limit:\n    rate: 1\n    burst: 2\n    drop: true\n"), pipeline.Options{OnDrop: d.record, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	var out []pipeline.Entry
	for range 10 {
		out = p.Process(t.Context(), pipeline.Entry{Labels: labels.FromStrings("pod", "p"), Line: "x", Timestamp: time.Unix(0, 0)}, out[:0])
	}
	got := d.take(time.Unix(1, 0), "")
	if len(got[""]) != 1 || got[""][0].Entries[0].Line != "reason=ratelimit_drop_stage dropped=8 pod=p" {
		t.Fatalf("report %+v", got)
	}
}
