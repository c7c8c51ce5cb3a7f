package compactor_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/functions/compactor"
	"github.com/kubemate/kmlog/functions/querier"
)

// benchMiB is the raw size of the benchmark day: KMLOG_BENCH_MIB (16 by
// default; set it to a few thousand for a day of several GB).
func benchMiB() int {
	if n, err := strconv.Atoi(os.Getenv("KMLOG_BENCH_MIB")); err == nil && n > 0 {
		return n
	}
	return 16
}

// benchDay writes a day of mib MiB of raw lines as three ingesters would
// (each replica flushed in chunks of about 8 MiB raw, as sorted files)
// and returns the raw line bytes and a needle trace id.
func benchDay(b *testing.B, bkt bucket.Bucket, mib int) (raw int64, needle string) {
	b.Helper()
	cfg := loggen.DefaultConfig()
	cfg.Seed = 42
	cfg.Start = testDay().Start()
	// About 370 bytes a line: spread the lines over the day.
	lines := mib << 20 / 370
	cfg.Rate = float64(lines) / 86400
	const chunkRaw = 8 << 20
	gen := loggen.New(cfg)
	for {
		var es []ent
		size := 0
		for size < chunkRaw {
			batch := gen.Take(1000)
			for _, e := range batch {
				if e.Timestamp >= testDay().EndNano() {
					continue
				}
				if needle == "" {
					if id, ok := loggen.NeedleTraceID(e); ok && e.Timestamp > testDay().StartNano()+int64(12*time.Hour) {
						needle = id
					}
				}
				es = append(es, ent{ls: e.Labels, ts: e.Timestamp, line: e.Line, md: e.Metadata})
				size += len(e.Line)
			}
			if len(batch) == 0 || batch[len(batch)-1].Timestamp >= testDay().EndNano() || raw+int64(size) >= int64(mib)<<20 {
				break
			}
		}
		raw += int64(size)
		for range 3 {
			writeFlush(b, bkt, testDay(), es)
		}
		if raw >= int64(mib)<<20 || len(es) == 0 || es[len(es)-1].ts >= testDay().EndNano()-int64(time.Minute) {
			return raw, needle
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads the process's peak resident set (VmHWM) in MiB; resetPeak
// starts a new peak (Linux).
func peakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkCompact compacts one day (three replicas of every entry) and
// reports raw MB per CPU second, the stored bytes before and after, and
// the peak RSS of the run. Before each iteration the previous outputs
// are removed, so every iteration merges the same flushes.
func BenchmarkCompact(b *testing.B) {
	bkt, err := bucket.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := benchDay(b, bkt, benchMiB())
	before := storedBytes(b, bkt)
	cfg := compactor.DefaultConfig()
	cfg.TempDir = b.TempDir()
	c := newCompactor(b, cfg, bkt, nil)
	var cpu time.Duration
	var after int64
	var peak float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		undoCompaction(b, bkt)
		resetPeak()
		b.StartTimer()
		c0 := cpuTime()
		rep, err := c.Run(context.Background(), time.Now())
		cpu += cpuTime() - c0
		if err != nil || rep.FilesOut == 0 {
			b.Fatalf("%+v %v", rep, err)
		}
		after = liveBytes(b, bkt)
		peak = max(peak, peakRSS())
		b.ReportMetric(float64(rep.Generations), "generations")
	}
	n := float64(b.N)
	b.ReportMetric(float64(raw)/1e6*n/cpu.Seconds(), "raw-MB/cpu-s")
	b.ReportMetric(float64(before)/float64(raw), "stored/raw-before")
	b.ReportMetric(float64(after)/float64(raw), "stored/raw-after")
	b.ReportMetric(float64(raw)/float64(after), "compression-x")
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(float64(raw)/(1<<20), "raw-MiB")
}

func storedBytes(b testing.TB, bkt bucket.Bucket) int64 {
	var n int64
	_ = bkt.List(context.Background(), objkey.DataPrefix(tid, testDay()), func(oi bucket.ObjectInfo) error {
		n += oi.Size
		return nil
	})
	return n
}

// undoCompaction removes manifests and compaction outputs.
func undoCompaction(b testing.TB, bkt bucket.Bucket) {
	ctx := context.Background()
	var del []string
	_ = bkt.List(ctx, objkey.DayPrefix(tid, testDay()), func(oi bucket.ObjectInfo) error {
		if o, err := objkey.ParseDayObject(oi.Key); err == nil {
			switch o.Leaf {
			case objkey.LeafManifest:
				del = append(del, oi.Key)
			case objkey.LeafCompactedIndex:
				del = append(del, oi.Key, objkey.Data(tid, testDay(), o.ID))
			}
		}
		return nil
	})
	for _, k := range del {
		if err := bkt.Delete(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryCompacted reports the GETs and bytes a cold querier
// reads for a needle (a trace id) and a |= scan, on the uncompacted and
// the compacted day.
func BenchmarkQueryCompacted(b *testing.B) {
	bkt, err := bucket.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	_, needle := benchDay(b, bkt, min(benchMiB(), 64))
	if needle == "" {
		b.Fatal("no needle")
	}
	cfg := compactor.DefaultConfig()
	cfg.TempDir = b.TempDir()
	c := newCompactor(b, cfg, bkt, nil)
	for _, state := range []string{"flushes", "compacted"} {
		if state == "compacted" {
			if _, err := c.Run(context.Background(), time.Now()); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Run(context.Background(), time.Now().Add(cfg.OrphanAge+cfg.Grace)); err != nil {
				b.Fatal(err)
			}
		}
		for _, qc := range []struct{ name, query string }{
			{"needle", fmt.Sprintf(`{namespace=~".+"} |= %q`, needle)},
			{"contains", `{namespace=~".+"} |= "transaction failed"`},
		} {
			b.Run(state+"/"+qc.name, func(b *testing.B) {
				var st querier.Stats
				stored := storedBytes(b, bkt)
				b.ReportAllocs()
				for b.Loop() {
					// A cold querier each time: indexes read too.
					q := querier.New(querier.DefaultConfig(), bkt, nil, nil, prometheus.NewRegistry())
					resp, err := q.Query(context.Background(), querier.Request{Kind: querier.KindQuery, Tenant: tid,
						Day: testDay().String(), Query: qc.query, Start: testDay().StartNano(), End: testDay().EndNano(),
						Limit: 100, Direction: "backward"})
					if err != nil {
						b.Fatal(err)
					}
					st = resp.Stats
				}
				b.ReportMetric(float64(st.GetRequests), "GETs")
				b.ReportMetric(float64(st.BytesRead)/1e6, "MB-read")
				b.ReportMetric(100*float64(st.BytesRead)/float64(stored), "%-of-stored")
				b.ReportMetric(float64(st.IndexObjects), "index-objects")
			})
		}
	}
}

// BenchmarkEncoding compares encodings for compacted files: stored bytes
// against raw and write speed, over one merged day.
func BenchmarkEncoding(b *testing.B) {
	cfg := loggen.DefaultConfig()
	cfg.Seed = 7
	cfg.Start = testDay().Start()
	n := min(benchMiB(), 64) << 20 / 370
	cfg.Rate = float64(n) / 86400
	var es []ent
	var raw int64
	for _, e := range loggen.New(cfg).Take(n) {
		es = append(es, ent{ls: e.Labels, ts: e.Timestamp, line: e.Line, md: e.Metadata})
		raw += int64(len(e.Line))
	}
	es = dedup(es)
	for _, enc := range []struct {
		name       string
		level, rg  int
		page, blkp int
	}{
		{"flush-zstd1-rg1M", 1, 1 << 20, 1 << 20, 64 << 10},
		{"zstd2-rg4M", 2, 4 << 20, 1 << 20, 64 << 10},
		{"zstd3-rg4M", 3, 4 << 20, 1 << 20, 64 << 10},
		{"zstd3-rg4M-blk256K", 3, 4 << 20, 1 << 20, 256 << 10},
		{"zstd4-rg8M", 4, 8 << 20, 1 << 20, 64 << 10},
	} {
		b.Run(enc.name, func(b *testing.B) {
			dc := datafile.DefaultConfig()
			dc.ZstdLevel, dc.RowGroupBytes, dc.PageBytes, dc.BlockPageBytes = enc.level, enc.rg, enc.page, enc.blkp
			var size int
			b.SetBytes(raw)
			b.ReportAllocs()
			for b.Loop() {
				var buf bytes.Buffer
				w := datafile.NewWriter(&buf, dc)
				for _, e := range es {
					if err := w.Append(e.ls, e.ts, e.line, e.md); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := w.Close(); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
			}
			b.ReportMetric(float64(raw)/float64(size), "compression-x")
		})
	}
}

// liveBytes is the stored size of the day's live files.
func liveBytes(b testing.TB, bkt bucket.Bucket) int64 {
	ctx := context.Background()
	var newest string
	var gen uint64
	_ = bkt.List(ctx, objkey.IndexPrefix(tid, testDay()), func(oi bucket.ObjectInfo) error {
		if o, err := objkey.ParseDayObject(oi.Key); err == nil && o.Leaf == objkey.LeafManifest && o.Gen > gen {
			gen, newest = o.Gen, oi.Key
		}
		return nil
	})
	raw, err := bucket.ReadAll(ctx, bkt, newest)
	if err != nil {
		b.Fatal(err)
	}
	m, err := manifest.Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, o := range m.Outputs {
		n += o.DataSize
	}
	return n
}
