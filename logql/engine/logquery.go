package engine

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// logEntry is a line kept by a log query: its output labels (and their
// text, the sort key of streams), the line and its label categories.
type logEntry struct {
	ts     int64
	lbls   labels.Labels
	key    string
	line   string
	sm     labels.Labels
	parsed labels.Labels
}

// logOrder is the total order of a log query's lines: time in the query's
// direction, then labels, then line text. Being total, it makes limits
// cut the same lines whether or not a query was split.
func logOrder(dir Direction) func(a, b *logEntry) int {
	return func(a, b *logEntry) int {
		c := cmp.Compare(a.ts, b.ts)
		if dir == Backward {
			c = -c
		}
		if c != 0 {
			return c
		}
		if c = strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.line, b.line)
	}
}

// topHeap keeps the best n entries; the root is the worst kept.
type topHeap struct {
	es    []*logEntry
	order func(a, b *logEntry) int
}

func (h *topHeap) Len() int           { return len(h.es) }
func (h *topHeap) Less(i, j int) bool { return h.order(h.es[i], h.es[j]) > 0 }
func (h *topHeap) Swap(i, j int)      { h.es[i], h.es[j] = h.es[j], h.es[i] }
func (h *topHeap) Push(x any)         { h.es = append(h.es, x.(*logEntry)) }
func (h *topHeap) Pop() any {
	e := h.es[len(h.es)-1]
	h.es = h.es[:len(h.es)-1]
	return e
}

// maxIntervalLines bounds the lines an interval log query may hold.
const maxIntervalLines = 1 << 20

// selectLogs runs a log query over src for the lines with from <= t <
// through and returns at most limit of them (all, up to a bound, when
// interval is set), unordered.
func (e *Engine) selectLogs(ctx context.Context, src Source, sel *syntax.LogSelectorExpr, from, through int64, limit int, dir Direction, keepAll bool, st *Stats) ([]*logEntry, error) {
	if from >= through {
		return nil, nil
	}
	stages, err := compileStages(sel.Pipeline)
	if err != nil {
		return nil, err
	}
	p := log.NewPipeline(stages...)
	sps := newStreamCache(p.ForStream)
	h := &topHeap{order: logOrder(dir)}
	var all []*logEntry
	req := SelectRequest{Matchers: sel.Matchers, From: from, Through: through,
		LineFilterLiterals: syntax.LineFilterLiterals(sel), Direction: dir}
	var n int64
	for ent, err := range src.Select(ctx, req) {
		if err != nil {
			return nil, fmt.Errorf("select %s: %w", sel, err)
		}
		n++
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		st.EntriesScanned++
		st.BytesScanned += int64(len(ent.Line))
		if ent.Timestamp < from || ent.Timestamp >= through {
			continue
		}
		if !keepAll && len(h.es) == limit {
			// Strictly worse in time than the worst kept line: skip
			// before running the pipeline.
			w := h.es[0].ts
			if (dir == Forward && ent.Timestamp > w) || (dir == Backward && ent.Timestamp < w) {
				continue
			}
		}
		line, lr, ok := sps.get(ent.Labels).Process(ent.Timestamp, ent.Line, ent.Metadata)
		if !ok {
			continue
		}
		st.PostFilterLines++
		if keepAll {
			if len(all) >= maxIntervalLines {
				return nil, fmt.Errorf("%w: more than %d lines for an interval query", ErrLimit, maxIntervalLines)
			}
			all = append(all, newLogEntry(ent, line, lr))
			continue
		}
		cand := logEntry{ts: ent.Timestamp, key: lr.String(), line: unsafeString(line)}
		if len(h.es) == limit {
			if h.order(&cand, h.es[0]) >= 0 {
				continue
			}
			h.es[0] = newLogEntry(ent, line, lr)
			heap.Fix(h, 0)
			continue
		}
		heap.Push(h, newLogEntry(ent, line, lr))
	}
	if keepAll {
		return all, nil
	}
	return h.es, nil
}

func newLogEntry(ent Entry, line []byte, lr *log.LabelsResult) *logEntry {
	le := &logEntry{ts: ent.Timestamp, lbls: lr.Labels(), key: lr.String(), line: string(line)}
	le.sm, le.parsed = categorize(lr.Labels(), ent.Labels, ent.Metadata)
	return le
}

// categorize splits the output labels that are not stream labels into
// those that came from structured metadata and those parsed from the line.
func categorize(out, stream, md labels.Labels) (sm, parsed labels.Labels) {
	for _, l := range out {
		if v, ok := stream.Lookup(l.Name); ok && v == l.Value {
			continue
		}
		if v, ok := md.Lookup(l.Name); ok && v == l.Value {
			sm = append(sm, l)
			continue
		}
		if base, ok := strings.CutSuffix(l.Name, "_extracted"); ok {
			if v, ok := md.Lookup(base); ok && v == l.Value && stream.Has(base) {
				sm = append(sm, l)
				continue
			}
		}
		parsed = append(parsed, l)
	}
	return sm, parsed
}

// buildStreams orders entries, applies the interval and the limit, and
// groups them into streams sorted by labels, as Loki's readStreams does.
func buildStreams(es []*logEntry, limit int, dir Direction, interval int64) Streams {
	slices.SortFunc(es, logOrder(dir))
	byKey := make(map[string]int)
	var out Streams
	var keys []string
	var last int64
	n := 0
	for _, e := range es {
		if n >= limit {
			break
		}
		if interval > 0 && n > 0 {
			if dir == Forward && e.ts < last+interval {
				continue
			}
			if dir == Backward && e.ts > last-interval {
				continue
			}
		}
		last = e.ts
		n++
		j, ok := byKey[e.key]
		if !ok {
			j = len(out)
			byKey[e.key] = j
			out = append(out, Stream{Labels: e.lbls})
			keys = append(keys, e.key)
		}
		out[j].Entries = append(out[j].Entries, StreamEntry{Timestamp: e.ts, Line: e.line, StructuredMetadata: e.sm, Parsed: e.parsed})
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make(Streams, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

// streamCache finds the per-stream state of a stream by the identity of
// its label slice (Sources hand one slice per stream), hashing the labels
// only the first time a slice is seen.
type streamCache[T any] struct {
	make  func(labels.Labels) T
	m     map[*labels.Label]T
	empty T
	has   bool
	last  *labels.Label
	lastT T
}

func newStreamCache[T any](mk func(labels.Labels) T) *streamCache[T] {
	return &streamCache[T]{make: mk, m: make(map[*labels.Label]T)}
}

func (c *streamCache[T]) get(ls labels.Labels) T {
	if len(ls) == 0 {
		if !c.has {
			c.empty, c.has = c.make(ls), true
		}
		return c.empty
	}
	k := &ls[0]
	if k == c.last {
		return c.lastT
	}
	v, ok := c.m[k]
	if !ok {
		if len(c.m) > 1<<16 {
			clear(c.m)
		}
		v = c.make(ls)
		c.m[k] = v
	}
	c.last, c.lastT = k, v
	return v
}
