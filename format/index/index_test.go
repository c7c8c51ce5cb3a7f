package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
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
	line := `ts=2026-11-25 level=error msg="transaction failed" trace_id=4bf92f3577b34da6a3ce929d0e0e4736 user=Zoë`
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
		{"TRANSACTION FAILED", true},               // the filter is case-insensitive
		{"4bf92f3577b34da6a3ce929d0e0e4737", true}, // a bare word has no complete token
		{"", true},
		{" user=Zoë", true},
		{"=4bf92f3577b34da6a3ce929d0e0e4737 ", false},
		{"msg=\"transaction succeeded\"", false},
		{" warn ", false},
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
