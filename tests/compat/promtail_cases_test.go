package compat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// ptCase is one case of testdata/promtail_cases.yaml.
type ptCase struct {
	Name           string            `yaml:"name"`
	Labels         map[string]string `yaml:"labels"`
	Input          string            `yaml:"input"`
	PipelineStages []any             `yaml:"pipeline_stages"`
}

// ptAnswer is what a program printed for a case: its entry lines
// (normalised by normaliseDryRun), or that it refused the config.
type ptAnswer struct {
	Name    string   `json:"name"`
	Refused bool     `json:"refused,omitempty"`
	Lines   []string `json:"lines"`
}

func readPromtailCases(t testing.TB) []ptCase {
	t.Helper()
	b, err := os.ReadFile("testdata/promtail_cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cs []ptCase
	if err := yaml.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// config writes the case as a Promtail config file in dir: one scrape
// config, job "compat", the case's labels as static labels.
func (c ptCase) config(t testing.TB, dir string) string {
	t.Helper()
	labels := map[string]string{"job": "compat"}
	for k, v := range c.Labels {
		labels[k] = v
	}
	stages := c.PipelineStages
	if stages == nil {
		stages = []any{}
	}
	cfg := map[string]any{
		"server":    map[string]any{"disable": true},
		"positions": map[string]any{"filename": filepath.Join(dir, "positions.yaml")},
		"clients":   []any{map[string]any{"url": "http://127.0.0.1:9/loki/api/v1/push"}},
		"scrape_configs": []any{map[string]any{
			"job_name":        "compat",
			"static_configs":  []any{map[string]any{"targets": []string{"localhost"}, "labels": labels}},
			"pipeline_stages": stages,
		}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runDryRun runs a dry-run command with the case's input on stdin, which
// it closes hold after writing the input.
func runDryRun(t testing.TB, c ptCase, hold time.Duration, name string, args ...string) ptAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	go func() {
		io.WriteString(pw, c.Input)
		time.Sleep(hold)
		pw.Close()
	}()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s: %s timed out\n%s", c.Name, name, errb.String())
	}
	a := ptAnswer{Name: c.Name}
	if err != nil {
		a.Refused = true
		a.Lines = []string{}
		return a
	}
	a.Lines = normaliseDryRun(out.String(), start, time.Now())
	return a
}

var dryRunTime = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d{4})(\t*)`)

// normaliseDryRun keeps the entry lines of a dry run's output, dropping
// Promtail's "Clients configured:" preamble (its client config as YAML,
// up to the first empty line). A timestamp taken from the clock during the
// run (entries without a timestamp stage get the time they were read) is
// replaced, with the tabs that align it, by "<now>\t": that is the one
// nondeterministic part. Timestamps from the input are kept as printed.
func normaliseDryRun(out string, from, to time.Time) []string {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) > 0 && lines[0] == "Clients configured:" {
		i := 0
		for i < len(lines) && lines[i] != "" {
			i++
		}
		lines = lines[min(i+1, len(lines)):]
	}
	res := []string{}
	for _, l := range lines {
		if l == "" {
			continue
		}
		if m := dryRunTime.FindStringSubmatch(l); m != nil {
			ts, err := time.Parse("2006-01-02T15:04:05.999999999-0700", m[1])
			if err == nil && !ts.Before(from.Add(-time.Second)) && !ts.After(to.Add(time.Second)) {
				l = "<now>\t" + l[len(m[0]):]
			}
		}
		res = append(res, l)
	}
	return res
}

func (a ptAnswer) String() string {
	if a.Refused {
		return "refused the config"
	}
	return fmt.Sprintf("%q", a.Lines)
}
