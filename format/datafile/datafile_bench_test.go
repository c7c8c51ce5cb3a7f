package datafile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/kubemate/kmlog/format/loggen"
)

var (
	benchOnce   sync.Once
	benchCorpus []testEntry
	benchRaw    int64
)

// BenchCorpus returns n raw line bytes of loggen's default cluster (one
// tenant, 240 streams) at 2 lines/s, so that 64 MiB spans about a day,
// sorted for a Writer.
func BenchCorpus(n int64) []testEntry {
	cfg := loggen.DefaultConfig()
	cfg.Rate = 2
	var es []testEntry
	for _, e := range loggen.New(cfg).TakeBytes(n) {
		es = append(es, testEntry{Labels: e.Labels, Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata})
	}
	sortEntries(es)
	return es
}

// BenchCorpusBytes is the size of the benchmark corpus: 64 MiB, or
// KMLOG_BENCH_MIB MiB when that is set (16 or 32 suit a loaded machine).
func BenchCorpusBytes() int64 {
	if v, err := strconv.Atoi(os.Getenv("KMLOG_BENCH_MIB")); err == nil && v > 0 {
		return int64(v) << 20
	}
	return 64 << 20
}

// benchEntries is the shared benchmark corpus: BenchCorpusBytes of raw lines.
func benchEntries() ([]testEntry, int64) {
	benchOnce.Do(func() {
		benchCorpus = BenchCorpus(BenchCorpusBytes())
		for _, e := range benchCorpus {
			benchRaw += int64(len(e.Line))
		}
	})
	return benchCorpus, benchRaw
}

// cpuTime is the CPU time the process has used. The benchmark machine is
// shared, so MB per CPU second is the figure to compare, not wall MB/s.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports raw bytes per CPU second over n operations.
func reportCPU(b *testing.B, start time.Duration, raw int64, n int) {
	b.ReportMetric(float64(raw)*float64(n)/(cpuTime()-start).Seconds()/1e6, "MB/cpu-s")
}

type discardCounter struct{ n int64 }

func (d *discardCounter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

func writeAll(b *testing.B, w io.Writer, es []testEntry, cfg Config) Summary {
	wr := NewWriter(w, cfg)
	for _, e := range es {
		if err := wr.Append(e.Labels, e.Timestamp, e.Line, e.Metadata); err != nil {
			b.Fatal(err)
		}
	}
	s, err := wr.Close()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkWrite measures writing the corpus with the default Config:
// MB/s of raw line bytes, and the compression ratio.
func BenchmarkWrite(b *testing.B) {
	es, raw := benchEntries()
	b.SetBytes(raw)
	b.ReportAllocs()
	var size int64
	start, n := cpuTime(), 0
	for b.Loop() {
		var d discardCounter
		size = writeAll(b, &d, es, DefaultConfig()).Size
		n++
	}
	reportCPU(b, start, raw, n)
	b.ReportMetric(float64(raw)/float64(size), "x-raw/stored")
}

// BenchmarkWriteConfigs is the measurement behind the defaults: ratio and
// speed for row group sizes, page sizes and zstd levels.
func BenchmarkWriteConfigs(b *testing.B) {
	es, raw := benchEntries()
	for _, rg := range []int{1 << 20, 4 << 20} {
		for _, page := range []int{256 << 10, 1 << 20} {
			for _, level := range []int{1, 2, 3} {
				if page > rg {
					continue
				}
				cfg := DefaultConfig()
				cfg.RowGroupBytes, cfg.PageBytes, cfg.ZstdLevel = rg, page, level
				b.Run(fmt.Sprintf("rg=%dK/page=%dK/zstd=%d", rg>>10, page>>10, level), func(b *testing.B) {
					b.SetBytes(raw)
					var s Summary
					start, n := cpuTime(), 0
					for b.Loop() {
						var d discardCounter
						s = writeAll(b, &d, es, cfg)
						n++
					}
					reportCPU(b, start, raw, n)
					b.ReportMetric(float64(raw)/float64(s.Size), "x-raw/stored")
					b.ReportMetric(float64(len(s.Tail)), "footer-bytes")
				})
			}
		}
	}
}

func benchFile(b *testing.B, cfg Config) ([]byte, Summary, int64) {
	es, raw := benchEntries()
	var buf bytes.Buffer
	s := writeAll(b, &buf, es, cfg)
	return buf.Bytes(), s, raw
}

// BenchmarkScan reads every line back (stream, timestamp and line
// columns): MB/s of raw line bytes per core.
func BenchmarkScan(b *testing.B) {
	data, s, raw := benchFile(b, DefaultConfig())
	b.SetBytes(raw)
	b.ReportAllocs()
	start, ops := cpuTime(), 0
	for b.Loop() {
		ops++
		rd, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), OpenOptions{Tail: s.Tail})
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for e, err := range rd.Read(context.Background(), Selection{Columns: ColLine}) {
			if err != nil {
				b.Fatal(err)
			}
			n += int64(len(e.Line))
		}
		if n != raw {
			b.Fatalf("read %d bytes, want %d", n, raw)
		}
	}
	reportCPU(b, start, raw, ops)
}

// BenchmarkReadStreamHour reads one stream's lines of one hour, planned
// from the Summary as the index would, and reports the bytes and requests
// it cost as a share of the file.
func BenchmarkReadStreamHour(b *testing.B) {
	data, s, _ := benchFile(b, DefaultConfig())
	const stream = 6 // a busy stream (about 190 lines an hour)
	ss := s.Streams[stream]
	from := ss.MinTime + (ss.MaxTime-ss.MinTime)/2 - 1800e9 // the stream's middle hour, whatever the corpus size
	through := from + 3600e9
	var blocks []Block
	for _, bl := range s.Streams[stream].Blocks {
		if bl.MaxTime >= from && bl.MinTime < through {
			blocks = append(blocks, Block{RowGroup: bl.RowGroup, Stream: stream})
		}
	}
	b.ReportAllocs()
	var st Stats
	for b.Loop() {
		rd, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), OpenOptions{Tail: s.Tail})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range rd.Read(context.Background(), Selection{Blocks: blocks, From: from, Through: through, Columns: ColLine}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n == 0 {
			b.Fatal("no rows")
		}
		st = rd.Stats()
	}
	b.ReportMetric(float64(st.BytesRead)/float64(len(data)), "read/file")
	b.ReportMetric(float64(st.Requests), "requests")
}

// BenchmarkCorpusEntropy measures how compressible the corpus is at all,
// outside Parquet: its lines in file order (stream, then time) as one
// zstd stream at the best level with an 8 MiB window, as they are, with
// every hex run of 16 or more digits (trace, span and request ids) made
// constant, and with every digit made constant as well. The gaps show
// what the random ids and numbers of format/loggen cost. It also reports
// the stored bytes per row of the ts column.
func BenchmarkCorpusEntropy(b *testing.B) {
	es, raw := benchEntries()
	var all []byte
	for _, e := range es {
		all = append(all, e.Line...)
		all = append(all, '\n')
	}
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	noIDs := slices.Clone(all)
	for i := 0; i < len(noIDs); {
		j := i
		for j < len(noIDs) && isHex(noIDs[j]) {
			j++
		}
		if j-i >= 16 {
			for k := i; k < j; k++ {
				noIDs[k] = 'x'
			}
		}
		i = max(j, i+1)
	}
	noNumbers := slices.Clone(noIDs)
	for i, c := range noNumbers {
		if c >= '0' && c <= '9' {
			noNumbers[i] = '0'
		}
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(8<<20), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	ratio := func(p []byte) float64 { return float64(len(p)) / float64(len(enc.EncodeAll(p, nil))) }
	var r [3]float64
	for b.Loop() {
		r = [3]float64{ratio(all), ratio(noIDs), ratio(noNumbers)}
	}
	b.ReportMetric(r[0], "x-zstd19")
	b.ReportMetric(r[1], "x-no-ids")
	b.ReportMetric(r[2], "x-no-ids-numbers")
	_, s, _ := benchFile(b, DefaultConfig())
	var ts int64
	for _, rg := range s.RowGroups {
		ts += rg.Columns[colTS].Len
	}
	b.ReportMetric(float64(ts)/float64(s.Rows), "ts-bytes/row")
	b.ReportMetric(float64(raw)/float64(s.Rows), "line-bytes/row")
}
