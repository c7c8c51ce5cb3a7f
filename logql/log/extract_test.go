package log

import (
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

func TestLineSampleExtractor(t *testing.T) {
	stream := labels.FromStrings("app", "web", "pod", "p1")
	e := NewLineSampleExtractor(CountValue, []Stage{filterStage(LineMatchEqual, "x")}, Grouping{})
	v, res, ok := e.Process(0, []byte("x1"), stream, nil)
	if !ok || v != 1 || !labels.Equal(res.Labels(), stream) {
		t.Fatalf("count: %v %v %v", v, res, ok)
	}
	if _, _, ok := e.Process(0, []byte("y"), stream, nil); ok {
		t.Error("filtered line gave a sample")
	}
	b := NewLineSampleExtractor(BytesValue, []Stage{must(NewLineFormatter("{{.app}}"))}, Grouping{})
	if v, _, _ := b.Process(0, []byte("long line"), stream, nil); v != 3 {
		t.Errorf("bytes after line_format: got %v want 3", v)
	}
	g := NewLineSampleExtractor(CountValue, nil, Grouping{By: []string{"app"}})
	if _, res, _ := g.Process(0, []byte("x"), stream, nil); res.String() != `{app="web"}` {
		t.Errorf("by: got %s", res.String())
	}
	w := NewLineSampleExtractor(CountValue, nil, Grouping{By: []string{"app"}, Without: true})
	if _, res, _ := w.Process(0, []byte("x"), stream, nil); res.String() != `{pod="p1"}` {
		t.Errorf("without: got %s", res.String())
	}
	n := NewLineSampleExtractor(CountValue, nil, Grouping{NoLabels: true})
	if _, res, _ := n.Process(0, []byte("x"), stream, nil); res.String() != `{}` {
		t.Errorf("no labels: got %s", res.String())
	}
}

func TestLabelSampleExtractor(t *testing.T) {
	stream := labels.FromStrings("app", "web")
	cases := []struct {
		name  string
		label string
		conv  Conversion
		post  []Stage
		g     Grouping
		line  string
		want  float64
		lbs   string
		ok    bool
	}{
		{name: "float", label: "latency", line: `latency=1.5 level=info`, want: 1.5, lbs: `{app="web", level="info"}`, ok: true},
		{name: "duration", label: "took", conv: ConvertDuration, line: `took=1m30s`, want: 90, lbs: `{app="web"}`, ok: true},
		{name: "bytes", label: "size", conv: ConvertBytes, line: `size=2KiB`, want: 2048, lbs: `{app="web"}`, ok: true},
		{name: "missing label skipped", label: "latency", line: `level=info`, ok: false},
		{name: "empty label skipped", label: "latency", line: `latency="" level=info`, ok: false},
		{name: "conversion error", label: "latency", line: `latency=abc`, want: 0,
			lbs: `{__error__="SampleExtractionErr", __error_details__="strconv.ParseFloat: parsing \"abc\": invalid syntax", app="web", latency="abc"}`, ok: true},
		{name: "post filter drops error", label: "latency", line: `latency=abc`,
			post: []Stage{NewStringLabelFilter(labels.MustNewMatcher(labels.MatchEqual, ErrorLabel, ""))}, ok: false},
		{name: "post filter", label: "latency", line: `latency=3 level=info`,
			post: []Stage{NewStringLabelFilter(labels.MustNewMatcher(labels.MatchEqual, "level", "error"))}, ok: false},
		{name: "by keeps only group", label: "latency", g: Grouping{By: []string{"level"}}, line: `latency=2 level=info path=/`,
			want: 2, lbs: `{level="info"}`, ok: true},
		{name: "without", label: "latency", g: Grouping{By: []string{"path"}, Without: true}, line: `latency=2 level=info path=/`,
			want: 2, lbs: `{app="web", level="info"}`, ok: true},
		{name: "error keeps labels despite grouping", label: "latency", g: Grouping{By: []string{"level"}}, line: `latency=x level=info`,
			want: 0, lbs: `{__error__="SampleExtractionErr", __error_details__="strconv.ParseFloat: parsing \"x\": invalid syntax", app="web", latency="x", level="info"}`, ok: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewLabelSampleExtractor(c.label, c.conv, []Stage{NewLogfmtParser(false, false)}, c.post, c.g)
			if err != nil {
				t.Fatal(err)
			}
			v, res, ok := e.Process(0, []byte(c.line), stream, nil)
			if ok != c.ok {
				t.Fatalf("ok: got %v", ok)
			}
			if ok && (v != c.want || res.String() != c.lbs) {
				t.Errorf("got %v %s want %v %s", v, res.String(), c.want, c.lbs)
			}
		})
	}
	if _, err := NewLabelSampleExtractor("", ConvertFloat, nil, nil, Grouping{}); err == nil {
		t.Error("empty label accepted")
	}
}
