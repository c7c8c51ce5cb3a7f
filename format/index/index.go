package index

import (
	"math"
	"slices"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/labels"
)

// Config tunes Build.
type Config struct {
	// BitsPerToken sizes the token filters: about 10 gives 1% false
	// positives, 0 builds no filters.
	BitsPerToken int `yaml:"bits_per_token"`
	// MinTokenLen is the shortest id-like token (datafile.EachToken) the
	// filters hold; shorter ones neither enter a filter nor are required
	// of a literal. Values below datafile.MinTokenLen mean
	// datafile.MinTokenLen, above 63 mean 63.
	MinTokenLen int `yaml:"min_token_len"`
	// NoGrams builds token filters (version 3) instead of the default gram
	// filters (version 4), which hold the blocks' substring grams
	// (datafile.EachGram) and prune any literal with GramSpan bytes of an
	// id.
	NoGrams bool `yaml:"no_grams"`
	// BitsPerGram sizes the gram filters; 0 means DefaultBitsPerGram.
	BitsPerGram int `yaml:"bits_per_gram"`
}

// DefaultBitsPerGram is the measured default size of gram filters (see
// the package doc): a literal requires several grams, so a higher false
// positive rate per gram than per token costs little.
const DefaultBitsPerGram = 6

// DefaultConfig returns the measured default (see the package doc).
func DefaultConfig() Config { return Config{BitsPerToken: 14, MinTokenLen: 20} }

func (c Config) bitsPerGram() int {
	if c.BitsPerGram <= 0 {
		return DefaultBitsPerGram
	}
	return c.BitsPerGram
}

// minTokenLen is c.MinTokenLen within [datafile.MinTokenLen, 63].
func (c Config) minTokenLen() uint8 {
	return uint8(min(63, max(datafile.MinTokenLen, c.MinTokenLen)))
}

// Index describes one data file. It is immutable once built or decoded
// and safe for concurrent reads.
type Index struct {
	DataSize  int64  // size of the data file
	Tail      []byte // the data file's tail (datafile.Summary.Tail)
	Rows      int64
	MinTime   int64
	MaxTime   int64
	RowGroups []datafile.RowGroupInfo
	Streams   []Stream // sorted by labels; the position is the stream id
	// MinTokenLen is the shortest token the filters hold (Config).
	MinTokenLen int
	// GramLen and GramWindow are the gram parameters of gram filters
	// (datafile.GramLen and GramWindow when built), 0 for token filters.
	GramLen, GramWindow int
}

// Stream is one stream of the data file.
type Stream struct {
	Labels    labels.Labels
	Rows      int64
	LineBytes int64
	MinTime   int64
	MaxTime   int64
	Blocks    []Block
}

// Block is the rows of one stream in one row group.
type Block struct {
	RowGroup  int
	FirstRow  int64 // inside the row group
	Rows      int64
	MinTime   int64
	MaxTime   int64
	LineBytes int64
	Filter    Filter
	// Columns are the byte ranges of the block's pages by column
	// (datafile.BlockSummary.Columns); a zero Range means the whole
	// column chunk of the row group.
	Columns [datafile.NumColumns]datafile.Range
}

// Build makes the index of a data file from its Writer's Summary (or
// datafile.Reader.Summarize).
func Build(s datafile.Summary, cfg Config) *Index {
	ix := &Index{
		DataSize:  s.Size,
		Tail:      slices.Clone(s.Tail),
		Rows:      s.Rows,
		MinTime:   s.MinTime,
		MaxTime:   s.MaxTime,
		RowGroups: slices.Clone(s.RowGroups),
		Streams:   make([]Stream, len(s.Streams)),
	}
	minLen := cfg.minTokenLen()
	ix.MinTokenLen = int(minLen)
	grams := !cfg.NoGrams
	if grams {
		ix.GramLen, ix.GramWindow = datafile.GramLen, datafile.GramWindow
	}
	var toks []uint64
	for i, st := range s.Streams {
		out := &ix.Streams[i]
		*out = Stream{Labels: st.Labels, Rows: st.Rows, LineBytes: st.LineBytes, MinTime: st.MinTime, MaxTime: st.MaxTime}
		out.Blocks = make([]Block, len(st.Blocks))
		for j, b := range st.Blocks {
			out.Blocks[j] = Block{RowGroup: b.RowGroup, FirstRow: b.FirstRow, Rows: b.Rows, MinTime: b.MinTime, MaxTime: b.MaxTime, LineBytes: b.LineBytes, Columns: b.Columns}
			// A token filter over a Summary without id tokens would hold
			// nothing and prune every literal: build none.
			if cfg.BitsPerToken > 0 && b.Tokens != nil && (grams || !s.NoIDTokens) {
				toks = toks[:0]
				for _, h := range b.Tokens {
					if grams && datafile.IsGram(h) || !grams && datafile.TokenLen(h) >= int(minLen) {
						toks = append(toks, h)
					}
				}
				bits := cfg.BitsPerToken
				if grams {
					bits = cfg.bitsPerGram()
				}
				out.Blocks[j].Filter = NewFilter(toks, bits)
				out.Blocks[j].Filter.minLen = minLen
				out.Blocks[j].Filter.grams = grams
			}
		}
	}
	return ix
}

// Query is what a querier asks of one data file.
type Query struct {
	// Matchers select streams by labels (all must match).
	Matchers []*labels.Matcher
	// From (inclusive) and Through (exclusive) bound timestamps in ns; a
	// zero bound is no bound, as in datafile.Selection.
	From, Through int64
	// Literals are line-filter literals (|= "..."), all of which a line
	// must contain; blocks whose token filter rules one out are skipped.
	Literals []string
	// Columns are the optional columns the read will decode.
	Columns datafile.Columns
}

// Plan is what to read of a data file for a Query.
type Plan struct {
	// Streams are the ids of the streams whose labels and time match.
	Streams []uint32
	// Blocks are the (row group, stream) pairs to read; never nil.
	Blocks []datafile.Block
	// Ranges are the byte ranges to fetch, in file order, overlapping and
	// adjacent ones merged: each block's pages, or the row group's column
	// chunks for a block whose pages hold other rows too. datafile.Reader
	// reads these (it may also read the holes of up to 32 KiB between them
	// in the same request).
	Ranges []datafile.Range
	// Bytes is the sum of Ranges' lengths; Rows bounds the rows read.
	Bytes, Rows int64
	// Skipped counts blocks ruled out by time and by token filter.
	SkippedTime, SkippedFilter int
	query                      Query
}

// Selection is the datafile.Selection that reads the plan.
func (p *Plan) Selection() datafile.Selection {
	return datafile.Selection{Blocks: p.Blocks, From: p.query.From, Through: p.query.Through, Columns: p.query.Columns}
}

// Select plans a read of the data file: the streams whose labels match,
// their blocks that overlap the time range and whose token filter may
// hold every literal, and the byte ranges of those blocks' column chunks.
func (ix *Index) Select(q Query) Plan {
	p := Plan{Blocks: []datafile.Block{}, query: q}
	from, through := q.From, q.Through
	if from == 0 {
		from = math.MinInt64
	}
	overlaps := func(lo, hi int64) bool { return hi >= from && (through == 0 || lo < through) }
	var toks [][]uint64
	for _, l := range q.Literals {
		if ix.GramLen != 0 {
			// Gram filters built with other parameters than this reader's
			// cannot be asked: they match everything.
			if ix.GramLen == datafile.GramLen && ix.GramWindow == datafile.GramWindow {
				if hs := datafile.LiteralGrams(l); len(hs) > 0 {
					toks = append(toks, hs)
				}
			}
			continue
		}
		hs := datafile.LiteralTokens(l)
		if ix.MinTokenLen > datafile.MinTokenLen {
			hs = slices.DeleteFunc(hs, func(h uint64) bool { return datafile.TokenLen(h) < ix.MinTokenLen })
		}
		if len(hs) > 0 {
			toks = append(toks, hs)
		}
	}
	cols := []int{3} // ts
	if q.Columns&datafile.ColLine != 0 {
		cols = append(cols, 0)
	}
	if q.Columns&datafile.ColMetadata != 0 {
		cols = append(cols, 1)
	}
	whole := map[int]bool{} // row groups read by whole column chunks
	for id := range ix.Streams {
		st := &ix.Streams[id]
		if !matches(st.Labels, q.Matchers) || !overlaps(st.MinTime, st.MaxTime) {
			continue
		}
		p.Streams = append(p.Streams, uint32(id))
	blocks:
		for _, b := range st.Blocks {
			if !overlaps(b.MinTime, b.MaxTime) {
				p.SkippedTime++
				continue
			}
			for _, hs := range toks {
				if !b.Filter.mayContainHashes(hs) {
					p.SkippedFilter++
					continue blocks
				}
			}
			p.Blocks = append(p.Blocks, datafile.Block{RowGroup: b.RowGroup, Stream: uint32(id)})
			p.Rows += b.Rows
			// The reader reads a block by its pages when they hold exactly
			// its rows (it knows the stream then), else the row group's
			// column chunks, stream column included.
			exact := true
			for _, c := range cols {
				exact = exact && b.Columns[c].Len > 0
			}
			if !exact {
				whole[b.RowGroup] = true
				continue
			}
			for _, c := range cols {
				p.Ranges = append(p.Ranges, b.Columns[c])
			}
		}
	}
	for rg := range whole {
		for _, c := range append(cols, 2) {
			p.Ranges = append(p.Ranges, ix.RowGroups[rg].Columns[c])
		}
	}
	slices.SortFunc(p.Ranges, func(a, b datafile.Range) int { return int(a.Off - b.Off) })
	var merged []datafile.Range
	for _, r := range p.Ranges {
		if n := len(merged); n > 0 && merged[n-1].End() >= r.Off {
			merged[n-1].Len = max(merged[n-1].End(), r.End()) - merged[n-1].Off
			continue
		}
		merged = append(merged, r)
	}
	p.Ranges = merged
	for _, r := range merged {
		p.Bytes += r.Len
	}
	return p
}

func matches(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}
