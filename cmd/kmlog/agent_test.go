package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const dryRunConfig = `
clients:
  - url: http://127.0.0.1:1/loki/api/v1/push
scrape_configs:
  - job_name: other
    static_configs:
      - targets: [localhost]
        labels: {__path__: /nowhere/*.log}
  - job_name: pods
    pipeline_stages:
      - cri: {}
      - multiline:
          firstline: '^\{'
      - json:
          expressions: {level: level, trace_id: trace_id}
      - labels: {level: ""}
      - structured_metadata: {trace_id: ""}
      - replace:
          expression: '(\d{17}[\dX])'
          replace: '**************'
    static_configs:
      - targets: [localhost]
        labels:
          namespace: prod
          __path__: /var/log/pods/*/*/0.log
`

// TestAgentDryRun pipes CRI lines through `kmlog agent -dry-run` and
// checks the printed entries: CRI time, promoted level, masked
// ID, a joined stack trace, and the held last block flushed at EOF.
func TestAgentDryRun(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfgPath, []byte(dryRunConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	in := strings.Join([]string{
		`2026-11-25T10:00:00.000000001Z stdout F {"level":"info","trace_id":"abc","msg":"id 11010519491231002X"}`,
		`2026-11-25T10:00:00.000000002Z stdout F {"level":"error","msg":"boom"}`,
		`2026-11-25T10:00:00.000000003Z stdout F java.lang.RuntimeException`,
		`2026-11-25T10:00:00.000000004Z stderr F {"level":"warn","msg":"last"}`,
	}, "\n") + "\n"
	var out, errOut bytes.Buffer
	err := runAgent(context.Background(), []string{"-config.file", cfgPath, "-dry-run", "-dry-run.job", "pods", "-log.level", "warn"},
		strings.NewReader(in), &out, &errOut)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, errOut.String())
	}
	// Promtail's dry-run format: a tabwriter (a cell whose width is a
	// multiple of 8 gets no padding tab), time in its zone as -0700,
	// reserved static labels shown, structured metadata not printed.
	const path = `__path__="/var/log/pods/*/*/0.log", `
	want := strings.Join([]string{
		"2026-11-25T10:00:00.000000001+0000\t{" + path + "level=\"info\", namespace=\"prod\", stream=\"stdout\"}\t{\"level\":\"info\",\"trace_id\":\"abc\",\"msg\":\"id **************\"}",
		"2026-11-25T10:00:00.000000002+0000\t{" + path + "namespace=\"prod\", stream=\"stdout\"}\t{\"level\":\"error\",\"msg\":\"boom\"}\njava.lang.RuntimeException",
		"2026-11-25T10:00:00.000000004+0000\t{" + path + "level=\"warn\", namespace=\"prod\", stream=\"stderr\"}\t{\"level\":\"warn\",\"msg\":\"last\"}",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("dry-run output (-want +got):\n%s", diff)
	}

	if err := runAgent(context.Background(), []string{"-config.file", cfgPath, "-dry-run", "-dry-run.job", "nope"},
		strings.NewReader(""), &out, &errOut); err == nil || !strings.Contains(err.Error(), `no job "nope"`) {
		t.Errorf("unknown job: %v", err)
	}
	if err := runAgent(context.Background(), nil, strings.NewReader(""), &out, &errOut); err == nil || !strings.Contains(err.Error(), "-config.file") {
		t.Errorf("no config: %v", err)
	}
}
