package index

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
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
		wcfg := datafile.DefaultConfig()
		wcfg.NoIDTokens = false // for the version 3 token filter baselines
		w := datafile.NewWriter(&buf, wcfg)
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

// needleShapes find needles of each id shape in loggen lines.
var needleShapes = []struct {
	shape string
	re    *regexp.Regexp
}{
	{"hex32", regexp.MustCompile(`"trace_id":"([0-9a-f]{32})"`)},
	{"hex16", regexp.MustCompile(`"span_id":"([0-9a-f]{16})"`)},
	{"uuid", regexp.MustCompile(`\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`)},
	{"tx", regexp.MustCompile(`\b(tx_[0-9a-f]{16})\b`)},
	{"prefix12", regexp.MustCompile(`trace_id=([0-9a-f]{12})[0-9a-f]{20}`)},
}

var (
	shapeOnce    sync.Once
	shapeNeedles map[string][]string
)

// shapedNeedles returns benchNeedles needles of every shape from the
// second half of the corpus, as `|= "<needle>"` asks for them (bare).
func shapedNeedles(b *testing.B) map[string][]string {
	shapeOnce.Do(func() {
		cfg := loggen.DefaultConfig()
		cfg.Rate = 2
		size := int64(64 << 20)
		if v, err := strconv.Atoi(os.Getenv("KMLOG_BENCH_MIB")); err == nil && v > 0 {
			size = int64(v) << 20
		}
		es := loggen.New(cfg).TakeBytes(size)
		shapeNeedles = map[string][]string{}
		for _, e := range es[len(es)/2:] {
			for _, s := range needleShapes {
				if m := s.re.FindStringSubmatch(e.Line); m != nil && len(shapeNeedles[s.shape]) < benchNeedles {
					shapeNeedles[s.shape] = append(shapeNeedles[s.shape], m[1])
				}
			}
		}
	})
	return shapeNeedles
}

// BenchmarkNeedleShapes is the measurement behind the gram filters: for
// each id shape, the mean share of the data file a cold `|= "<needle>"`
// reads (index included), the index's share of the file, and the Bloom
// filters' false-positive rate (blocks kept whose exact gram set lacks a
// gram of the needle, over the blocks that lack one), for gram filter
// sizes and for the token filters of version 3.
func BenchmarkNeedleShapes(b *testing.B) {
	base := benchData(b)
	needles := shapedNeedles(b)
	configs := []struct {
		name string
		cfg  Config
	}{
		{"tokens-v3", Config{BitsPerToken: 14, MinTokenLen: 20, NoGrams: true}},
		{"grams-bits=6", Config{BitsPerToken: 14, MinTokenLen: 20, BitsPerGram: 6}},
		{"grams-bits=8", Config{BitsPerToken: 14, MinTokenLen: 20, BitsPerGram: 8}},
		{"grams-bits=10", Config{BitsPerToken: 14, MinTokenLen: 20, BitsPerGram: 10}},
		{"grams-bits=7", Config{BitsPerToken: 14, MinTokenLen: 20, BitsPerGram: 7}},
	}
	// exact[i] is block i's exact set of grams, in Build's block order.
	var exact []map[uint64]bool
	for _, st := range base.sum.Streams {
		for _, bl := range st.Blocks {
			set := map[uint64]bool{}
			for _, h := range bl.Tokens {
				if datafile.IsGram(h) {
					set[h] = true
				}
			}
			exact = append(exact, set)
		}
	}
	for _, c := range configs {
		f := *base
		f.ix = Build(base.sum, c.cfg)
		f.enc = f.ix.Encode()
		for _, s := range needleShapes {
			b.Run(c.name+"/"+s.shape, func(b *testing.B) {
				var n, reads float64
				var fp, negatives int
				for b.Loop() {
					n, reads, fp, negatives = 0, 0, 0, 0
					for _, id := range needles[s.shape] {
						q := Query{Literals: []string{id}, Columns: datafile.ColLine}
						qr, qn, found := runQuery(b, &f, q, func(e datafile.Entry) bool { return bytes.Contains(e.Line, []byte(id)) })
						if found == 0 {
							b.Fatalf("needle %s not found", id)
						}
						n += float64(qn)
						reads += float64(qr)
						gs := datafile.LiteralGrams(id)
						i := 0
						for _, st := range f.ix.Streams {
							for _, bl := range st.Blocks {
								in := true
								for _, h := range gs {
									in = in && exact[i][h]
								}
								if !in && len(gs) > 0 {
									negatives++
									if bl.Filter.mayContainHashes(gs) {
										fp++
									}
								}
								i++
							}
						}
					}
				}
				k := float64(len(needles[s.shape]))
				b.ReportMetric(n/k/float64(len(f.data)), "read/file")
				b.ReportMetric(reads/k, "requests")
				b.ReportMetric(float64(len(f.enc))/float64(len(f.data)), "index/file")
				var fbytes, nblocks int
				for _, st := range f.ix.Streams {
					for _, bl := range st.Blocks {
						fbytes += bl.Filter.Size()
						nblocks++
					}
				}
				b.ReportMetric(float64(fbytes)/float64(nblocks), "filter-B/block")
				if negatives > 0 {
					b.ReportMetric(float64(fp)/float64(negatives), "fp-rate")
				}
			})
		}
	}
}

// BenchmarkBuild is the index's build cost per MB of raw lines: the
// writer's tokenizing and gramming of the lines (datafile.EachToken,
// EachGram) and Build.
func BenchmarkBuild(b *testing.B) {
	f := benchData(b)
	var raw int64
	for _, st := range f.sum.Streams {
		raw += st.LineBytes
	}
	cfg := loggen.DefaultConfig()
	cfg.Rate = 2
	es := loggen.New(cfg).TakeBytes(8 << 20)
	var n int64
	for _, e := range es {
		n += int64(len(e.Line))
	}
	b.Run("grams", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			for _, e := range es {
				datafile.EachGram([]byte(e.Line), func(uint64) {})
			}
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			for _, e := range es {
				datafile.EachToken([]byte(e.Line), func(uint64) {})
			}
		}
	})
	b.Run("build", func(b *testing.B) {
		b.SetBytes(raw)
		b.ReportAllocs()
		for b.Loop() {
			Build(f.sum, DefaultConfig())
		}
	})
}
