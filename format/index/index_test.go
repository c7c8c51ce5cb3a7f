package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/labels"
)

type entry struct {
	ls   labels.Labels
	ts   int64
	line string
}

func randomLine(rng *rand.Rand) string {
	words := []string{"order", "Order", "filled", "trace_id=", "user", "ü日本", "GET", "/api/v1/", "\xff\xfe", " ", " ", "=", "\"", ",", "-", "a", "42"}
	var b strings.Builder
	for range rng.IntN(20) {
		if rng.IntN(8) == 0 {
			fmt.Fprintf(&b, "%016x%016x", rng.Uint64(), rng.Uint64())
			continue
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

func randomFile(t testing.TB, rng *rand.Rand, n, nstreams int, cfg datafile.Config) ([]entry, []byte, datafile.Summary) {
	t.Helper()
	streams := make([]labels.Labels, nstreams)
	for i := range streams {
		streams[i] = labels.FromStrings("app", fmt.Sprintf("app-%d", i%5), "pod", fmt.Sprintf("pod-%d", i))
	}
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{streams[rng.IntN(nstreams)], 1e18 + rng.Int64N(86400e9), randomLine(rng)}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := labels.Compare(a.ls, b.ls); c != 0 {
			return c
		}
		return int(a.ts - b.ts)
	})
	var buf bytes.Buffer
	w := datafile.NewWriter(&buf, cfg)
	for _, e := range es {
		if err := w.Append(e.ls, e.ts, e.line, nil); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return es, buf.Bytes(), s
}

func smallConfig(rng *rand.Rand) datafile.Config {
	cfg := datafile.DefaultConfig()
	cfg.RowGroupBytes = 256 + rng.IntN(8000)
	cfg.PageBytes = 1024
	return cfg
}

var cmpIndex = []cmp.Option{cmp.AllowUnexported(Filter{}), cmpopts.EquateEmpty()}

func TestEncodeDecode(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 1))
		_, _, s := randomFile(t, rng, rng.IntN(2000), 1+rng.IntN(30), smallConfig(rng))
		for _, cfg := range []Config{DefaultConfig(), {BitsPerToken: 0}, {BitsPerToken: 3}} {
			ix := Build(s, cfg)
			enc := ix.Encode()
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("seed %d: Decode: %v", seed, err)
			}
			if diff := cmp.Diff(ix, got, cmpIndex...); diff != "" {
				t.Fatalf("seed %d: round trip (-want +got):\n%s", seed, diff)
			}
			if again := got.Encode(); !bytes.Equal(again, enc) {
				t.Fatalf("seed %d: re-encoding differs", seed)
			}
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	_, _, s := randomFile(t, rng, 300, 4, smallConfig(rng))
	enc := Build(s, DefaultConfig()).Encode()
	for i := range len(enc) {
		if _, err := Decode(enc[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
		flipped := bytes.Clone(enc)
		flipped[i] ^= 0x10
		if _, err := Decode(flipped); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit flip at %d: %v", i, err)
		}
	}
}

func TestCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	_, data, s := randomFile(t, rng, 3000, 12, smallConfig(rng))
	ctx := context.Background()
	if err := Check(ctx, Build(s, DefaultConfig()), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Check of a fresh index: %v", err)
	}
	// Rebuilt from the data file alone, the index is the same.
	rd, err := datafile.Open(ctx, bytes.NewReader(data), int64(len(data)), datafile.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := rd.Summarize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Build(s, DefaultConfig()), Build(again, DefaultConfig()), cmpIndex...); diff != "" {
		t.Fatalf("index rebuilt from the file differs (-writer +file):\n%s", diff)
	}
	breakers := map[string]func(ix *Index){
		"rows":         func(ix *Index) { ix.Rows++ },
		"max time":     func(ix *Index) { ix.MaxTime++ },
		"stream rows":  func(ix *Index) { ix.Streams[3].Rows-- },
		"block time":   func(ix *Index) { ix.Streams[2].Blocks[0].MinTime-- },
		"range":        func(ix *Index) { ix.RowGroups[0].Columns[0].Off++ },
		"labels":       func(ix *Index) { ix.Streams[1].Labels = labels.FromStrings("app", "other") },
		"stream count": func(ix *Index) { ix.Streams = ix.Streams[1:] },
		"filter":       func(ix *Index) { clear(ix.Streams[0].Blocks[0].Filter.bits) },
		"tail":         func(ix *Index) { ix.Tail = ix.Tail[1:] },
	}
	for name, breakIt := range breakers {
		ix := Build(s, DefaultConfig())
		breakIt(ix)
		if err := Check(ctx, ix, bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: Check = %v, want ErrInconsistent", name, err)
		}
	}
	if err := Check(ctx, Build(s, DefaultConfig()), bytes.NewReader(data[:len(data)-1]), int64(len(data)-1)); err == nil {
		t.Error("Check of a truncated file passed")
	}
}

func TestMayContain(t *testing.T) {
	line := `ts=2026-11-25 level=error msg="transaction failed" trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 pod=api-7d9f8b6c4x user=Zoë`
	var hs []uint64
	datafile.EachToken([]byte(line), func(h uint64) { hs = append(hs, h) })
	slices.Sort(hs)
	f := NewFilter(slices.Compact(hs), 10)
	cases := []struct {
		literal string
		want    bool
	}{
		{"transaction failed", true},
		{"ansaction fai", true}, // partial words at both edges
		{"trace_id=4bf92f3577b34da6a3ce929d0e0e4736 ", true},
		{"=4bf92f3577b34da6a3ce929d0e0e4736 ", true},
		{"=4BF92F3577B34DA6A3CE929D0E0E4736 ", true}, // the filter is case-insensitive
		{"4bf92f3577b34da6a3ce929d0e0e4737", true},   // a bare word has no complete token
		{"", true},
		{" user=Zoë", true},
		{"=4bf92f3577b34da6a3ce929d0e0e4737 ", false},
		{"span=00f067aa0ba902b7 ", true},
		{"span=00f067aa0ba902b8 ", false},
		{"-7d9f8b6c4x ", true},
		{"-7d9f8b6c4y ", false},
		// Words, numbers and short ids are not indexed: they never prune.
		{"msg=\"transaction succeeded\"", true},
		{" warn ", true},
		{"=2027-01-01 ", true},
		{" ab12cd ", true},
	}
	for _, c := range cases {
		if got := f.MayContain(c.literal); got != c.want {
			t.Errorf("MayContain(%q) = %v, want %v", c.literal, got, c.want)
		}
		if !(Filter{}).MayContain(c.literal) {
			t.Errorf("the zero Filter rejected %q", c.literal)
		}
	}
}

// TestMinTokenLen checks that an index built with a minimum token length
// neither holds nor requires shorter tokens, and keeps it through Encode.
func TestMinTokenLen(t *testing.T) {
	ls := labels.FromStrings("app", "a")
	lines := []string{
		"span=00f067aa0ba902b7 trace=4bf92f3577b34da6a3ce929d0e0e4736 pod=api-7d9f8b6c4x",
	}
	var buf bytes.Buffer
	wcfg := datafile.DefaultConfig()
	wcfg.NoIDTokens = false // token filters need the id tokens
	w := datafile.NewWriter(&buf, wcfg)
	for i, l := range lines {
		if err := w.Append(ls, int64(i+1), l, nil); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		literal string
		min8    bool // MayContain with MinTokenLen 8
		min16   bool
		min20   bool
	}{
		{"-7d9f8b6c4x ", true, true, true},
		{"-7d9f8b6c4y ", false, true, true},
		{"=00f067aa0ba902b8 ", false, false, true},
		{"=4bf92f3577b34da6a3ce929d0e0e4737 ", false, false, false},
		{"=4bf92f3577b34da6a3ce929d0e0e4736 ", true, true, true},
	}
	for _, minLen := range []int{0, 8, 16, 20} {
		ix := Build(s, Config{BitsPerToken: 20, MinTokenLen: minLen, NoGrams: true})
		dec, err := Decode(ix.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if want := max(minLen, 8); dec.MinTokenLen != want {
			t.Errorf("MinTokenLen %d: decoded %d, want %d", minLen, dec.MinTokenLen, want)
		}
		for _, c := range cases {
			want := map[int]bool{0: c.min8, 8: c.min8, 16: c.min16, 20: c.min20}[minLen]
			if got := dec.Streams[0].Blocks[0].Filter.MayContain(c.literal); got != want {
				t.Errorf("MinTokenLen %d: MayContain(%q) = %v, want %v", minLen, c.literal, got, want)
			}
			p := dec.Select(Query{Literals: []string{c.literal}})
			if got := len(p.Blocks) == 1; got != want {
				t.Errorf("MinTokenLen %d: Select(%q) kept %d blocks, want %v", minLen, c.literal, len(p.Blocks), want)
			}
		}
		if err := Check(context.Background(), dec, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			t.Errorf("MinTokenLen %d: %v", minLen, err)
		}
	}
	bad := Build(s, DefaultConfig()).Encode()
	for _, minLen := range []byte{0, 7, 64, 255} {
		b := slices.Clone(bad[:len(bad)-4])
		b[len(Magic)+1] = minLen
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
		if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("min token length %d: Decode error %v, want ErrCorrupt", minLen, err)
		}
	}
}

// TestNoFalseNegatives checks the filter and Select against brute force:
// any substring of any line, and any query, must keep the blocks that
// hold a match.
func TestNoFalseNegatives(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		es, data, s := randomFile(t, rng, 2000, 10, smallConfig(rng))
		ix := Build(s, Config{BitsPerToken: 2}) // many false positives, no false negatives
		rd, err := datafile.Open(context.Background(), bytes.NewReader(data), int64(len(data)), datafile.OpenOptions{Tail: ix.Tail})
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			e := es[rng.IntN(len(es))]
			lit := e.line
			if len(lit) > 0 {
				i := rng.IntN(len(lit))
				lit = lit[i : i+rng.IntN(len(lit)-i+1)]
			}
			q := Query{
				Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "app", "app-[0-2]")},
				From:     e.ts - rng.Int64N(3600e9),
				Through:  e.ts + 1 + rng.Int64N(3600e9),
				Literals: []string{lit},
				Columns:  datafile.ColLine,
			}
			var want []entry
			for _, x := range es {
				if matches(x.ls, q.Matchers) && x.ts >= q.From && x.ts < q.Through && strings.Contains(x.line, lit) {
					want = append(want, x)
				}
			}
			p := ix.Select(q)
			var got []entry
			for r, err := range rd.Read(context.Background(), p.Selection()) {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(r.Line), lit) {
					got = append(got, entry{rd.Streams()[r.Stream], r.Timestamp, string(r.Line)})
				}
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(entry{}), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("seed %d literal %q: (-want +got):\n%s", seed, lit, diff)
			}
		}
	}
}

func TestSelectSkips(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	_, _, s := randomFile(t, rng, 5000, 10, smallConfig(rng))
	ix := Build(s, DefaultConfig())
	all := ix.Select(Query{Columns: datafile.ColLine})
	if all.SkippedFilter != 0 || all.SkippedTime != 0 || all.Rows != ix.Rows {
		t.Fatalf("empty query skipped blocks: %+v", all)
	}
	rare := ix.Select(Query{Literals: []string{" 0123456789abcdef0123456789abcdef "}, Columns: datafile.ColLine})
	if len(rare.Blocks) > len(all.Blocks)/10 {
		t.Errorf("a rare token kept %d of %d blocks", len(rare.Blocks), len(all.Blocks))
	}
	if rare.Blocks == nil {
		t.Error("Plan.Blocks is nil (would read everything)")
	}
	one := ix.Select(Query{Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "pod", "pod-3")}})
	if len(one.Streams) != 1 || ix.Streams[one.Streams[0]].Labels.Get("pod") != "pod-3" {
		t.Errorf("pod-3 selected streams %v", one.Streams)
	}
}

func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 50, 400} {
		_, _, s := randomFile(f, rng, n, 1+n/40, smallConfig(rng))
		f.Add(Build(s, DefaultConfig()).Encode())
	}
	f.Add([]byte("KMIX\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Also decode b with its checksum made right, so that the fuzzer
		// reaches the body parser.
		if len(b) >= 4 {
			body := b[:len(b)-4]
			if _, err := Decode(binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.Checksum(body, castagnoli))); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
		}
		ix, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		again, err := Decode(ix.Encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(ix, again, cmpIndex...); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
		_ = ix.Select(Query{Literals: []string{" x y "}})
	})
}

// TestFilterFalsePositives measures the false positive rate: about 1% at
// 10 bits per token, 0.1% at 14.
func TestFilterFalsePositives(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	hs := make([]uint64, 20000)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	slices.Sort(hs)
	for _, c := range []struct {
		bits   int
		lo, hi float64
	}{{10, 0.004, 0.015}, {14, 0.0003, 0.003}} {
		f := NewFilter(hs, c.bits)
		for _, h := range hs {
			if !f.has(h) {
				t.Fatalf("filter misses %#x", h)
			}
		}
		fp := 0
		const probes = 400000
		for range probes {
			if f.has(rng.Uint64()) {
				fp++
			}
		}
		if rate := float64(fp) / probes; rate < c.lo || rate > c.hi {
			t.Errorf("%d bits per token: false positive rate %.4f, want %.4f to %.4f", c.bits, rate, c.lo, c.hi)
		}
	}
	if one := NewFilter(hs[:1], 10); one.Size() != minFilterBytes {
		t.Errorf("a one-token filter has %d bytes, want %d", one.Size(), minFilterBytes)
	}
}

// TestPlanRanges checks that a plan reads a block by its pages: the
// ranges are exactly the selected blocks' ts and line pages.
func TestPlanRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	cfg := datafile.DefaultConfig()
	cfg.RowGroupBytes = 64 << 10
	cfg.BlockPageBytes = 0 // every block its own pages
	_, data, s := randomFile(t, rng, 3000, 10, cfg)
	ix := Build(s, DefaultConfig())
	if err := Check(context.Background(), ix, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	p := ix.Select(Query{Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "pod", "pod-3")}, Columns: datafile.ColLine})
	var want int64
	for _, b := range p.Blocks {
		for _, bl := range ix.Streams[b.Stream].Blocks {
			if bl.RowGroup == b.RowGroup {
				if bl.Columns[0].Len == 0 || bl.Columns[3].Len == 0 {
					t.Fatalf("block %+v has no pages", bl)
				}
				want += bl.Columns[0].Len + bl.Columns[3].Len
			}
		}
	}
	if len(p.Blocks) == 0 || p.Bytes != want {
		t.Errorf("plan of %d blocks reads %d bytes, want their pages' %d", len(p.Blocks), p.Bytes, want)
	}
	if p.Bytes >= ix.DataSize/5 {
		t.Errorf("one stream of ten reads %d of %d bytes", p.Bytes, ix.DataSize)
	}
}

// TestGramIndex checks the default index (version 4, gram filters): it
// round-trips, passes Check, keeps the block of every id-shaped substring
// of its lines wherever the substring starts and ends, and prunes the
// others; a version 3 index (token filters) still decodes.
func TestGramIndex(t *testing.T) {
	var buf bytes.Buffer
	w := datafile.NewWriter(&buf, datafile.Config{RowGroupBytes: 4 << 10, PageBytes: 4 << 10, BlockPageBytes: 1 << 10, ZstdLevel: 1, MaxRows: 1 << 20, NoIDTokens: true})
	var lines []string
	for s := range 4 {
		ls := labels.FromStrings("app", fmt.Sprint("app-", s))
		for i := range 200 {
			n := s*1000 + i
			line := fmt.Sprintf(`{"msg":"paid","trace_id":"%032x","span_id":"%016x","tx":"tx_%016x","req":"%08x-%04x-4%03x-8%03x-%012x"}`,
				uint64(n)*0x9e3779b97f4a7c15, uint64(n)*0xbf58476d1ce4e5b9, uint64(n)*0x94d049bb133111eb, n*7919, n%65536, n%4096, (n*3)%4096, uint64(n)*0x2545f4914f6cdd1d&(1<<48-1))
			lines = append(lines, line)
			if err := w.Append(ls, int64(n+1), line, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	enc := Build(s, DefaultConfig()).Encode()
	if enc[len(Magic)] != Version {
		t.Fatalf("version %d, want %d", enc[len(Magic)], Version)
	}
	ix, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if ix.GramLen != datafile.GramLen || ix.GramWindow != datafile.GramWindow {
		t.Errorf("gram parameters %d/%d", ix.GramLen, ix.GramWindow)
	}
	if err := Check(context.Background(), ix, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, st := range ix.Streams {
		blocks += len(st.Blocks)
	}
	var kept, asked int
	for i, line := range lines {
		if i%7 != 0 {
			continue
		}
		for _, re := range []string{`[0-9a-f]{32}`, `"span_id":"[0-9a-f]{16}`, `tx_[0-9a-f]{16}`, `[0-9a-f-]{36}`} {
			id := regexp.MustCompile(re).FindString(line)
			for _, lit := range []string{id, id[3:], strings.ToUpper(id[:len(id)-2])} {
				p := ix.Select(Query{Literals: []string{lit}, Columns: datafile.ColLine})
				found := false
				for e, err := range mustOpen(t, buf.Bytes(), ix).Read(context.Background(), p.Selection()) {
					if err != nil {
						t.Fatal(err)
					}
					found = found || strings.Contains(strings.ToLower(string(e.Line)), strings.ToLower(lit))
				}
				if !found {
					t.Fatalf("literal %q of line %d: its block was pruned", lit, i)
				}
				kept += len(p.Blocks)
				asked++
			}
		}
	}
	if kept > 2*asked {
		t.Errorf("%d literals kept %d blocks of %d: want about one each", asked, kept, blocks)
	}
	old, err := Decode(Build(s, Config{BitsPerToken: 14, MinTokenLen: 20, NoGrams: true}).Encode())
	if err != nil || old.GramLen != 0 {
		t.Fatalf("version 3: %v, gram length %d", err, old.GramLen)
	}
	// The writer collected grams only: a token index has no filters
	// (which would hold nothing and prune every literal).
	for _, st := range old.Streams {
		for _, b := range st.Blocks {
			if b.Filter.Enabled() {
				t.Fatal("token filter built without id tokens")
			}
		}
	}
	if err := Check(context.Background(), old, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, data []byte, ix *Index) *datafile.Reader {
	t.Helper()
	rd, err := datafile.Open(context.Background(), bytes.NewReader(data), int64(len(data)), datafile.OpenOptions{Tail: ix.Tail})
	if err != nil {
		t.Fatal(err)
	}
	return rd
}
