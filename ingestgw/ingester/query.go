package ingester

import (
	"context"
	"slices"
	"strings"
	"unsafe"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// Query selects recent entries: streams matching every matcher, entries in
// [From, Through) whose line passes the pushed-down filters.
type Query struct {
	Matchers []*labels.Matcher
	From     int64
	Through  int64
	// Contains lists literals every returned line contains (|= filters).
	Contains []string
	// Filter, when set, decides the rest of the pushed-down line filters.
	Filter func(line []byte) bool
	// Limit caps the entries returned, the newest (Backward) or oldest
	// first; 0 means no cap.
	Limit    int
	Backward bool
}

// Query returns the matching entries held in memory (not yet visible in
// the bucket, or just uploaded), per stream in time order. Lines alias the
// ingester's arenas; they are never modified.
func (ing *Ingester) Query(ctx context.Context, t tenant.ID, q Query) (*push.Request, error) {
	ing.mu.Lock()
	defer ing.mu.Unlock()
	byStream := map[string]*push.Stream{}
	scan := func(h *head) error {
		if h.tenant != t || h.day.EndNano() <= q.From || h.day.StartNano() >= q.Through {
			return nil
		}
		for key, s := range h.streams {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !labels.MatchLabels(s.labels, q.Matchers...) {
				continue
			}
			out := byStream[key]
			for _, e := range s.entries {
				if e.ts < q.From || e.ts >= q.Through || !lineMatches(e.line, q) {
					continue
				}
				if out == nil {
					out = &push.Stream{Labels: key}
					byStream[key] = out
				}
				out.Entries = append(out.Entries, push.Entry{Timestamp: e.ts, Line: e.line, Metadata: e.md})
			}
		}
		return nil
	}
	for _, h := range ing.heads {
		if err := scan(h); err != nil {
			return nil, err
		}
	}
	for _, h := range ing.flushing {
		if err := scan(h); err != nil {
			return nil, err
		}
	}
	res := &push.Request{Streams: make([]push.Stream, 0, len(byStream))}
	total := 0
	for _, s := range byStream {
		slices.SortStableFunc(s.Entries, func(a, b push.Entry) int {
			switch {
			case a.Timestamp < b.Timestamp:
				return -1
			case a.Timestamp > b.Timestamp:
				return 1
			}
			return strings.Compare(a.Line, b.Line)
		})
		s.Entries = slices.CompactFunc(s.Entries, func(a, b push.Entry) bool { return a.Timestamp == b.Timestamp && a.Line == b.Line })
		total += len(s.Entries)
		res.Streams = append(res.Streams, *s)
	}
	slices.SortFunc(res.Streams, func(a, b push.Stream) int { return strings.Compare(a.Labels, b.Labels) })
	if q.Limit > 0 && total > q.Limit {
		cutToLimit(res, q.Limit, q.Backward)
	}
	return res, nil
}

// Series returns the label sets of the streams matching ms (all streams
// when ms is empty) with entries in [from, through), as streams without
// entries, sorted by label text.
func (ing *Ingester) Series(ctx context.Context, t tenant.ID, ms []*labels.Matcher, from, through int64) (*push.Request, error) {
	ing.mu.Lock()
	defer ing.mu.Unlock()
	seen := map[string]bool{}
	scan := func(h *head) error {
		if h.tenant != t || h.day.EndNano() <= from || h.day.StartNano() >= through {
			return nil
		}
		for key, s := range h.streams {
			if err := ctx.Err(); err != nil {
				return err
			}
			if seen[key] || !labels.MatchLabels(s.labels, ms...) {
				continue
			}
			for _, e := range s.entries {
				if e.ts >= from && e.ts < through {
					seen[key] = true
					break
				}
			}
		}
		return nil
	}
	for _, h := range ing.heads {
		if err := scan(h); err != nil {
			return nil, err
		}
	}
	for _, h := range ing.flushing {
		if err := scan(h); err != nil {
			return nil, err
		}
	}
	res := &push.Request{Streams: make([]push.Stream, 0, len(seen))}
	for key := range seen {
		res.Streams = append(res.Streams, push.Stream{Labels: key})
	}
	slices.SortFunc(res.Streams, func(a, b push.Stream) int { return strings.Compare(a.Labels, b.Labels) })
	return res, nil
}

func lineMatches(line string, q Query) bool {
	for _, c := range q.Contains {
		if !strings.Contains(line, c) {
			return false
		}
	}
	if q.Filter != nil {
		return q.Filter(bytesOf(line))
	}
	return true
}

// cutToLimit keeps the limit oldest (or newest) entries over all streams.
func cutToLimit(res *push.Request, limit int, backward bool) {
	ts := make([]int64, 0, limit*2)
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			ts = append(ts, e.Timestamp)
		}
	}
	slices.Sort(ts)
	var bound int64
	if backward {
		bound = ts[len(ts)-limit]
	} else {
		bound = ts[limit-1]
	}
	// Keep entries strictly inside the bound, then fill up with entries at
	// the bound in stream order until the limit is reached.
	kept := 0
	for i := range res.Streams {
		s := &res.Streams[i]
		s.Entries = slices.DeleteFunc(s.Entries, func(e push.Entry) bool {
			if backward {
				return e.Timestamp < bound
			}
			return e.Timestamp > bound
		})
		for _, e := range s.Entries {
			if e.Timestamp != bound {
				kept++
			}
		}
	}
	room := limit - kept
	for i := range res.Streams {
		s := &res.Streams[i]
		s.Entries = slices.DeleteFunc(s.Entries, func(e push.Entry) bool {
			if e.Timestamp != bound {
				return false
			}
			if room > 0 {
				room--
				return false
			}
			return true
		})
	}
	res.Streams = slices.DeleteFunc(res.Streams, func(s push.Stream) bool { return len(s.Entries) == 0 })
}

// bytesOf views s as bytes without copying; filters only read it.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
