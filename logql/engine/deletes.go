package engine

import (
	"fmt"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// Deleter decides which entries delete requests (Loki's delete API)
// remove: an entry goes when, for one request, its stream matches the
// request's selector, its timestamp is inside the request's range and its
// line passes the request's pipeline. The querier uses it to hide lines at
// once, the compactor to drop them from files. It is not safe for
// concurrent use.
type Deleter struct {
	reqs []deleteReq
}

type deleteReq struct {
	matchers []*labels.Matcher
	from, to int64 // inclusive, Unix ns
	pipe     *log.Pipeline
	stream   map[uint64]bool // stream hash -> matches the selector
}

// ParseDeleteQuery checks a delete request's query: a log selector,
// optionally with a pipeline. It returns the parsed selector.
func ParseDeleteQuery(q string) (*syntax.LogSelectorExpr, error) {
	sel, err := syntax.ParseLogSelector(q)
	if err != nil {
		return nil, err
	}
	if _, err := compileStages(sel.Pipeline); err != nil {
		return nil, err
	}
	return sel, nil
}

// Add adds a request: its query and its inclusive range [from, to] in
// Unix ns.
func (d *Deleter) Add(query string, from, to int64) error {
	sel, err := ParseDeleteQuery(query)
	if err != nil {
		return fmt.Errorf("delete query %q: %w", query, err)
	}
	stages, err := compileStages(sel.Pipeline)
	if err != nil {
		return fmt.Errorf("delete query %q: %w", query, err)
	}
	var pipe *log.Pipeline
	if len(stages) > 0 {
		pipe = log.NewPipeline(stages...)
	}
	d.reqs = append(d.reqs, deleteReq{matchers: sel.Matchers, from: from, to: to, pipe: pipe, stream: map[uint64]bool{}})
	return nil
}

// Empty reports whether no request was added.
func (d *Deleter) Empty() bool { return d == nil || len(d.reqs) == 0 }

// Overlaps reports whether some request may remove entries of a stream
// in [from, through] (Unix ns, inclusive).
func (d *Deleter) Overlaps(from, through int64) bool {
	if d == nil {
		return false
	}
	for _, r := range d.reqs {
		if r.from <= through && from <= r.to {
			return true
		}
	}
	return false
}

// Deleted reports whether an entry of stream is removed.
func (d *Deleter) Deleted(stream labels.Labels, ts int64, line []byte, md labels.Labels) bool {
	if d == nil {
		return false
	}
	var h uint64
	hashed := false
	for i := range d.reqs {
		r := &d.reqs[i]
		if ts < r.from || ts > r.to {
			continue
		}
		if !hashed {
			h, hashed = stream.Hash(), true
		}
		m, ok := r.stream[h]
		if !ok {
			m = labels.MatchLabels(stream, r.matchers...)
			if len(r.stream) > 100000 {
				clear(r.stream)
			}
			r.stream[h] = m
		}
		if !m {
			continue
		}
		if r.pipe == nil {
			return true
		}
		if _, _, keep := r.pipe.Process(ts, line, stream, md); keep {
			return true
		}
	}
	return false
}
