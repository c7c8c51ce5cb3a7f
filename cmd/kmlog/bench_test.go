package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchAllInOne runs kmlog bench against an all-in-one kmlog: every
// needle is found in as many lines as the corpus holds it, every query
// answers, and the stored bytes and the process figures are measured.
func TestBenchAllInOne(t *testing.T) {
	base := startAll(t, "limits_config:\n  ingestion_rate_mb: 1000\n  ingestion_burst_size_mb: 1000\n")
	dir := t.TempDir()
	out := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	// startAll's store is in a temp dir we do not know here: find it by
	// walking nothing and measuring CPU from /proc of this very process.
	args := []string{"-target", fmt.Sprintf("kmlog=%s,pid=%d", base, os.Getpid()), "-lines", "4000", "-warm", "1", "-json", out, "-batch-bytes", "65536", "-span", "1h"}
	if err := runBench(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Needles) != len(needleShapes) {
		t.Errorf("needles %+v, want one of each of %d shapes", rep.Needles, len(needleShapes))
	}
	r := rep.Targets[0]
	if r.PushedLines != 4000 || r.IngestCPU <= 0 || r.PeakRSS <= 0 {
		t.Errorf("pushed %d lines with %.2f CPU s and %d peak RSS; want 4000 lines and positive figures", r.PushedLines, r.IngestCPU, r.PeakRSS)
	}
	for i, q := range r.Queries {
		if q.Error != "" {
			t.Errorf("%s: %s", q.Name, q.Error)
		}
		if i < len(rep.Needles) && q.Results != min(100, rep.Needles[i].Lines) {
			t.Errorf("%s: %d results, the corpus has %d lines with %q", q.Name, q.Results, rep.Needles[i].Lines, rep.Needles[i].Value)
		}
		if q.GETsFrom != "header" {
			t.Errorf("%s: GETs from %q, want kmlog's header", q.Name, q.GETsFrom)
		}
	}
	if !strings.Contains(stdout.String(), "| lines per server CPU-second |") || !strings.Contains(stdout.String(), "| needle 16-hex id |") {
		t.Errorf("table lacks rows:\n%s", stdout.String())
	}
}

func TestParseBenchTarget(t *testing.T) {
	got, err := parseBenchTarget("loki=http://127.0.0.1:3100/,pid=42,dir=/a,dir=/b")
	if err != nil || got.Name != "loki" || got.URL != "http://127.0.0.1:3100" || got.PID != 42 || len(got.Dirs) != 2 {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"http://x", "a=ftp://x", "a=http://x,pid=z", "a=http://x,foo=1", "a=http://x,dir="} {
		if _, err := parseBenchTarget(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseProc(t *testing.T) {
	stat := []byte("123 (my (odd) cmd) S 1 123 123 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 1000 200 18446744073709551615\n")
	if cpu, err := parseProcStatCPU(stat); err != nil || cpu != 3.25 {
		t.Errorf("cpu %v, %v; want 3.25", cpu, err)
	}
	if _, err := parseProcStatCPU([]byte("1 (x) S 1")); err == nil {
		t.Error("short stat: no error")
	}
	if got := parseVmHWM([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t1 kB\n")); got != 2048<<10 {
		t.Errorf("VmHWM %d, want %d", got, 2048<<10)
	}
}
