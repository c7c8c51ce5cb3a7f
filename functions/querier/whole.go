package querier

import (
	"context"
	"fmt"
	"iter"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/lokijson"
	"github.com/kubemate/kmlog/logql/syntax"
)

// MaxWholeDays bounds the days a whole-query request may span (Loki's
// default max_query_length is 721h, a little over 30 days).
const MaxWholeDays = 32

// whole answers a KindQuery request with an empty Day: a query the engine
// cannot split (quantile_over_time, stddev/stdvar, rate_counter, log
// queries with an interval) runs here over every day of
// [ShardFrom, ShardThrough) at once, and the answer is the final result as
// a Loki JSON body in the categorize-labels shape, so that structured
// metadata and parsed labels survive the trip to the frontend.
func (q *Querier) whole(ctx context.Context, req Request, bs *bucket.Stats, c *counters) (Response, error) {
	if req.ShardThrough <= req.ShardFrom {
		return Response{}, fmt.Errorf("%w: a whole-query request needs shard_from < shard_through", ErrBadRequest)
	}
	first, last := objkey.DayOf(req.ShardFrom), objkey.DayOf(req.ShardThrough-1)
	if n := int(last-first) + 1; n > MaxWholeDays {
		return Response{}, fmt.Errorf("%w: a whole-query request spans %d days, at most %d", ErrBadRequest, n, MaxWholeDays)
	}
	var src multiDay
	for d := first; d <= last; d++ {
		r := req
		r.Day = d.String()
		dd, err := q.newDay(r, bs, c)
		if err != nil {
			return Response{}, err
		}
		src = append(src, dd)
	}
	p, err := params(req)
	if err != nil {
		return Response{}, err
	}
	if p.Expr, err = syntax.Parse(req.Query); err != nil {
		return Response{}, err
	}
	var source engine.Source = src
	if req.TenantLabel {
		source = engine.WithLabel(src, TenantLabel, string(req.Tenant))
	}
	res, err := q.eng.Query(ctx, source, p)
	if err != nil {
		return Response{}, err
	}
	body := lokijson.AppendResponse(nil, res, lokijson.Options{CategorizeLabels: true, Direction: p.Direction})
	return Response{Partial: body}, nil
}

// multiDay is a Source over consecutive days: each stream's entries of one
// day all come before those of the next, so every stream stays in time
// order, as the engine requires.
type multiDay []*day

func (m multiDay) Select(ctx context.Context, req engine.SelectRequest) iter.Seq2[engine.Entry, error] {
	return func(yield func(engine.Entry, error) bool) {
		for _, d := range m {
			if req.Through <= d.from || req.From >= d.through {
				continue
			}
			for e, err := range d.Select(ctx, req) {
				if !yield(e, err) || err != nil {
					return
				}
			}
		}
	}
}
