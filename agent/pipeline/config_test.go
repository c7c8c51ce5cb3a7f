package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadConfigs loads every testdata/*.bad.yaml; the first line of each
// is "# want: <text>", which the error message must contain.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatal(`first line must be "# want: <error text>"`)
			}
			_, err = Parse(b, Options{})
			if err == nil {
				t.Fatalf("loaded; want error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n  %s\nwant it to contain:\n  %s", err, want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error does not wrap ErrConfig")
			}
			if _, ok := errors.AsType[*ConfigError](err); !ok {
				t.Errorf("error is not a *ConfigError")
			}
		})
	}
}

func TestGoodConfigs(t *testing.T) {
	for name, cfg := range map[string]string{
		"helm chart default": "- cri: {}\n",
		"empty list":         "[]\n",
		"docker null":        "- docker:\n",
		"every stage": `
- cri: {max_partial_lines: 10, max_partial_line_size: 64kb, max_partial_line_size_truncate: true}
- docker: {}
- multiline: {firstline: '^\d', max_lines: 50, max_wait_time: 1s}
- json: {expressions: {level: , msg: message, first: 'items[0].id'}, source: content, drop_malformed: false}
- logfmt: {mapping: {a: , b: bee}}
- regex: {expression: '(?P<x>\w+)', source: msg}
- labels: {level: , lvl: level}
- labeldrop: [filename]
- labelallow: [app, level, namespace, pod, container, stream]
- static_labels: {cluster: c1}
- structured_metadata: {trace_id: }
- replace: {expression: '(\d+)', replace: '{{ .Value }}'}
- template: {source: x, template: '{{ ToLower .Value }}'}
- timestamp: {source: ts, format: RFC3339Nano, fallback_formats: [Unix], location: UTC, action_on_failure: skip}
- output: {source: msg}
- match: {selector: '{app="a"} |= "x"', pipeline_name: p, stages: [{drop: {expression: y}}]}
- drop: {source: [a, b], separator: ',', value: 'x,y', drop_counter_reason: r}
- limit: {rate: 100, burst: 200, drop: true, by_label_name: pod, max_distinct_labels: 20000}
- tenant: {source: t}
- metrics: {lines: {type: counter, description: d, max_idle_duration: 10m, config: {match_all: true, action: inc}}}
- pack: {labels: [pod], ingest_timestamp: false}
- decolorize: {}
- sampling: {rate: 0.5, drop_counter_reason: sampled}
`,
	} {
		if _, err := Parse([]byte(cfg), Options{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
