package querier

import (
	"context"
	"slices"
	"time"

	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

// Early stop inside a shard. A log query with a limit wants the newest
// (backward) or oldest (forward) lines only. Instead of one pass over the
// whole shard, the querier runs the engine over time windows of the
// shard, newest first (oldest first forward), and stops once the windows
// read hold the limit: every line of a later window is older (newer) than
// every line of the earlier ones, so it could not be in the answer.
// Windows are cut at block time bounds taken from the day's indexes: the
// first holds at least the limit in rows of blocks that may match, the
// second the rest of the shard. The answer is the same as one pass's;
// what changes is the bytes read. Each further window would read again
// the pages of the blocks that straddle its cut: measured with kmlog
// bench, windows growing 4 times read more than one pass for a sparse
// keyword, so there are two.

// earlyStopGrowth is how much the row estimate of each window grows.
const earlyStopGrowth = 4

// maxEarlyStopWindows bounds the windows of one shard; the last one takes
// the rest of the shard.
const maxEarlyStopWindows = 2

// windowedPartial runs a limited log query over windows of the shard.
// ok is false when the query is not one it applies to; the caller then
// runs one pass.
func (q *Querier) windowedPartial(ctx context.Context, d *day, p engine.Params, sel *syntax.LogSelectorExpr) (*engine.Partial, bool, error) {
	if p.Limit <= 0 || p.Interval > 0 {
		return nil, false, nil
	}
	if err := d.load(ctx); err != nil {
		return nil, true, err
	}
	cuts := d.windowCuts(sel, p.Direction == engine.Backward, int64(p.Limit))
	if len(cuts) == 0 {
		return nil, false, nil
	}
	var parts []*engine.Partial
	got := 0
	lo, hi := d.from, d.through
	for i := 0; i <= len(cuts); i++ {
		// Backward: [cut, hi) then hi = cut; forward: [lo, cut) then lo = cut.
		from, through := lo, hi
		if i < len(cuts) {
			if p.Direction == engine.Backward {
				from = cuts[i]
			} else {
				through = cuts[i]
			}
		}
		part, err := q.eng.Partial(ctx, d, p, time.Unix(0, from), time.Unix(0, through))
		if err != nil {
			return nil, true, err
		}
		parts = append(parts, part)
		got += part.LogEntries()
		if p.Direction == engine.Backward {
			hi = from
		} else {
			lo = through
		}
		if got >= p.Limit || lo >= hi {
			if i < len(cuts) {
				q.m.earlyStops.Inc()
			}
			break
		}
	}
	out, err := engine.Merge(parts...)
	return out, true, err
}

// windowCuts returns the times at which to cut the shard into windows,
// newest first when backward (each cut older than the previous), oldest
// first when forward; none when one window would do.
func (d *day) windowCuts(sel *syntax.LogSelectorExpr, backward bool, limit int64) []int64 {
	type span struct {
		min, max, rows int64
	}
	var spans []span
	q := index.Query{Matchers: sel.Matchers, From: d.from, Through: d.through,
		Literals: d.indexLiterals(syntax.LineFilterLiterals(sel))}
	for i := range d.files {
		ix := d.files[i].ix
		if ix.Rows == 0 || ix.MaxTime < d.from || ix.MinTime >= d.through {
			continue
		}
		p := ix.Select(q)
		for _, b := range p.Blocks {
			for _, bl := range ix.Streams[b.Stream].Blocks {
				if bl.RowGroup == b.RowGroup {
					spans = append(spans, span{bl.MinTime, bl.MaxTime, bl.Rows})
				}
			}
		}
	}
	if len(spans) < 2 {
		return nil
	}
	// Backward: walk blocks by start, newest first; a window starting at a
	// block's MinTime holds every block that starts no earlier. Forward:
	// by end, oldest first; a window ending after a block's MaxTime holds
	// every block that ends no later.
	if backward {
		slices.SortFunc(spans, func(a, b span) int { return cmpInt(b.min, a.min) })
	} else {
		slices.SortFunc(spans, func(a, b span) int { return cmpInt(a.max, b.max) })
	}
	var cuts []int64
	need, rows := limit, int64(0)
	for _, s := range spans {
		rows += s.rows
		if rows < need {
			continue
		}
		cut := s.min
		if !backward {
			cut = s.max + 1
		}
		if cut <= d.from || cut >= d.through || len(cuts) > 0 && (backward && cut >= cuts[len(cuts)-1] || !backward && cut <= cuts[len(cuts)-1]) {
			continue
		}
		cuts = append(cuts, cut)
		if len(cuts) == maxEarlyStopWindows-1 {
			break
		}
		need, rows = need*earlyStopGrowth, 0
	}
	return cuts
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
