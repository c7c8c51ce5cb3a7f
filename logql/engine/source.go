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
	stream  []int32 // stream number of each entry
	streams []labels.Labels
}

// NewMemSource returns a Source over entries. Label slices of equal sets
// are shared and entries are sorted by time (stably), so the order within
// a stream is preserved for equal timestamps. The entries are not copied
// deeply: do not modify them afterwards.
func NewMemSource(entries []Entry) *MemSource {
	out := slices.Clone(entries)
	slices.SortStableFunc(out, func(a, b Entry) int {
		switch {
		case a.Timestamp < b.Timestamp:
			return -1
		case a.Timestamp > b.Timestamp:
			return 1
		}
		return 0
	})
	m := &MemSource{entries: out, stream: make([]int32, len(out))}
	ids := make(map[string]int32)
	for i := range out {
		k := out[i].Labels.String()
		id, ok := ids[k]
		if !ok {
			id = int32(len(m.streams))
			ids[k] = id
			m.streams = append(m.streams, out[i].Labels)
		}
		out[i].Labels = m.streams[id]
		m.stream[i] = id
	}
	return m
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
		// match[id]: 0 unknown, 1 selected, 2 not.
		match := make([]uint8, len(m.streams))
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
			id := m.stream[i]
			if match[id] == 0 {
				match[id] = 2
				if labels.MatchLabels(e.Labels, req.Matchers...) {
					match[id] = 1
				}
			}
			if match[id] == 1 && !yield(e, nil) {
				return
			}
		}
	}
}

// WithLabel returns a Source that adds the label name=value to every
// stream of src, as Loki adds __tenant_id__ in a multi-tenant query. A
// selector's matchers on name are tested against value here (no entries
// when one fails) and not passed on to src.
func WithLabel(src Source, name, value string) Source {
	return &labelSource{src: src, name: name, value: value}
}

type labelSource struct {
	src         Source
	name, value string
}

func (s *labelSource) Select(ctx context.Context, req SelectRequest) iter.Seq2[Entry, error] {
	var rest []*labels.Matcher
	for _, m := range req.Matchers {
		if m.Name != s.name {
			rest = append(rest, m)
			continue
		}
		if !m.Matches(s.value) {
			return func(func(Entry, error) bool) {}
		}
	}
	req.Matchers = rest
	return func(yield func(Entry, error) bool) {
		// One output slice per input stream slice, so that the engine
		// still sees the same slice for every entry of a stream.
		out := map[*labels.Label]labels.Labels{}
		var empty labels.Labels
		for e, err := range s.src.Select(ctx, req) {
			if err == nil {
				if len(e.Labels) == 0 {
					if empty == nil {
						empty = labels.Labels{{Name: s.name, Value: s.value}}
					}
					e.Labels = empty
				} else if ls, ok := out[&e.Labels[0]]; ok && len(ls) == len(e.Labels)+1 {
					e.Labels = ls
				} else {
					ls = labels.NewBuilder(e.Labels).Set(s.name, s.value).Labels()
					out[&e.Labels[0]] = ls
					e.Labels = ls
				}
			}
			if !yield(e, err) {
				return
			}
		}
	}
}
