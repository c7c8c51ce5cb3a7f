package e2e

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kubemate/kmlog/format/tenant"
)

// benchPool is pre-encoded traffic: 64 snappy protobuf bodies of about
// 1 MiB of raw lines each, generated once per test binary.
type benchPool struct {
	bodies [][]byte
	lines  []int
	bytes  []int64
	total  int64
}

var benchBodies = sync.OnceValue(func() *benchPool {
	const n, batch = 64, 1 << 20
	gen := generator(9, []tenant.ID{"bench"}, 1_000_000)
	p := &benchPool{}
	for range n {
		entries := gen.TakeBytes(batch)
		req := requests(entries)["bench"]
		ps := protoPush("bench", req)
		var raw int64
		for _, e := range entries {
			raw += int64(len(e.Line))
		}
		p.bodies = append(p.bodies, ps.Body)
		p.lines = append(p.lines, len(entries))
		p.bytes = append(p.bytes, raw)
		p.total += raw
	}
	return p
})

// BenchmarkIngestAllInOne pushes 1 MiB snappy protobuf batches from four
// concurrent clients to an all-in-one kmlog process (local-directory
// bucket, WAL fsync always, limits lifted) and reports raw line bytes per
// second (also per core of the machine, which the client shares), lines per
// second, and the process's resident memory and head bytes per MB/s.
//
// Replaying the pool as is would make the ingester drop every entry as a
// duplicate after the first round, so each round of the pool goes to a
// new tenant ("bench-0", "bench-1", …): its streams and heads are new, and
// each tenant's 64 MiB head is flushed when full, as in steady state.
func BenchmarkIngestAllInOne(b *testing.B) {
	pool := benchBodies()
	p := NewProc(b, "bench-all")
	p.Start(Config{
		"target": "all",
		"log":    Config{"level": "warn"},
		"limits_config": Config{
			"ingestion_rate_mb":           0,
			"per_stream_rate_limit":       "1GB",
			"per_stream_rate_limit_burst": "1GB",
		},
	})
	var next atomic.Int64
	var lines, raw atomic.Int64
	b.SetBytes(pool.total / int64(len(pool.bodies)))
	b.SetParallelism(2) // 2 × GOMAXPROCS pushes in flight
	b.ReportAllocs()
	cpu0 := p.Metrics()["process_cpu_seconds_total"]
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			k := i % len(pool.bodies)
			ps := Push{Body: pool.bodies[k], ContentType: "application/x-protobuf", OrgID: fmt.Sprintf("bench-%d", i/len(pool.bodies))}
			code, body, err := p.Do(context.Background(), ps)
			if err != nil || code != 204 {
				b.Errorf("push %d: %d %v %s", i, code, err, body)
				return
			}
			lines.Add(int64(pool.lines[k]))
			raw.Add(pool.bytes[k])
		}
	})
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	mbps := float64(raw.Load()) / secs / 1e6
	b.ReportMetric(float64(lines.Load())/secs, "lines/s")
	b.ReportMetric(mbps/float64(runtime.NumCPU()), "MB/s/core")
	m := p.Metrics()
	rss, heads := m["process_resident_memory_bytes"], m["kmlog_ingester_memory_bytes"]
	if cpu := m["process_cpu_seconds_total"] - cpu0; cpu > 0 {
		// Raw MB per second of kmlog's own CPU time: the rate one core
		// would sustain, without the benchmark's client.
		b.ReportMetric(float64(raw.Load())/1e6/cpu, "MB/cpu-s")
	}
	if mbps > 0 {
		b.ReportMetric(rss/mbps, "RSS-B/(MB/s)")
		b.ReportMetric(heads/mbps, "head-B/(MB/s)")
	}
	b.ReportMetric(rss/(1<<20), "RSS-MiB")
	b.Logf("GOMAXPROCS=%d NumCPU=%d (client and server share them); %d pushes, %.1f MB/s, RSS %.0f MiB, heads %.0f MiB",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), next.Load(), mbps, rss/(1<<20), heads/(1<<20))
	p.Stop()
}
