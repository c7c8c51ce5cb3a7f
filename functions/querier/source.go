package querier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

// counters are the cost of one invocation, filled concurrently.
type counters struct {
	indexObjects, dataObjects         atomic.Int64
	bytesStored                       atomic.Int64
	cacheHits, cacheMisses            atomic.Int64
	blocksTotal, blocksSkipped        atomic.Int64
	linesScanned, bytesScanned        atomic.Int64
	ingesterEntries, ingesterFailures atomic.Int64
}

// dayFile is one data file of the day and its index.
type dayFile struct {
	dataKey string
	ix      *index.Index
}

// day reads one tenant's day for one invocation: the engine.Source of a
// query, and the index walk of the label, series, stats and volume
// requests. It lists and decodes the day's index objects once, on first
// use. It is used from one goroutine.
type day struct {
	q             *Querier
	t             tenant.ID
	d             objkey.Day
	bkt           bucket.Bucket // metered and bounded
	c             *counters
	from, through int64 // the shard, inside the day

	recent         bool // ask the ingesters
	recentLimit    int  // > 0: a limit the ingesters may apply
	recentBackward bool

	loaded bool
	files  []dayFile
	del    *engine.Deleter // lines of delete requests to hide, nil: none
}

// load lists the day's index objects and decodes (or takes from the
// cache) each one, in parallel.
func (d *day) load(ctx context.Context) error {
	if d.loaded {
		return nil
	}
	vfs, del, err := d.view(ctx)
	if err != nil {
		return err
	}
	d.del = del
	files := make([]dayFile, len(vfs))
	errs := make([]error, len(vfs))
	sem := make(chan struct{}, d.q.cfg.MaxParallelReads)
	var wg sync.WaitGroup
	for i, vf := range vfs {
		key := vf.indexKey
		files[i].dataKey = vf.dataKey
		if ix, ok := d.q.cache.get(key); ok {
			d.c.cacheHits.Add(1)
			files[i].ix = ix
			continue
		}
		d.c.cacheMisses.Add(1)
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			b, err := bucket.ReadAll(ctx, d.bkt, key)
			if err != nil {
				errs[i] = fmt.Errorf("read index %s: %w", key, err)
				return
			}
			ix, err := index.Decode(b)
			if err != nil {
				errs[i] = fmt.Errorf("decode index %s: %w", key, err)
				return
			}
			d.q.cache.add(key, ix, int64(len(b)))
			files[i].ix = ix
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, f := range files {
		d.c.bytesStored.Add(f.ix.DataSize)
	}
	d.c.indexObjects.Add(int64(len(files)))
	d.files, d.loaded = files, true
	return nil
}

// clip bounds [from, through) by the shard.
func (d *day) clip(from, through int64) (int64, int64) {
	return max(from, d.from), min(through, d.through)
}

// indexLiterals are the literals the token filters are asked about.
func (d *day) indexLiterals(lits []string) []string {
	if !d.q.cfg.DelimitedIDs {
		return lits
	}
	out := make([]string, len(lits))
	for i, l := range lits {
		out[i] = l
		if looksLikeID(l) {
			out[i] = " " + l + " "
		}
	}
	return out
}

// looksLikeID reports a bare trace or span id: 16 or more hex digits.
func looksLikeID(s string) bool {
	if len(s) < 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// streamTable numbers label sets in label order for one Select.
type streamTable struct {
	byKey map[string]int
	sets  []labels.Labels
}

func (st *streamTable) add(ls labels.Labels) int {
	k := ls.String()
	if i, ok := st.byKey[k]; ok {
		return i
	}
	st.byKey[k] = len(st.sets)
	st.sets = append(st.sets, ls)
	return len(st.sets) - 1
}

// sorted returns the label sets in label order and the gid of each
// insertion number.
func (st *streamTable) sorted() ([]labels.Labels, []int32) {
	order := make([]int, len(st.sets))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return labels.Compare(st.sets[a], st.sets[b]) })
	out := make([]labels.Labels, len(order))
	gid := make([]int32, len(order))
	for g, i := range order {
		out[g] = st.sets[i]
		gid[i] = int32(g)
	}
	return out, gid
}

type recentAnswer struct {
	req *push.Request
	err error
}

// Select implements engine.Source over the day's files and, when asked,
// the ingesters.
func (d *day) Select(ctx context.Context, req engine.SelectRequest) iter.Seq2[engine.Entry, error] {
	return func(yield func(engine.Entry, error) bool) {
		from, through := d.clip(req.From, req.Through)
		if from >= through {
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var recentCh chan recentAnswer
		if d.recent && d.q.recent != nil {
			recentCh = make(chan recentAnswer, 1)
			go func() {
				rctx, cancel := context.WithTimeout(ctx, d.q.cfg.RecentTimeout)
				defer cancel()
				sel := selectorText(req.Matchers, req.LineFilterLiterals)
				r, err := d.q.recent.RecentQuery(rctx, d.t, sel, from, through, d.recentLimit, d.recentBackward)
				recentCh <- recentAnswer{r, err}
			}()
		}
		if err := d.load(ctx); err != nil {
			yield(engine.Entry{}, err)
			return
		}

		// Plan every file and number the streams to read.
		type planned struct {
			f     *dayFile
			sel   datafile.Selection
			local []int32 // file stream id -> insertion number, then gid
		}
		var plans []planned
		st := &streamTable{byKey: map[string]int{}}
		q := index.Query{Matchers: req.Matchers, From: from, Through: through,
			Literals: d.indexLiterals(req.LineFilterLiterals), Columns: datafile.AllColumns}
		for i := range d.files {
			f := &d.files[i]
			if f.ix.Rows == 0 || f.ix.MaxTime < from || f.ix.MinTime >= through {
				continue
			}
			p := f.ix.Select(q)
			skipped := int64(p.SkippedTime + p.SkippedFilter)
			d.c.blocksTotal.Add(int64(len(p.Blocks)) + skipped)
			d.c.blocksSkipped.Add(skipped)
			if len(p.Blocks) == 0 {
				continue
			}
			local := make([]int32, len(f.ix.Streams))
			for j := range local {
				local[j] = -1
			}
			for _, b := range p.Blocks {
				if local[b.Stream] < 0 {
					local[b.Stream] = int32(st.add(f.ix.Streams[b.Stream].Labels))
				}
			}
			plans = append(plans, planned{f: f, sel: p.Selection(), local: local})
		}

		// The ingesters' answer, flattened into rows.
		var recentRows []row
		var recentIdx []int // insertion number of each row's stream
		if recentCh != nil {
			var a recentAnswer
			select {
			case a = <-recentCh:
			case <-ctx.Done():
				yield(engine.Entry{}, ctx.Err())
				return
			}
			if pe, ok := errors.AsType[*PartialError](a.err); ok && a.req != nil {
				d.c.ingesterFailures.Add(int64(pe.Failed))
				d.q.logger.Warn("ingesters failed, answer complete from replicas", "tenant", string(d.t), "failed", pe.Failed, "total", pe.Total, "err", pe.Err)
			} else if a.err != nil {
				yield(engine.Entry{}, fmt.Errorf("query ingesters: %w", a.err))
				return
			}
			for _, s := range a.req.Streams {
				ls, err := s.ParseLabels()
				if err != nil {
					yield(engine.Entry{}, fmt.Errorf("query ingesters: stream %q: %w", s.Labels, err))
					return
				}
				if !labels.MatchLabels(ls, req.Matchers...) {
					continue
				}
				idx := -1
				for _, e := range s.Entries {
					if e.Timestamp < from || e.Timestamp >= through {
						continue
					}
					if idx < 0 {
						idx = st.add(ls)
					}
					recentRows = append(recentRows, row{ts: e.Timestamp, line: unsafe.Slice(unsafe.StringData(e.Line), len(e.Line)), md: e.Metadata})
					recentIdx = append(recentIdx, idx)
				}
			}
			d.c.ingesterEntries.Add(int64(len(recentRows)))
		}

		streams, gids := st.sorted()
		var cursors []cursor
		if len(recentRows) > 0 {
			for i := range recentRows {
				recentRows[i].gid = gids[recentIdx[i]]
			}
			slices.SortFunc(recentRows, func(a, b row) int { return compareRows(&a, &b) })
			cursors = append(cursors, &sliceCursor{rows: recentRows, i: -1})
		}

		// One goroutine per file decodes its rows; GETs are bounded by
		// the bucket wrapper, so all files progress and the merge never
		// waits on a file that waits for a slot.
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		for _, p := range plans {
			for j, l := range p.local {
				if l >= 0 {
					p.local[j] = gids[l]
				}
			}
			d.c.dataObjects.Add(1)
			out := make(chan *batch, 2)
			free := make(chan *batch, 3)
			var perr error
			f := p.f
			wg.Go(func() {
				defer close(out)
				ra := bucket.NewReaderAt(ctx, d.bkt, f.dataKey, f.ix.DataSize)
				rd, err := datafile.Open(ctx, ra, f.ix.DataSize, datafile.OpenOptions{Tail: f.ix.Tail})
				if err != nil {
					perr = fmt.Errorf("open %s: %w", f.dataKey, err)
					return
				}
				if err := produce(ctx, rd, p.sel, p.local, out, free); err != nil {
					perr = fmt.Errorf("read %s: %w", f.dataKey, err)
				}
			})
			cursors = append(cursors, &fileCursor{in: out, free: free, i: -1, done: func() error { return perr }})
		}
		for e, err := range merge(ctx, cursors, streams, func(n, b int64) {
			d.c.linesScanned.Add(n)
			d.c.bytesScanned.Add(b)
		}) {
			if err == nil && d.del != nil && d.del.Deleted(e.Labels, e.Timestamp, e.Line, e.Metadata) {
				continue
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// selectorText writes matchers and |= literals as a LogQL log selector.
func selectorText(ms []*labels.Matcher, lits []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.String())
	}
	b.WriteByte('}')
	for _, l := range lits {
		b.WriteString(" |= ")
		b.WriteString(strconv.Quote(l))
	}
	return b.String()
}

// limitedBucket bounds the GETs in flight: a slot is held from the call
// until the body is closed.
type limitedBucket struct {
	bucket.Bucket
	sem chan struct{}
}

func (l *limitedBucket) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limitedBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	rc, err := l.Bucket.Get(ctx, key)
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &releaseCloser{ReadCloser: rc, sem: l.sem}, nil
}

func (l *limitedBucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	rc, err := l.Bucket.GetRange(ctx, key, off, length)
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &releaseCloser{ReadCloser: rc, sem: l.sem}, nil
}

type releaseCloser struct {
	io.ReadCloser
	sem  chan struct{}
	once sync.Once
}

func (r *releaseCloser) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(func() { <-r.sem })
	return err
}
