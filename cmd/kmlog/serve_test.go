package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAllInOneDemo runs the all-in-one process with demo data, waits for
// data to flow, stops it, and checks that the shutdown flushed everything
// to data files and left the WAL empty.
func TestAllInOneDemo(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "kmlog.yaml")
	cfg := fmt.Sprintf(`
server:
  http_listen_address: %s
storage:
  dir: %s/objects
ingester:
  wal:
    dir: %s/wal
demo:
  backfill: 10m
log:
  level: warn
`, addr, dir, dir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-config.file", cfgPath, "-demo"}, &out, &out) }()

	received := func() float64 {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, `kmlog_distributor_received_entries_total{tenant="fake"}`) {
				var v float64
				fmt.Sscan(strings.Fields(line)[1], &v)
				return v
			}
		}
		return 0
	}
	deadline := time.Now().Add(60 * time.Second)
	for received() < 2000 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no demo data arrived; output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "objects", "fake", "*", "data", "*.parquet"))
	idx, _ := filepath.Glob(filepath.Join(dir, "objects", "fake", "*", "index", "*.idx"))
	if len(files) == 0 || len(files) != len(idx) {
		t.Fatalf("data files %v, indexes %v", files, idx)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil && fi.Size() > 64 {
			t.Errorf("WAL segment %s holds %d bytes after a clean shutdown", s, fi.Size())
		}
	}
}
