package querier

import (
	"context"
	"math"
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
// Windows are cut from the day's indexes: the rows of the blocks that may
// match (by labels, time and gram filters) are assumed spread evenly over
// each block's time span, and a window ends where it is estimated to hold
// the rows it needs: twice the limit at first; then, from the share of
// the lines scanned so far that made it into the answer, what the rest of
// the limit needs, with half again as much (or the whole rest when none
// matched). The answer is the same as one pass's; what changes
// is the bytes read. A block that straddles a cut has its pages read by
// both windows, so windows are few: at most maxEarlyStopWindows, the last
// taking the rest of the shard.

// maxEarlyStopWindows bounds the windows of one shard.
const maxEarlyStopWindows = 4

// blockSpan is one block that may match: its time span and rows.
type blockSpan struct {
	min, max, rows int64
}

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
	spans := d.blockSpans(sel)
	if len(spans) < 2 {
		return nil, false, nil
	}
	backward := p.Direction == engine.Backward
	limit := int64(p.Limit)
	var parts []*engine.Partial
	var got, scanned int64
	lo, hi := d.from, d.through
	need := 2 * limit
	for i := 0; lo < hi; i++ {
		from, through := lo, hi
		if i < maxEarlyStopWindows-1 {
			if backward {
				from = windowStart(spans, lo, hi, need)
			} else {
				through = windowEnd(spans, lo, hi, need)
			}
		}
		part, err := q.eng.Partial(ctx, d, p, time.Unix(0, from), time.Unix(0, through))
		if err != nil {
			return nil, true, err
		}
		parts = append(parts, part)
		got += int64(part.LogEntries())
		scanned += part.Stats.EntriesScanned
		if backward {
			hi = from
		} else {
			lo = through
		}
		if got >= limit {
			if lo < hi {
				q.m.earlyStops.Inc()
			}
			break
		}
		if got == 0 {
			// Nothing matched: the filter is rare, and more windows would
			// each read again the pages that straddle their cuts. Read
			// the rest in one.
			need = math.MaxInt64
			continue
		}
		need = (limit - got) * max(scanned, 1) / got * 3 / 2
	}
	out, err := engine.Merge(parts...)
	return out, true, err
}

// blockSpans returns the blocks of the day that may match sel.
func (d *day) blockSpans(sel *syntax.LogSelectorExpr) []blockSpan {
	var spans []blockSpan
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
					spans = append(spans, blockSpan{bl.MinTime, bl.MaxTime, bl.Rows})
				}
			}
		}
	}
	return spans
}

// rowsIn estimates the rows of spans in [from, through), each block's
// rows spread evenly over its span.
func rowsIn(spans []blockSpan, from, through int64) float64 {
	var n float64
	for _, s := range spans {
		lo, hi := max(s.min, from), min(s.max+1, through)
		if lo >= hi {
			continue
		}
		n += float64(s.rows) * float64(hi-lo) / float64(s.max+1-s.min)
	}
	return n
}

// windowStart returns the latest start in [lo, hi) of a window ending at
// hi estimated to hold need rows (lo when none does), by bisection.
func windowStart(spans []blockSpan, lo, hi, need int64) int64 {
	if rowsIn(spans, lo, hi) <= float64(need) {
		return lo
	}
	a, b := lo, hi // rows in [a, hi) > need; [b, hi) may not
	for b-a > 1e6 {
		m := a + (b-a)/2
		if rowsIn(spans, m, hi) >= float64(need) {
			a = m
		} else {
			b = m
		}
	}
	return a
}

// windowEnd returns the earliest end in (lo, hi] of a window starting at
// lo estimated to hold need rows (hi when none does).
func windowEnd(spans []blockSpan, lo, hi, need int64) int64 {
	if rowsIn(spans, lo, hi) <= float64(need) {
		return hi
	}
	a, b := lo, hi // rows in [lo, b) > need; [lo, a) may not
	for b-a > 1e6 {
		m := a + (b-a)/2
		if rowsIn(spans, lo, m) >= float64(need) {
			b = m
		} else {
			a = m
		}
	}
	return b
}
