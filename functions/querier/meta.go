package querier

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/logql/syntax"
)

// matchersOf reads the selector of a labels, series, stats or volume
// request: empty (every stream), a bare selector, or a log selector
// whose pipeline is ignored.
func matchersOf(query string) ([]*labels.Matcher, error) {
	if query == "" {
		return nil, nil
	}
	ms, err := syntax.ParseMatchers(query)
	if err == nil {
		return ms, nil
	}
	if sel, err2 := syntax.ParseLogSelector(query); err2 == nil {
		return sel.Matchers, nil
	}
	return nil, err
}

// overlaps reports whether [lo, hi] meets the shard.
func (d *day) overlaps(lo, hi int64) bool { return hi >= d.from && lo < d.through }

// streams returns the distinct label sets of the day's streams that match
// ms and have entries in the shard, from the index and, when the request
// asks for recent data, from the ingesters: through RecentSeries when the
// Recent has it, otherwise through RecentQuery, which needs a selector,
// so that a request without matchers then sees only the bucket.
func (d *day) streams(ctx context.Context, ms []*labels.Matcher) ([]labels.Labels, error) {
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []labels.Labels
	add := func(ls labels.Labels) error {
		k := ls.String()
		if seen[k] {
			return nil
		}
		if lim := d.q.cfg.MaxLabelResults; lim > 0 && len(out) >= lim {
			return fmt.Errorf("%w: more than %d streams", ErrLimit, lim)
		}
		seen[k] = true
		out = append(out, ls)
		return nil
	}
	for _, f := range d.files {
		for i := range f.ix.Streams {
			s := &f.ix.Streams[i]
			if s.Rows == 0 || !d.overlaps(s.MinTime, s.MaxTime) || !labels.MatchLabels(s.Labels, ms...) {
				continue
			}
			if err := add(s.Labels); err != nil {
				return nil, err
			}
		}
	}
	rs, hasSeries := d.q.recent.(RecentSeries)
	if d.recent && d.q.recent != nil && (hasSeries || slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.MatchesEmpty() })) {
		rctx, cancel := context.WithTimeout(ctx, d.q.cfg.RecentTimeout)
		defer cancel()
		var ans *push.Request
		var err error
		if hasSeries {
			sel := ""
			if len(ms) > 0 {
				sel = selectorText(ms, nil)
			}
			ans, err = rs.RecentSeries(rctx, d.t, sel, d.from, d.through)
		} else {
			ans, err = d.q.recent.RecentQuery(rctx, d.t, selectorText(ms, nil), d.from, d.through, 0, false)
		}
		if pe, ok := errors.AsType[*PartialError](err); ok && ans != nil {
			d.c.ingesterFailures.Add(int64(pe.Failed))
			d.q.logger.Warn("ingesters failed, answer complete from replicas", "tenant", string(d.t), "failed", pe.Failed, "total", pe.Total, "err", pe.Err)
		} else if err != nil {
			return nil, fmt.Errorf("query ingesters: %w", err)
		}
		for _, s := range ans.Streams {
			if len(s.Entries) == 0 && !hasSeries {
				continue
			}
			d.c.ingesterEntries.Add(int64(len(s.Entries)))
			ls, err := s.ParseLabels()
			if err != nil {
				return nil, fmt.Errorf("query ingesters: stream %q: %w", s.Labels, err)
			}
			if !labels.MatchLabels(ls, ms...) {
				continue
			}
			if err := add(ls); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, labels.Compare)
	return out, nil
}

func (d *day) labelNames(ctx context.Context, query string) ([]string, error) {
	ms, err := matchersOf(query)
	if err != nil {
		return nil, err
	}
	ss, err := d.streams(ctx, ms)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, ls := range ss {
		for _, l := range ls {
			set[l.Name] = true
		}
	}
	return sortedKeys(set), nil
}

func (d *day) labelValues(ctx context.Context, query, name string) ([]string, error) {
	ms, err := matchersOf(query)
	if err != nil {
		return nil, err
	}
	ss, err := d.streams(ctx, ms)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, ls := range ss {
		if v := ls.Get(name); v != "" {
			set[v] = true
		}
	}
	return sortedKeys(set), nil
}

func (d *day) series(ctx context.Context, query string) ([]map[string]string, error) {
	ms, err := matchersOf(query)
	if err != nil {
		return nil, err
	}
	ss, err := d.streams(ctx, ms)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(ss))
	for i, ls := range ss {
		out[i] = ls.Map()
	}
	return out, nil
}

// eachBlock calls fn for every block of a stream matching ms that
// overlaps the shard, over every index object of the day, and, when the
// request asks for recent data, once for each matching stream the
// ingesters hold entries of in the shard (their unflushed data, as Loki's
// index stats and volume include the ingesters').
func (d *day) eachBlock(ctx context.Context, ms []*labels.Matcher, fn func(ls labels.Labels, rows, lineBytes int64)) error {
	if err := d.load(ctx); err != nil {
		return err
	}
	// stored is the newest stored entry of each matching stream: an
	// ingester entry no newer was flushed already and is not counted again.
	stored := map[string]int64{}
	for _, f := range d.files {
		for i := range f.ix.Streams {
			s := &f.ix.Streams[i]
			if !d.overlaps(s.MinTime, s.MaxTime) || !labels.MatchLabels(s.Labels, ms...) {
				continue
			}
			if k := s.Labels.String(); s.MaxTime > stored[k] {
				stored[k] = s.MaxTime
			}
			for _, b := range s.Blocks {
				if d.overlaps(b.MinTime, b.MaxTime) {
					fn(s.Labels, b.Rows, b.LineBytes)
				}
			}
		}
	}
	if !d.recent || d.q.recent == nil || !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.MatchesEmpty() }) {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, d.q.cfg.RecentTimeout)
	defer cancel()
	ans, err := d.q.recent.RecentQuery(rctx, d.t, selectorText(ms, nil), d.from, d.through, 0, false)
	if pe, ok := errors.AsType[*PartialError](err); ok && ans != nil {
		d.c.ingesterFailures.Add(int64(pe.Failed))
		d.q.logger.Warn("ingesters failed, answer complete from replicas", "tenant", string(d.t), "failed", pe.Failed, "total", pe.Total, "err", pe.Err)
	} else if err != nil {
		return fmt.Errorf("query ingesters: %w", err)
	}
	// Replicas answer the same entries: count each (stream, time, line) once.
	type entryKey struct {
		stream string
		ts     int64
		line   string
	}
	seen := map[entryKey]bool{}
	for _, s := range ans.Streams {
		ls, err := s.ParseLabels()
		if err != nil {
			return fmt.Errorf("query ingesters: stream %q: %w", s.Labels, err)
		}
		if !labels.MatchLabels(ls, ms...) {
			continue
		}
		key := ls.String()
		newest, flushed := stored[key]
		var rows, size int64
		for _, e := range s.Entries {
			k := entryKey{key, e.Timestamp, e.Line}
			if seen[k] {
				continue
			}
			seen[k] = true
			if d.overlaps(e.Timestamp, e.Timestamp) && (!flushed || e.Timestamp > newest) {
				rows++
				size += int64(len(e.Line))
			}
		}
		if rows > 0 {
			d.c.ingesterEntries.Add(rows)
			fn(ls, rows, size)
		}
	}
	return nil
}

// indexStats answers as Loki's index/stats does, from the index alone:
// the matching streams with data in the shard, their blocks (Loki's
// chunks) that overlap it, those blocks' rows and line bytes. Replicated
// copies not yet compacted count as often as they are stored.
func (d *day) indexStats(ctx context.Context, query string) (*IndexStats, error) {
	ms, err := matchersOf(query)
	if err != nil {
		return nil, err
	}
	st := &IndexStats{}
	streams := map[string]bool{}
	err = d.eachBlock(ctx, ms, func(ls labels.Labels, rows, lineBytes int64) {
		streams[ls.String()] = true
		st.Chunks++
		st.Entries += uint64(rows)
		st.Bytes += uint64(lineBytes)
	})
	if err != nil {
		return nil, err
	}
	st.Streams = uint64(len(streams))
	return st, nil
}

// volume answers as Loki's index/volume does, from the index alone: line
// bytes of the blocks overlapping the shard, summed by label set. With
// aggregate_by "series" (the default) a stream counts under its labels
// restricted to targets, or, without targets, to the names the selector
// mentions; with "labels" it counts once under each of those names
// ({name=""}), every name of the stream when there are neither targets
// nor matchers.
func (d *day) volume(ctx context.Context, query string, targets []string, aggregateBy string) ([]Volume, error) {
	ms, err := matchersOf(query)
	if err != nil {
		return nil, err
	}
	names := targets
	if len(names) == 0 {
		for _, m := range ms {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	byKey := map[string]*Volume{}
	var order []string
	limitErr := error(nil)
	bump := func(ls labels.Labels, n int64) {
		k := ls.String()
		v, ok := byKey[k]
		if !ok {
			if lim := d.q.cfg.MaxLabelResults; lim > 0 && len(byKey) >= lim {
				limitErr = fmt.Errorf("%w: more than %d volumes", ErrLimit, lim)
				return
			}
			v = &Volume{Labels: ls.Map()}
			byKey[k] = v
			order = append(order, k)
		}
		v.Bytes += uint64(n)
	}
	switch aggregateBy {
	case "", "series":
		err = d.eachBlock(ctx, ms, func(ls labels.Labels, _, lineBytes int64) {
			key := ls
			if len(names) > 0 {
				key = ls.Only(names...)
			}
			if len(key) > 0 {
				bump(key, lineBytes)
			}
		})
	case "labels":
		err = d.eachBlock(ctx, ms, func(ls labels.Labels, _, lineBytes int64) {
			for _, l := range ls {
				if len(names) == 0 || slices.Contains(names, l.Name) {
					bump(labels.FromStrings(l.Name, ""), lineBytes)
				}
			}
		})
	default:
		return nil, fmt.Errorf("%w: aggregate_by %q, want series or labels", ErrBadRequest, aggregateBy)
	}
	if err != nil {
		return nil, err
	}
	if limitErr != nil {
		return nil, limitErr
	}
	slices.Sort(order)
	out := make([]Volume, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	slices.SortStableFunc(out, func(a, b Volume) int {
		switch {
		case a.Bytes > b.Bytes:
			return -1
		case a.Bytes < b.Bytes:
			return 1
		}
		return 0
	})
	return out, nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
