package agent

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/format/push"
)

var heapProfile = flag.String("agent.heapprofile", "", "write a heap profile of the agent in BenchmarkAgent1000Files after shipping to this file, and one taken while shipping to the file plus .busy")

// countingReceiver counts the entries pushed to it.
type countingReceiver struct{ n atomic.Int64 }

func (rc *countingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := 0
	for _, s := range req.Streams {
		n += len(s.Entries)
	}
	rc.n.Add(int64(n))
	w.WriteHeader(http.StatusNoContent)
}

// BenchmarkAgent1000Files runs the agent in process over 1,000 CRI files
// (the test config's pipeline); each iteration appends 100 lines to every
// file and waits until they are shipped. It reports the live heap while
// the agent runs (after a GC) per file.
func BenchmarkAgent1000Files(b *testing.B) {
	const files, linesPerFile = 1000, 100
	root := b.TempDir()
	rc := &countingReceiver{}
	srv := httptest.NewServer(rc)
	b.Cleanup(srv.Close)
	var paths []string
	for i := range files {
		path := filepath.Join(root, "pods", fmt.Sprintf("ns_pod-%04d_u%04d", i, i), "app", "0.log")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, path)
	}
	cfg := benchConfig(b, root, srv.URL+"/loki/api/v1/push")
	a := startAgent(b, cfg)
	waitFor(b, "every file tailed", func() bool { return len(a.a.Targets()) == files })

	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	seq := 0
	var sb strings.Builder
	var total int64
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		for _, path := range paths {
			sb.Reset()
			for range linesPerFile {
				seq++
				fmt.Fprintf(&sb, "%s stdout F {\"level\":\"info\",\"trace_id\":\"%016x\",\"msg\":\"order %d filled for 11010519491231002X\"}\n",
					ts.Add(time.Duration(seq)*time.Microsecond).Format("2006-01-02T15:04:05.000000000Z07:00"), seq*7919, seq)
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
		if *heapProfile != "" {
			waitFor(b, "a fifth shipped", func() bool { return rc.n.Load() >= total-4*files*linesPerFile/5 })
			writeHeapProfile(b, *heapProfile+".busy")
		}
		waitFor(b, "every line shipped", func() bool { return rc.n.Load() >= total })
	}
	b.StopTimer()
	b.SetBytes(bytes / int64(b.N))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
	if *heapProfile != "" {
		writeHeapProfile(b, *heapProfile)
	}
	if err := a.stop(); err != nil {
		b.Fatal(err)
	}
}

// benchConfig is the e2e benchmark's agent config over root's pod logs:
// default WAL, poll and batch settings.
func benchConfig(b *testing.B, root, url string) config.Config {
	b.Helper()
	text := fmt.Sprintf(`
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 0
positions:
  filename: %[1]s/state/positions.yaml
wal:
  dir: %[1]s/state/wal
clients:
  - url: %[2]s
    batchwait: 200ms
scrape_configs:
  - job_name: pods
    pipeline_stages:
      - cri: {}
      - multiline:
          firstline: '^\{'
          max_wait_time: 500ms
      - json:
          expressions:
            level: level
            trace_id: trace_id
      - labels:
          level:
      - replace:
          expression: '(\d{17}[\dX])'
          replace: '**************'
    static_configs:
      - targets: [localhost]
        labels:
          job: pods
          __path__: %[1]s/pods/*/*/0.log
`, root, url)
	if err := os.MkdirAll(filepath.Join(root, "state"), 0o755); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse([]byte(text), nil)
	if err != nil {
		b.Fatal(err)
	}
	return *cfg
}

// writeHeapProfile writes the live heap, after a GC, to path.
func writeHeapProfile(b *testing.B, path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}
