package log

import (
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

func TestPipelineNoStages(t *testing.T) {
	stream := labels.FromStrings("app", "web")
	p := NewPipeline()
	out, res, ok := p.Process(1, []byte("hello"), stream, nil)
	if !ok || string(out) != "hello" || !labels.Equal(res.Labels(), stream) || res.Hash() != stream.Hash() {
		t.Fatalf("got %q %v %v", out, res.Labels(), ok)
	}
}

func TestPipelineMetadata(t *testing.T) {
	stream := labels.FromStrings("app", "web")
	md := labels.FromStrings("trace_id", "abc", "app", "md")
	out, res, ok := NewPipeline(filterStage(LineMatchEqual, "x")).Process(1, []byte("x"), stream, md)
	if !ok || string(out) != "x" {
		t.Fatal("dropped")
	}
	if got, want := res.String(), `{app="web", app_extracted="md", trace_id="abc"}`; got != want {
		t.Errorf("got %s want %s", got, want)
	}
	// Metadata can be filtered like any label.
	f := NewStringLabelFilter(labels.MustNewMatcher(labels.MatchEqual, "trace_id", "zzz"))
	if _, _, ok := NewPipeline(f).Process(1, []byte("x"), stream, md); ok {
		t.Error("metadata filter did not drop")
	}
}

func TestPipelineCombined(t *testing.T) {
	stages := []Stage{
		filterStage(LineMatchEqual, "level"),
		NewLogfmtParser(false, false),
		NewOrLabelFilter(
			NewStringLabelFilter(labels.MustNewMatcher(labels.MatchEqual, "level", "error")),
			NewDurationLabelFilter(LabelFilterGreaterThan, "took", 1e9),
		),
		NewDropLabels([]LabelMatch{{Name: "took"}}),
		must(NewLineFormatter(`{{.level}}: {{.msg}}`)),
	}
	p := NewPipeline(stages...)
	stream := labels.FromStrings("app", "web")
	cases := []struct {
		line, wantLine, wantLabels string
		keep                       bool
	}{
		{`level=error msg="disk full" took=1ms`, "error: disk full", `{app="web", level="error", msg="disk full"}`, true},
		{`level=info msg=slow took=2s`, "info: slow", `{app="web", level="info", msg="slow"}`, true},
		{`level=info msg=fast took=2ms`, "", "", false},
		{`no key here`, "", "", false},
	}
	for _, c := range cases {
		out, res, ok := p.Process(0, []byte(c.line), stream, nil)
		if ok != c.keep {
			t.Fatalf("%q: keep %v", c.line, ok)
		}
		if ok && (string(out) != c.wantLine || res.String() != c.wantLabels) {
			t.Errorf("%q: got %q %s", c.line, out, res.String())
		}
	}
}

func TestPipelineResultsInterned(t *testing.T) {
	p := NewPipeline(NewLogfmtParser(false, false))
	s1 := labels.FromStrings("app", "a")
	s2 := labels.FromStrings("app", "b")
	_, r1, _ := p.Process(0, []byte("level=info"), s1, nil)
	_, r2, _ := p.Process(0, []byte("level=info msg=x"), s1, nil)
	_, r3, _ := p.Process(0, []byte("level=info"), s1, nil)
	_, r4, _ := p.Process(0, []byte("level=info"), s2, nil)
	if r1 != r3 {
		t.Error("same labels, different results")
	}
	if r1 == r2 || r1 == r4 {
		t.Error("different labels share a result")
	}
	if r4.String() != `{app="b", level="info"}` || r4.Hash() != r4.Labels().Hash() {
		t.Errorf("got %s", r4.String())
	}
	// A line without changes returns the stream's own result.
	_, r5, _ := p.Process(0, []byte(""), s2, nil)
	if r5 != p.ForStream(s2).BaseLabels() {
		t.Error("unchanged line did not reuse the stream result")
	}
}

func TestPipelineAllocations(t *testing.T) {
	stream := labels.FromStrings("app", "web", "namespace", "prod")
	line := []byte(`level=info ts=2024-01-01T00:00:00Z caller=main.go:42 msg="request served" status=200 duration=12ms`)
	miss := []byte(`level=debug ts=2024-01-01T00:00:00Z msg="cache hit"`)
	cases := []struct {
		name   string
		stages []Stage
		line   []byte
		max    float64
	}{
		{"line filter", []Stage{filterStage(LineMatchEqual, "request")}, line, 0},
		{"regexp filter", []Stage{filterStage(LineMatchRegexp, "req.*served")}, line, 0},
		{"filtered out before parsing", []Stage{filterStage(LineMatchEqual, "request"), NewLogfmtParser(false, false)}, miss, 0},
		{"filtered out by label", []Stage{NewLogfmtParser(false, false), NewStringLabelFilter(labels.MustNewMatcher(labels.MatchEqual, "level", "error"))}, line, 8},
	}
	for _, c := range cases {
		p := NewPipeline(c.stages...)
		p.Process(0, c.line, stream, nil)
		got := testing.AllocsPerRun(100, func() { p.Process(0, c.line, stream, nil) })
		if got > c.max {
			t.Errorf("%s: %v allocations per line, want <= %v", c.name, got, c.max)
		}
	}
}
