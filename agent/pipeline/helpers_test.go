package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
	_ "time/tzdata" // location tests must not depend on the host

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubemate/kmlog/format/labels"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// testPipeline builds a pipeline from YAML with a fake clock and its own
// registry.
func testPipeline(t testing.TB, config string) (*Pipeline, *fakeClock, *prometheus.Registry) {
	t.Helper()
	clk := &fakeClock{now: t0}
	reg := prometheus.NewRegistry()
	p, err := Parse([]byte(config), Options{Now: clk.Now, Registerer: reg, Seed: 1})
	if err != nil {
		t.Fatalf("build pipeline: %v", err)
	}
	return p, clk, reg
}

// ent makes an entry at t0 with labels from name, value pairs.
func ent(line string, nv ...string) Entry {
	return Entry{Labels: labels.FromStrings(nv...), Timestamp: t0, Line: line}
}

func entAt(ts time.Time, line string, nv ...string) Entry {
	e := ent(line, nv...)
	e.Timestamp = ts
	return e
}

// view is what the stage tests compare.
type view struct {
	Labels   string
	TS       time.Time
	Line     string
	Metadata string
	Tenant   string
}

func viewOf(e Entry) view {
	v := view{Labels: e.Labels.String(), TS: e.Timestamp, Line: e.Line, Tenant: e.Tenant}
	if len(e.Metadata) > 0 {
		v.Metadata = e.Metadata.String()
	}
	return v
}

func views(es []Entry) []view {
	out := make([]view, 0, len(es))
	for _, e := range es {
		out = append(out, viewOf(e))
	}
	return out
}

// out is a compact way to write an expected entry.
func out(labels string, ts time.Time, line string) view {
	return view{Labels: labels, TS: ts, Line: line}
}

func processAll(p *Pipeline, in ...Entry) []Entry {
	var res []Entry
	for _, e := range in {
		res = p.Process(context.Background(), e, res)
	}
	return res
}

// stageCase is one table case: a pipeline_stages YAML, the entries fed in
// and the entries expected out; extracted, when set, must be a subset of
// the first output's extracted map.
type stageCase struct {
	name      string
	config    string
	in        []Entry
	want      []view
	extracted map[string]any
	// notExtracted names keys that must be absent from the first output.
	notExtracted []string
}

func runCases(t *testing.T, cases []stageCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _, _ := testPipeline(t, tc.config)
			got := processAll(p, tc.in...)
			if diff := cmp.Diff(tc.want, views(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if len(got) == 0 {
				if tc.extracted != nil {
					t.Fatal("no output to check extracted values on")
				}
				return
			}
			for k, want := range tc.extracted {
				gotV, ok := got[0].Extracted[k]
				if !ok {
					t.Errorf("extracted[%q] missing, want %#v", k, want)
					continue
				}
				if !cmp.Equal(want, gotV) {
					t.Errorf("extracted[%q] = %#v, want %#v", k, gotV, want)
				}
			}
			for _, k := range tc.notExtracted {
				if v, ok := got[0].Extracted[k]; ok {
					t.Errorf("extracted[%q] = %#v, want absent", k, v)
				}
			}
		})
	}
}

func dropped(t *testing.T, p *Pipeline, reason string) float64 {
	t.Helper()
	return testutil.ToFloat64(p.drops.WithLabelValues(reason))
}

func sha2(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func dateUTC(y, mo, d, h, mi, s, ns int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
}
