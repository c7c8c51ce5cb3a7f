package frontend

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

// MetaRequest is a labels, label values, series, index stats or volume
// request: a time range and a stream selector (may be empty for labels,
// label values and series).
type MetaRequest struct {
	Start, End time.Time
	Query      string
}

// canonicalSelector checks q as a stream selector and returns its
// canonical text ("" stays "").
func canonicalSelector(q string) (string, error) {
	if strings.TrimSpace(q) == "" {
		return "", nil
	}
	sel, err := syntax.ParseLogSelector(q)
	if err != nil {
		return "", err
	}
	return syntax.CanonicalString(sel), nil
}

// meta fans a metadata request out over the shards of [Start, End].
func (f *Frontend) meta(ctx context.Context, t tenant.ID, base querier.Request, r MetaRequest) ([]*querier.Response, Stats, error) {
	lim := f.Limits(t)
	ctx, cancel := context.WithTimeout(ctx, lim.QueryTimeout)
	defer cancel()
	if r.End.Before(r.Start) {
		return nil, Stats{}, errEndBeforeStart
	}
	if l := r.End.Sub(r.Start); lim.MaxQueryLength > 0 && l > lim.MaxQueryLength {
		return nil, Stats{}, &QueryLengthError{Length: l, Limit: lim.MaxQueryLength}
	}
	q, err := canonicalSelector(r.Query)
	if err != nil {
		return nil, Stats{}, err
	}
	base.Tenant, base.Query = t, q
	base.Start, base.End = r.Start.UnixNano(), r.End.UnixNano()
	// The end is inclusive for metadata, as in Loki's index lookups.
	shards := splitRange(base.Start, base.End+1, lim.SplitQueriesByInterval)
	reqs := make([]querier.Request, len(shards))
	for i, s := range shards {
		reqs[i] = s.request(base)
	}
	st := &runStats{}
	resps, err := f.fanOut(ctx, lim, reqs, st)
	return resps, st.stats(), err
}

// Labels returns the label names of the streams that match r.Query (all
// streams if empty) with entries in r's range, sorted.
func (f *Frontend) Labels(ctx context.Context, t tenant.ID, r MetaRequest) ([]string, Stats, error) {
	resps, st, err := f.meta(ctx, t, querier.Request{Kind: querier.KindLabels}, r)
	if err != nil {
		return nil, st, err
	}
	return unionValues(resps), st, nil
}

// LabelValues returns the values of label name, sorted.
func (f *Frontend) LabelValues(ctx context.Context, t tenant.ID, name string, r MetaRequest) ([]string, Stats, error) {
	resps, st, err := f.meta(ctx, t, querier.Request{Kind: querier.KindLabelValues, Name: name}, r)
	if err != nil {
		return nil, st, err
	}
	return unionValues(resps), st, nil
}

func unionValues(resps []*querier.Response) []string {
	set := make(map[string]struct{})
	for _, r := range resps {
		for _, v := range r.Values {
			set[v] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Series returns the label sets of the streams that match any of the
// selectors (all streams if there are none), sorted by their text.
func (f *Frontend) Series(ctx context.Context, t tenant.ID, selectors []string, r MetaRequest) ([]labels.Labels, Stats, error) {
	if len(selectors) == 0 {
		selectors = []string{""}
	}
	seen := make(map[string]labels.Labels)
	var total Stats
	for _, sel := range selectors {
		r.Query = sel
		resps, st, err := f.meta(ctx, t, querier.Request{Kind: querier.KindSeries}, r)
		total = addStats(total, st)
		if err != nil {
			return nil, total, err
		}
		for _, resp := range resps {
			for _, m := range resp.Series {
				ls := labels.FromMap(m)
				seen[ls.String()] = ls
			}
		}
	}
	out := make([]labels.Labels, 0, len(seen))
	for _, k := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, seen[k])
	}
	return out, total, nil
}

func addStats(a, b Stats) Stats {
	a.Shards += b.Shards
	a.Invocations += b.Invocations
	a.MemoryHits += b.MemoryHits
	a.BucketHits += b.BucketHits
	a.Misses += b.Misses
	a.Stored += b.Stored
	return a
}

// IndexStats sums the index statistics of the shards. Streams that span
// several shards are counted once per shard, as Loki counts them once per
// index period.
func (f *Frontend) IndexStats(ctx context.Context, t tenant.ID, r MetaRequest) (querier.IndexStats, Stats, error) {
	if strings.TrimSpace(r.Query) == "" {
		return querier.IndexStats{}, Stats{}, badRequest("query is required")
	}
	resps, st, err := f.meta(ctx, t, querier.Request{Kind: querier.KindStats}, r)
	if err != nil {
		return querier.IndexStats{}, st, err
	}
	var out querier.IndexStats
	for _, r := range resps {
		if s := r.IndexStats; s != nil {
			out.Streams += s.Streams
			out.Chunks += s.Chunks
			out.Entries += s.Entries
			out.Bytes += s.Bytes
		}
	}
	return out, st, nil
}

// VolumeRequest is an index/volume request.
type VolumeRequest struct {
	MetaRequest
	Limit        int      // series returned, default 100
	TargetLabels []string // aggregate into these labels only
	AggregateBy  string   // "series" (default) or "labels"
}

// Volume aggregation modes.
const (
	AggregateBySeries = "series"
	AggregateByLabels = "labels"
)

// DefaultVolumeLimit is Loki's default limit of index/volume.
const DefaultVolumeLimit = 100

// Volume returns the byte volumes of the matching streams aggregated as
// Loki's index/volume does, largest first, at most Limit of them.
func (f *Frontend) Volume(ctx context.Context, t tenant.ID, r VolumeRequest) ([]querier.Volume, Stats, error) {
	if strings.TrimSpace(r.Query) == "" {
		return nil, Stats{}, badRequest("query is required")
	}
	if r.Limit <= 0 {
		r.Limit = DefaultVolumeLimit
	}
	if r.AggregateBy == "" {
		r.AggregateBy = AggregateBySeries
	}
	if r.AggregateBy != AggregateBySeries && r.AggregateBy != AggregateByLabels {
		return nil, Stats{}, badRequestf("invalid aggregation option: %s", r.AggregateBy)
	}
	base := querier.Request{Kind: querier.KindVolume, TargetLabels: r.TargetLabels, AggregateBy: r.AggregateBy, Limit: r.Limit}
	resps, st, err := f.meta(ctx, t, base, r.MetaRequest)
	if err != nil {
		return nil, st, err
	}
	return mergeVolumes(resps, r.Limit), st, nil
}

func mergeVolumes(resps []*querier.Response, limit int) []querier.Volume {
	type acc struct {
		lbls  labels.Labels
		bytes uint64
	}
	sum := make(map[string]*acc)
	for _, r := range resps {
		for _, v := range r.Volumes {
			ls := labels.FromMap(v.Labels)
			k := ls.String()
			a, ok := sum[k]
			if !ok {
				a = &acc{lbls: ls}
				sum[k] = a
			}
			a.bytes += v.Bytes
		}
	}
	all := slices.Collect(maps.Values(sum))
	slices.SortFunc(all, func(a, b *acc) int {
		if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
			return c
		}
		return labels.Compare(a.lbls, b.lbls)
	})
	out := make([]querier.Volume, 0, min(len(all), limit))
	for _, a := range all[:min(len(all), limit)] {
		out = append(out, querier.Volume{Labels: a.lbls.Map(), Bytes: a.bytes})
	}
	return out
}

// volumeQueries are the metric queries whose answers make
// index/volume_range: bytes_over_time per step, summed by the target
// labels (or the labels the selector names); with aggregateBy=labels,
// one query per label, whose series is {label=""}.
func volumeQueries(q string, target []string, aggregateBy string, step time.Duration) (names, queries []string, err error) {
	sel, err := syntax.ParseLogSelector(q)
	if err != nil {
		return nil, nil, err
	}
	by := target
	if len(by) == 0 {
		for _, m := range sel.Matchers {
			if !slices.Contains(by, m.Name) {
				by = append(by, m.Name)
			}
		}
	}
	s := syntax.CanonicalString(&syntax.LogSelectorExpr{Matchers: sel.Matchers})
	rng := promDuration(step)
	if aggregateBy == AggregateByLabels {
		for _, name := range by {
			names = append(names, name)
			queries = append(queries, fmt.Sprintf(`sum(bytes_over_time(%s | %s!="" [%s]))`, s, name, rng))
		}
		return names, queries, nil
	}
	return nil, []string{fmt.Sprintf(`sum by (%s) (bytes_over_time(%s [%s]))`, strings.Join(by, ", "), s, rng)}, nil
}

// VolumeRange returns index/volume_range: the volumes of Volume per step,
// as a matrix of at most Limit series (the largest in total).
func (f *Frontend) VolumeRange(ctx context.Context, t tenant.ID, r VolumeRequest, step time.Duration) (engine.Matrix, Stats, error) {
	if strings.TrimSpace(r.Query) == "" {
		return nil, Stats{}, badRequest("query is required")
	}
	if r.Limit <= 0 {
		r.Limit = DefaultVolumeLimit
	}
	if r.AggregateBy == "" {
		r.AggregateBy = AggregateBySeries
	}
	if r.AggregateBy != AggregateBySeries && r.AggregateBy != AggregateByLabels {
		return nil, Stats{}, badRequestf("invalid aggregation option: %s", r.AggregateBy)
	}
	names, qs, err := volumeQueries(r.Query, r.TargetLabels, r.AggregateBy, step)
	if err != nil {
		return nil, Stats{}, err
	}
	var total Stats
	var out engine.Matrix
	for i, q := range qs {
		res, err := f.Query(ctx, t, engine.Params{Query: q, Start: r.Start, End: r.End, Step: step})
		total = addStats(total, res.Stats)
		if err != nil {
			return nil, total, err
		}
		m, _ := res.Value.(engine.Matrix)
		for _, s := range m {
			if names != nil {
				s.Labels = labels.FromStrings(names[i], "")
			}
			out = append(out, s)
		}
	}
	sums := make([]float64, len(out))
	for i, s := range out {
		for _, p := range s.Points {
			sums[i] += p.V
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(sums[b], sums[a]) })
	kept := make(engine.Matrix, 0, min(len(out), r.Limit))
	for _, i := range idx[:min(len(idx), r.Limit)] {
		kept = append(kept, out[i])
	}
	slices.SortFunc(kept, func(a, b engine.Series) int { return labels.Compare(a.Labels, b.Labels) })
	return kept, total, nil
}
