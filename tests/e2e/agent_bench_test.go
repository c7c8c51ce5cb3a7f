package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkAgent1000Files runs `kmlog agent` over 1,000 pod log files
// (the pipeline cri, multiline, json, labels, replace) shipping to
// an all-in-one kmlog. Each iteration appends linesPerFile CRI lines to
// every file and waits until the agent has shipped them all. It reports
// the agent's resident memory, the lines per second through the whole
// agent (tail → pipeline → WAL → push) and per second of the agent's own
// CPU time.
func BenchmarkAgent1000Files(b *testing.B) {
	const files, linesPerFile = 1000, 100
	p := NewProc(b, "bench-kmlog")
	p.Start(Config{
		"target": "all",
		"log":    Config{"level": "warn"},
		"limits_config": Config{
			"ingestion_rate_mb":           0,
			"per_stream_rate_limit":       "1GB",
			"per_stream_rate_limit_burst": "1GB",
			"max_global_streams_per_user": 0,
		},
	})
	root := filepath.Join(b.TempDir(), "pods")
	var paths []string
	for i := range files {
		path := filepath.Join(root, fmt.Sprintf("bench_pod-%04d_uid%04d", i, i), "app", "0.log")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, path)
	}
	a := NewAgentProc(b, "bench-agent", Config{
		"server":  Config{"log_level": "warn"},
		"clients": []any{Config{"url": p.URL("/loki/api/v1/push"), "tenant_id": "bench", "batchwait": "200ms"}},
		"scrape_configs": []any{Config{
			"job_name": "pods",
			"pipeline_stages": []any{
				Config{"cri": Config{}},
				Config{"multiline": Config{"firstline": `^\{`, "max_wait_time": "500ms"}},
				Config{"json": Config{"expressions": Config{"level": "level", "trace_id": "trace_id"}}},
				Config{"labels": Config{"level": nil}},
				Config{"replace": Config{"expression": `(\d{17}[\dX])`, "replace": "**************"}},
			},
			"static_configs": []any{Config{"targets": []any{"localhost"}, "labels": Config{
				"job": "pods", "__path__": filepath.Join(root, "*", "*", "0.log"),
			}}},
		}},
	})
	a.Start()
	deadline := time.Now().Add(time.Minute)
	for a.Metrics()["kmlog_agent_active_files"] < files {
		if time.Now().After(deadline) {
			b.Fatalf("agent tails %v files, want %d", a.Metrics()["kmlog_agent_active_files"], files)
		}
		time.Sleep(100 * time.Millisecond)
	}
	idle := a.Metrics()["process_resident_memory_bytes"]

	ts := time.Now().Add(-10 * time.Minute)
	seq := 0
	var sb strings.Builder
	shipped := func() float64 { return sumPrefix(a.Metrics(), "kmlog_agent_ship_sent_entries_total") }
	base := shipped()
	cpu0 := a.Metrics()["process_cpu_seconds_total"]
	total := 0
	var bytes int64
	b.ResetTimer()
	for b.Loop() {
		for _, path := range paths {
			sb.Reset()
			for range linesPerFile {
				seq++
				fmt.Fprintf(&sb, "%s stdout F {\"level\":\"info\",\"trace_id\":\"%016x\",\"msg\":\"order %d filled for 11010519491231002X\"}\n",
					ts.Add(time.Duration(seq)*time.Microsecond).UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), seq*7919, seq)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := f.WriteString(sb.String())
			bytes += int64(n)
			f.Close()
		}
		total += files * linesPerFile
		deadline := time.Now().Add(5 * time.Minute)
		for shipped()-base < float64(total) {
			if time.Now().After(deadline) {
				b.Fatalf("shipped %v of %d lines", shipped()-base, total)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	b.StopTimer()
	m := a.Metrics()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(total)/secs, "lines/s")
	if cpu := m["process_cpu_seconds_total"] - cpu0; cpu > 0 {
		b.ReportMetric(float64(total)/cpu, "lines/cpu-s")
	}
	b.ReportMetric(m["process_resident_memory_bytes"]/(1<<20), "RSS-MiB")
	b.ReportMetric(idle/(1<<20), "idle-RSS-MiB")
	b.Logf("%d files, %d lines (%.1f MB) in %.1fs; agent RSS idle %.1f MiB, after %.1f MiB",
		files, total, float64(bytes)/1e6, secs, idle/(1<<20), m["process_resident_memory_bytes"]/(1<<20))
	a.Stop()
	p.Stop()
}
