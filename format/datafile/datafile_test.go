package datafile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kubemate/kmlog/format/labels"
)

type testEntry struct {
	Labels    labels.Labels
	Timestamp int64
	Line      string
	Metadata  labels.Labels
}

// sortEntries puts entries in the order a Writer wants.
func sortEntries(es []testEntry) {
	slices.SortStableFunc(es, func(a, b testEntry) int {
		if c := labels.Compare(a.Labels, b.Labels); c != 0 {
			return c
		}
		return int(a.Timestamp - b.Timestamp)
	})
}

func writeFile(t testing.TB, es []testEntry, cfg Config) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, cfg)
	for _, e := range es {
		if err := w.Append(e.Labels, e.Timestamp, e.Line, e.Metadata); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	s, err := w.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s.Size != int64(buf.Len()) {
		t.Fatalf("Summary.Size %d, wrote %d", s.Size, buf.Len())
	}
	return buf.Bytes(), s
}

func readAll(t testing.TB, rd *Reader, sel Selection) []testEntry {
	t.Helper()
	var out []testEntry
	for e, err := range rd.Read(context.Background(), sel) {
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		te := testEntry{Labels: rd.Streams()[e.Stream], Timestamp: e.Timestamp, Line: string(e.Line)}
		if len(e.Metadata) > 0 {
			te.Metadata = slices.Clone(e.Metadata)
		}
		out = append(out, te)
	}
	return out
}

// countingReader is an io.ReaderAt over bytes that counts requests, as a
// bucket would count ranged GETs.
type countingReader struct {
	b        []byte
	requests atomic.Int64
	bytes    atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.requests.Add(1)
	n, err := bytes.NewReader(c.b).ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

// randomEntries makes n entries over nstreams streams with lines of the
// kinds the round trip must keep exact.
func randomEntries(rng *rand.Rand, n, nstreams int) []testEntry {
	streams := make([]labels.Labels, nstreams)
	for i := range streams {
		streams[i] = labels.FromStrings("app", fmt.Sprintf("app-%d", rng.IntN(nstreams*2)), "pod", fmt.Sprintf("pod-%d", i), "level", []string{"info", "warn", "error"}[rng.IntN(3)])
	}
	es := make([]testEntry, n)
	for i := range es {
		e := testEntry{Labels: streams[rng.IntN(nstreams)], Timestamp: 1_700_000_000_000_000_000 + rng.Int64N(3600e9)}
		switch rng.IntN(10) {
		case 0:
			e.Line = ""
		case 1:
			b := make([]byte, rng.IntN(300))
			for j := range b {
				b[j] = byte(rng.IntN(256))
			}
			e.Line = string(b) // not UTF-8
		case 2:
			e.Metadata = labels.FromStrings("trace_id", fmt.Sprintf("%032x", rng.Uint64()), "user", "ü\x00\xff")
			e.Line = "with metadata"
		default:
			e.Line = fmt.Sprintf("level=info msg=\"request served\" path=/api/v1/orders/%d took=%dms", rng.IntN(1e6), rng.IntN(500))
		}
		es[i] = e
	}
	sortEntries(es)
	return es
}

var cmpEntries = cmpopts.EquateEmpty()

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	one := labels.FromStrings("app", "one")
	small := DefaultConfig()
	small.RowGroupBytes, small.PageBytes = 4096, 1024
	cases := []struct {
		name string
		es   []testEntry
		cfg  Config
	}{
		{"empty file", nil, DefaultConfig()},
		{"one entry", []testEntry{{Labels: one, Timestamp: 5, Line: "x"}}, DefaultConfig()},
		{"empty lines", []testEntry{{Labels: one, Timestamp: 1}, {Labels: one, Timestamp: 1}, {Labels: one, Timestamp: 2}}, DefaultConfig()},
		{"long lines", []testEntry{{Labels: one, Timestamp: 1, Line: big}, {Labels: one, Timestamp: 2, Line: "short"}, {Labels: one, Timestamp: 3, Line: big + "!"}}, DefaultConfig()},
		{"negative and extreme times", []testEntry{{Labels: one, Timestamp: -1 << 62, Line: "a"}, {Labels: one, Timestamp: 0, Line: "b"}, {Labels: one, Timestamp: 1<<63 - 1, Line: "c"}}, DefaultConfig()},
		{"empty label set", []testEntry{{Labels: labels.Labels{}, Timestamp: 1, Line: "a"}}, DefaultConfig()},
		{"one stream", randomEntries(rng, 3000, 1), DefaultConfig()},
		{"many streams", randomEntries(rng, 5000, 500), DefaultConfig()},
		{"many row groups", randomEntries(rng, 5000, 20), small},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, sum := writeFile(t, c.es, c.cfg)
			for _, tail := range [][]byte{nil, sum.Tail} {
				rd, err := Open(context.Background(), &countingReader{b: data}, int64(len(data)), OpenOptions{Tail: tail})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				got := readAll(t, rd, Selection{Columns: AllColumns})
				if diff := cmp.Diff(c.es, got, cmpEntries); diff != "" {
					t.Fatalf("round trip (-want +got):\n%s", diff)
				}
				if rd.NumRows() != int64(len(c.es)) || rd.NumRowGroups() != len(sum.RowGroups) {
					t.Fatalf("rows %d groups %d, want %d %d", rd.NumRows(), rd.NumRowGroups(), len(c.es), len(sum.RowGroups))
				}
				again, err := rd.Summarize(context.Background())
				if err != nil {
					t.Fatalf("Summarize: %v", err)
				}
				if diff := cmp.Diff(sum, again, cmpEntries); diff != "" {
					t.Fatalf("Summarize differs from the writer's Summary (-writer +read):\n%s", diff)
				}
			}
		})
	}
}

// TestSelection checks every kind of Selection against a brute-force
// filter of the input, over random files with many row groups.
func TestSelection(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		es := randomEntries(rng, 500+rng.IntN(3000), 1+rng.IntN(40))
		cfg := DefaultConfig()
		cfg.RowGroupBytes = 512 + rng.IntN(20000)
		cfg.PageBytes = 1024 + rng.IntN(8192)
		cfg.MaxRows = 1 + rng.IntN(400)
		data, sum := writeFile(t, es, cfg)
		rd, err := Open(context.Background(), &countingReader{b: data}, int64(len(data)), OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			var want []testEntry
			from := es[rng.IntN(len(es))].Timestamp
			through := from + rng.Int64N(1800e9)
			if rng.IntN(4) == 0 {
				from, through = 0, 0
			}
			pick := map[uint32]bool{}
			var ids []uint32
			for range 1 + rng.IntN(3) {
				id := uint32(rng.IntN(len(sum.Streams)))
				pick[id] = true
				ids = append(ids, id)
			}
			for _, e := range es {
				id, _ := slices.BinarySearchFunc(sum.Streams, e.Labels, func(s StreamSummary, ls labels.Labels) int { return labels.Compare(s.Labels, ls) })
				if pick[uint32(id)] && e.Timestamp >= from && (through == 0 || e.Timestamp < through) {
					want = append(want, testEntry{Labels: e.Labels, Timestamp: e.Timestamp, Line: e.Line})
				}
			}
			// Blocks from the Reader's footer and from the Summary must both
			// select exactly the stream's rows.
			var fromSummary []Block
			for id := range pick {
				for _, b := range sum.Streams[id].Blocks {
					fromSummary = append(fromSummary, Block{RowGroup: b.RowGroup, Stream: id})
				}
			}
			for _, blocks := range [][]Block{rd.Blocks(ids...), fromSummary} {
				got := readAll(t, rd, Selection{Blocks: blocks, From: from, Through: through, Columns: ColLine})
				if diff := cmp.Diff(want, got, cmpEntries); diff != "" {
					t.Fatalf("seed %d streams %v [%d, %d) (-want +got):\n%s", seed, ids, from, through, diff)
				}
			}
		}
	}
}

func TestWriterOrder(t *testing.T) {
	a, b := labels.FromStrings("a", "1"), labels.FromStrings("a", "2")
	w := NewWriter(&bytes.Buffer{}, DefaultConfig())
	if err := w.Append(b, 10, "x", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(b, 9, "x", nil); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("earlier timestamp: %v", err)
	}
	if err := w.Append(a, 11, "x", nil); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("earlier stream: %v", err)
	}
	if err := w.Append(b, 10, "same time is fine", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(b, 12, "x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestOpenReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data, sum := writeFile(t, randomEntries(rng, 2000, 10), DefaultConfig())
	cr := &countingReader{b: data}
	if _, err := Open(context.Background(), cr, int64(len(data)), OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := cr.requests.Load(); n != 1 {
		t.Errorf("Open without tail made %d reads, want 1", n)
	}
	cr = &countingReader{b: data}
	rd, err := Open(context.Background(), cr, int64(len(data)), OpenOptions{Tail: sum.Tail})
	if err != nil {
		t.Fatal(err)
	}
	if n := cr.requests.Load(); n != 0 {
		t.Errorf("Open with tail made %d reads, want 0", n)
	}
	readAll(t, rd, Selection{Columns: AllColumns})
	if n := cr.requests.Load(); n != 1 {
		t.Errorf("full read of a %d-byte file made %d reads, want 1", len(data), n)
	}
}

func TestCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data, _ := writeFile(t, randomEntries(rng, 500, 5), DefaultConfig())
	for _, bad := range [][]byte{nil, []byte("PAR1"), data[:len(data)-1], data[:len(data)/2], append([]byte(nil), data[len(data)/2:]...)} {
		if _, err := Open(context.Background(), &countingReader{b: bad}, int64(len(bad)), OpenOptions{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open of %d bytes: %v, want ErrCorrupt", len(bad), err)
		}
	}
}

func TestMetadataEncoding(t *testing.T) {
	for _, md := range []labels.Labels{nil, labels.FromStrings("a", ""), labels.FromStrings("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "x", "\xff\x00")} {
		got, err := DecodeMetadata(nil, AppendMetadata(nil, md))
		if err != nil || !labels.Equal(got, md) {
			t.Errorf("metadata %v: got %v, %v", md, got, err)
		}
	}
	for _, b := range [][]byte{{1}, {1, 5, 'a'}, {2, 1, 'a', 0}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0, 0}} {
		if _, err := DecodeMetadata(nil, b); err == nil {
			t.Errorf("DecodeMetadata(%v) = nil error", b)
		}
	}
}

// TestBlockPages checks that every block of a row group is a run of whole
// pages in every column, and that reading one block fetches its pages and
// nothing of the other blocks' (one request, no stream column).
func TestBlockPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	es := randomEntries(rng, 3000, 3)
	cfg := DefaultConfig()
	cfg.RowGroupBytes = 1 << 30 // one row group of three blocks
	cfg.BlockPageBytes = 0
	data, sum := writeFile(t, es, cfg)
	if len(sum.RowGroups) != 1 {
		t.Fatalf("%d row groups, want 1", len(sum.RowGroups))
	}
	for id, st := range sum.Streams {
		b := st.Blocks[0]
		for c, r := range b.Columns {
			chunk := sum.RowGroups[0].Columns[c]
			if r.Len <= 0 || r.Off < chunk.Off || r.End() > chunk.End() {
				t.Fatalf("stream %d column %d: block pages %+v outside chunk %+v", id, c, r, chunk)
			}
		}
		cr := &countingReader{b: data}
		rd, err := Open(context.Background(), cr, int64(len(data)), OpenOptions{Tail: sum.Tail})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, rd, Selection{Blocks: []Block{{RowGroup: 0, Stream: uint32(id)}}, Columns: ColLine})
		if int64(len(got)) != st.Rows {
			t.Fatalf("stream %d: read %d rows, want %d", id, len(got), st.Rows)
		}
		lo := min(b.Columns[colLine].Off, b.Columns[colTS].Off)
		hi := max(b.Columns[colLine].End(), b.Columns[colTS].End())
		if n := cr.bytes.Load(); n > hi-lo || n < b.Columns[colLine].Len+b.Columns[colTS].Len {
			t.Errorf("stream %d: read %d bytes, want the block's line and ts pages (%d, %d bytes)", id, n, b.Columns[colLine].Len, b.Columns[colTS].Len)
		}
		// Summarize finds the same pages.
		s, err := rd.Summarize(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s.Streams[id].Blocks[0].Columns != b.Columns {
			t.Errorf("stream %d: Summarize gives pages %+v, the writer %+v", id, s.Streams[id].Blocks[0].Columns, b.Columns)
		}
	}
	// A tail of the footer alone still opens (the page index is read).
	rd, err := Open(context.Background(), &countingReader{b: data}, int64(len(data)), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(rd.Tail()) != string(sum.Tail) {
		t.Errorf("Open without a tail keeps %d tail bytes, the writer %d", len(rd.Tail()), len(sum.Tail))
	}
}

// TestSharedPages checks reads of small blocks that share pages with
// their neighbours (Config.BlockPageBytes): exactly the stream's rows,
// from a few pages rather than the row group.
func TestSharedPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	es := randomEntries(rng, 6000, 60)
	cfg := DefaultConfig()
	cfg.RowGroupBytes = 1 << 30
	cfg.PageBytes = 64 << 10
	cfg.BlockPageBytes = 16 << 10
	data, sum := writeFile(t, es, cfg)
	chunk := sum.RowGroups[0].Columns[colLine].Len
	for _, id := range []int{0, 17, 59} {
		var want []testEntry
		for _, e := range es {
			if labels.Equal(e.Labels, sum.Streams[id].Labels) {
				want = append(want, testEntry{Labels: e.Labels, Timestamp: e.Timestamp, Line: e.Line})
			}
		}
		cr := &countingReader{b: data}
		rd, err := Open(context.Background(), cr, int64(len(data)), OpenOptions{Tail: sum.Tail})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, rd, Selection{Blocks: []Block{{RowGroup: 0, Stream: uint32(id)}}, Columns: ColLine})
		if diff := cmp.Diff(want, got, cmpEntries); diff != "" {
			t.Fatalf("stream %d (-want +got):\n%s", id, diff)
		}
		if n := cr.bytes.Load(); n > chunk/4 {
			t.Errorf("stream %d of 60: read %d bytes of a %d-byte line chunk", id, n, chunk)
		}
	}
}
