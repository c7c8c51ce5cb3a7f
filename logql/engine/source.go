package engine

import (
	"context"
	"iter"
	"slices"

	"github.com/kubemate/kmlog/format/labels"
)

// Entry is one log entry as a Source hands it to the engine.
//
// Labels are the stream labels; a Source should hand the same slice for
// every entry of a stream (the pipeline recognises a stream by it without
// hashing). Line may alias a buffer of the Source that is valid only until
// the iterator advances: the engine copies what it keeps. Metadata is the
// entry's structured metadata, sorted by name, or nil.
type Entry struct {
	Labels    labels.Labels
	Timestamp int64 // Unix nanoseconds
	Line      []byte
	Metadata  labels.Labels
}

// SelectRequest asks a Source for the entries of the streams that satisfy
// every matcher, with From <= Timestamp < Through (Unix nanoseconds).
//
// LineFilterLiterals are hints: every line the query can use contains each
// of them (syntax.LineFilterLiterals), so a Source may skip blocks that
// cannot hold them; it may also ignore them, as the engine filters lines
// itself. Direction is a hint too: the engine does not rely on it.
type SelectRequest struct {
	Matchers           []*labels.Matcher
	From, Through      int64
	LineFilterLiterals []string
	Direction          Direction
}

// Source yields log entries. It is the contract between the engine and
// storage: the querier implements it over data files and ingesters.
//
// Each stream's entries must arrive in ascending time order; entries of
// different streams may interleave in any way. Replicated duplicates (the
// same stream, timestamp and line twice) must already be removed. The
// iterator stops at the first error it yields, and a Source checks ctx.
// Select may be called several times per query (once per selector), from
// one goroutine.
type Source interface {
	Select(ctx context.Context, req SelectRequest) iter.Seq2[Entry, error]
}

// MemSource is an in-memory Source for tests and small embedded uses.
// Entries are kept in time order; it is safe for concurrent Selects once
// built.
type MemSource struct {
	entries []Entry
}

// NewMemSource returns a Source over entries. Label slices of equal sets
// are shared and entries are sorted by time (stably), so the order within
// a stream is preserved for equal timestamps. The entries are not copied
// deeply: do not modify them afterwards.
func NewMemSource(entries []Entry) *MemSource {
	out := slices.Clone(entries)
	shared := make(map[string]labels.Labels)
	for i := range out {
		k := out[i].Labels.String()
		if l, ok := shared[k]; ok {
			out[i].Labels = l
		} else {
			shared[k] = out[i].Labels
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		switch {
		case a.Timestamp < b.Timestamp:
			return -1
		case a.Timestamp > b.Timestamp:
			return 1
		}
		return 0
	})
	return &MemSource{entries: out}
}

// Select implements Source.
func (m *MemSource) Select(ctx context.Context, req SelectRequest) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		lo, _ := slices.BinarySearchFunc(m.entries, req.From, func(e Entry, t int64) int {
			if e.Timestamp < t {
				return -1
			}
			if e.Timestamp > t {
				return 1
			}
			return 0
		})
		var last labels.Labels
		var lastOK bool
		for i := lo; i < len(m.entries); i++ {
			e := m.entries[i]
			if e.Timestamp >= req.Through {
				return
			}
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(Entry{}, err)
					return
				}
			}
			var ok bool
			if last != nil && len(e.Labels) == len(last) && (len(last) == 0 || &e.Labels[0] == &last[0]) {
				ok = lastOK
			} else {
				ok = labels.MatchLabels(e.Labels, req.Matchers...)
				last, lastOK = e.Labels, ok
			}
			if ok && !yield(e, nil) {
				return
			}
		}
	}
}
