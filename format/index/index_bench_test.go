package index

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
)

type benchFile struct {
	data    []byte
	ix      *Index
	enc     []byte
	sum     datafile.Summary
	needles []string
	stream  labels.Labels
	from    int64
}

var (
	benchOnce sync.Once
	bench     benchFile
)

// benchData writes 64 MiB (or KMLOG_BENCH_MIB MiB) of loggen lines (240 streams over about a day,
// as in the datafile benchmarks) and indexes it.
func benchData(b *testing.B) *benchFile {
	benchOnce.Do(func() {
		cfg := loggen.DefaultConfig()
		cfg.Rate = 2
		size := int64(64 << 20)
		if v, err := strconv.Atoi(os.Getenv("KMLOG_BENCH_MIB")); err == nil && v > 0 {
			size = int64(v) << 20
		}
		es := loggen.New(cfg).TakeBytes(size)
		for _, e := range es[len(es)/2:] {
			if id, ok := loggen.NeedleTraceID(e); ok {
				bench.needles = append(bench.needles, id)
				if len(bench.needles) == benchNeedles {
					break
				}
			}
		}
		slices.SortStableFunc(es, func(a, b loggen.Entry) int { return labels.Compare(a.Labels, b.Labels) })
		var buf bytes.Buffer
		w := datafile.NewWriter(&buf, datafile.DefaultConfig())
		for _, e := range es {
			if err := w.Append(e.Labels, e.Timestamp, e.Line, e.Metadata); err != nil {
				b.Fatal(err)
			}
		}
		s, err := w.Close()
		if err != nil {
			b.Fatal(err)
		}
		bench.data, bench.sum = buf.Bytes(), s
		bench.ix = Build(s, DefaultConfig())
		bench.enc = bench.ix.Encode()
		bench.stream = s.Streams[6].Labels
		st := s.Streams[6]                                           // a busy stream (about 190 lines an hour)
		bench.from = st.MinTime + (st.MaxTime-st.MinTime)/2 - 1800e9 // its middle hour
	})
	return &bench
}

type countingReader struct {
	r                *bytes.Reader
	requests, nbytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.requests.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.nbytes.Add(int64(n))
	return n, err
}

// runQuery is what a cold querier does for one file: decode the index,
// plan, open the data file with the index's tail, and read the plan.
func runQuery(b *testing.B, f *benchFile, q Query, want func(e datafile.Entry) bool) (reads, bytesRead int64, found int) {
	ix, err := Decode(f.enc)
	if err != nil {
		b.Fatal(err)
	}
	p := ix.Select(q)
	cr := &countingReader{r: bytes.NewReader(f.data)}
	rd, err := datafile.Open(context.Background(), cr, int64(len(f.data)), datafile.OpenOptions{Tail: ix.Tail})
	if err != nil {
		b.Fatal(err)
	}
	for e, err := range rd.Read(context.Background(), p.Selection()) {
		if err != nil {
			b.Fatal(err)
		}
		if want(e) {
			found++
		}
	}
	// The index object is one more GET.
	return cr.requests.Load() + 1, cr.nbytes.Load() + int64(len(f.enc)), found
}

// benchNeedles is how many needles BenchmarkNeedle looks for: the read
// share of one needle depends on its block and on false positives, so the
// figures are means over many.
const benchNeedles = 32

// needles runs a cold query for every needle trace id, as the querier
// runs `|= "<id>"` with DelimitedIDs (it asks the index about " <id> "),
// checks it finds the id's lines, and returns the mean requests and bytes
// read (index included) per query.
func needles(b *testing.B, f *benchFile) (reads, bytesRead float64) {
	var r, n int64
	for _, id := range f.needles {
		q := Query{Literals: []string{" " + id + " "}, Columns: datafile.ColLine}
		qr, qn, found := runQuery(b, f, q, func(e datafile.Entry) bool { return bytes.Contains(e.Line, []byte(id)) })
		if found == 0 {
			b.Fatalf("found %d lines of the needle %s", found, id)
		}
		r, n = r+qr, n+qn
	}
	return float64(r) / float64(len(f.needles)), float64(n) / float64(len(f.needles))
}

// BenchmarkNeedle finds the one line of each of benchNeedles needle trace
// ids: mean bytes read per query (index included) as a share of the data
// file.
func BenchmarkNeedle(b *testing.B) {
	f := benchData(b)
	var reads, n float64
	b.ReportAllocs()
	for b.Loop() {
		reads, n = needles(b, f)
	}
	b.ReportMetric(n/float64(len(f.data)), "read/file")
	b.ReportMetric(reads, "requests")
	b.ReportMetric(float64(len(f.enc))/float64(len(f.data)), "index/file")
}

// BenchmarkNeedleConfigs is the measurement behind the index defaults:
// index size and needle reads for token lengths and filter sizes.
func BenchmarkNeedleConfigs(b *testing.B) {
	base := benchData(b)
	for _, minLen := range []int{8, 16, 20, 32} {
		for _, bits := range []int{8, 10, 12, 14} {
			f := *base
			f.ix = Build(base.sum, Config{BitsPerToken: bits, MinTokenLen: minLen})
			f.enc = f.ix.Encode()
			b.Run(fmt.Sprintf("minlen=%d/bits=%d", minLen, bits), func(b *testing.B) {
				var reads, n float64
				for b.Loop() {
					reads, n = needles(b, &f)
				}
				b.ReportMetric(n/float64(len(f.data)), "read/file")
				b.ReportMetric(reads, "requests")
				b.ReportMetric(float64(len(f.enc))/float64(len(f.data)), "index/file")
			})
		}
	}
}

// BenchmarkStreamHour reads one stream's hour.
func BenchmarkStreamHour(b *testing.B) {
	f := benchData(b)
	var ms []*labels.Matcher
	for _, l := range f.stream {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value))
	}
	q := Query{Matchers: ms, From: f.from, Through: f.from + 3600e9, Columns: datafile.ColLine}
	var reads, n int64
	b.ReportAllocs()
	for b.Loop() {
		var found int
		reads, n, found = runQuery(b, f, q, func(datafile.Entry) bool { return true })
		if found == 0 {
			b.Fatal("no rows")
		}
	}
	b.ReportMetric(float64(n)/float64(len(f.data)), "read/file")
	b.ReportMetric(float64(reads), "requests")
}

// BenchmarkDecode decodes the index object.
func BenchmarkDecode(b *testing.B) {
	f := benchData(b)
	b.SetBytes(int64(len(f.enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(f.enc); err != nil {
			b.Fatal(err)
		}
	}
}
