package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/kubemate/kmlog/agent/discovery"
	"github.com/kubemate/kmlog/agent/pipeline"
	"github.com/kubemate/kmlog/agent/tail"
	"github.com/kubemate/kmlog/agent/wal"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
)

// A file's life: new → running → draining (its last target went) →
// settling (its Tailer returned; waiting until nothing of it is held) →
// removed, or running again when a target came back.
type fileState int

const (
	stateNew fileState = iota
	stateRunning
	stateDraining
	stateSettling
)

func (s fileState) String() string {
	return [...]string{"new", "running", "draining", "settling"}[s]
}

// settleTimeout bounds how long a drained file waits for the pipeline to
// release its held lines (a partial CRI line that never got its end is
// held until shutdown): then its position stays before them.
const settleTimeout = 30 * time.Second

// target is what a file's lines get: the job's pipeline and the labels.
type target struct {
	job    *job
	labels labels.Labels
}

// file is one tailed path. Fields are guarded by Agent.flowMu, except
// exitErr (handed over with Agent.exited).
type file struct {
	path         string
	targets      map[string]discovery.Target // by Target.Key
	tgt          target
	state        fileState
	tailer       *tail.Tailer
	settleSince  time.Time
	gens         []*gen // oldest first; the last is being read
	committed    tail.Position
	hasCommitted bool
	// broken is set when an Append of the file's lines failed: nothing
	// more is committed for it until its Tailer is restarted.
	broken bool

	exitErr error
}

// gen is one file identity of a path, as read by one Tailer: the Source
// of the Origins of its lines.
type gen struct {
	id      uint64
	f       *file
	ident   tail.Identity
	readEnd int64 // offset just past the last line handed to the pipeline
}

// genFor returns the generation a line of identity id ending at off
// belongs to. A file truncated in place (copytruncate) keeps its identity
// but starts a new generation: its offsets start again, and the old
// generation's read end must not stand for the new content's lines.
// flowMu held.
func (a *Agent) genFor(f *file, id tail.Identity, off int64) *gen {
	if n := len(f.gens); n > 0 && f.gens[n-1].ident == id && off > f.gens[n-1].readEnd {
		return f.gens[n-1]
	}
	a.nextGen++
	g := &gen{id: a.nextGen, f: f, ident: id}
	a.gens[g.id] = g
	f.gens = append(f.gens, g)
	return g
}

// retire forgets f's generations before index i. flowMu held.
func (a *Agent) retire(f *file, i int) {
	for _, g := range f.gens[:i] {
		delete(a.gens, g.id)
	}
	f.gens = slices.Delete(f.gens, 0, i)
}

// handler is the Tailer's Handler for f: lines → pipeline → WAL.
func (a *Agent) handler(f *file) tail.Handler {
	return func(ctx context.Context, lines []tail.Line) error {
		now := a.opts.Now()
		a.flowMu.Lock()
		if f.broken {
			// An Append of lines of f failed outside this Tailer (the
			// flush loop, another file's batch): restart it from the
			// committed position so that they are read again.
			a.flowMu.Unlock()
			return errBroken
		}
		op := a.outs.Get().(*[]pipeline.Entry)
		t := f.tgt
		out := (*op)[:0]
		for _, l := range lines {
			g := a.genFor(f, l.ID, l.Offset)
			// The line's first byte: exact for a line that ended in a
			// newline; otherwise the previous line's end, which is not
			// later.
			start := l.Offset - int64(len(l.Text)) - 1
			if l.Truncated || start < g.readEnd {
				start = g.readEnd
			}
			out = t.job.p.Process(ctx, pipeline.Entry{
				Labels: t.labels, Timestamp: now, Line: l.Text,
				Origin: pipeline.Origin{Source: g.id, Offset: max(start, 0)},
			}, out)
			g.readEnd = l.Offset
		}
		b := a.startBatch(out)
		a.flowMu.Unlock()
		err := a.appendBatch(ctx, b, out)
		clear(out)
		*op = out[:0]
		a.outs.Put(op)
		return err
	}
}

// errBroken stops the Tailer of a file some of whose lines could not be
// appended to the WAL.
var errBroken = errors.New("earlier lines of the file were not appended to the wal")

// startBatch records the entries as on their way to the WAL, by the
// smallest offset per generation. flowMu held.
func (a *Agent) startBatch(out []pipeline.Entry) uint64 {
	if len(out) == 0 {
		return 0
	}
	a.nextB++
	m := make(map[uint64]int64, 1)
	for i := range out {
		o := out[i].Origin
		if cur, ok := m[o.Source]; !ok || o.Offset < cur {
			m[o.Source] = o.Offset
		}
	}
	a.inflight[a.nextB] = m
	return a.nextB
}

// appendBatch appends the batch's entries to the WAL and ends the batch.
// When that fails, the files whose lines it held commit nothing more
// until their Tailer restarts from the committed position.
func (a *Agent) appendBatch(ctx context.Context, b uint64, out []pipeline.Entry) error {
	if b == 0 {
		return nil
	}
	err := a.append(ctx, out)
	a.flowMu.Lock()
	if err != nil {
		for src := range a.inflight[b] {
			if g := a.gens[src]; g != nil {
				g.f.broken = true
			}
		}
	}
	delete(a.inflight, b)
	a.flowMu.Unlock()
	if err != nil {
		a.m.appendErr.Inc()
		return fmt.Errorf("append %d entries to the wal: %w", len(out), err)
	}
	return nil
}

// maxAppendBytes bounds one WAL record's lines; a bigger group is split.
// A small WAL bounds them further (Agent.recordBytes): it refuses records
// above half its max_size_bytes.
const maxAppendBytes = 4 << 20

// append groups entries by tenant and stream and appends each tenant's
// streams as WAL records.
func (a *Agent) append(ctx context.Context, out []pipeline.Entry) error {
	type group struct {
		streams []push.Stream
		index   map[string]int
		bytes   int
	}
	groups := map[string]*group{}
	var order []string
	var lastLabels labels.Labels
	lastKey := ""
	flush := func(tenant string, g *group) error {
		if len(g.streams) == 0 {
			return nil
		}
		err := a.appendStreams(ctx, tenant, g.streams)
		g.streams, g.index, g.bytes = nil, map[string]int{}, 0
		return err
	}
	for i := range out {
		e := &out[i]
		g := groups[e.Tenant]
		if g == nil {
			g = &group{index: map[string]int{}}
			groups[e.Tenant] = g
			order = append(order, e.Tenant)
		}
		if lastKey == "" || !labels.Equal(lastLabels, e.Labels) {
			// A label with an empty value (the labels stage keeps them, as
			// Promtail) means "absent" to Loki: it is not sent.
			lastLabels, lastKey = e.Labels, withoutEmpty(e.Labels).String()
		}
		si, ok := g.index[lastKey]
		if !ok {
			si = len(g.streams)
			g.index[lastKey] = si
			g.streams = append(g.streams, push.Stream{Labels: lastKey})
		}
		g.streams[si].Entries = append(g.streams[si].Entries, push.Entry{
			Timestamp: e.Timestamp.UnixNano(), Line: e.Line, Metadata: e.Metadata,
		})
		g.bytes += len(e.Line) + 16
		if int64(g.bytes) >= a.recordBytes {
			if err := flush(e.Tenant, g); err != nil {
				return err
			}
		}
	}
	for _, t := range order {
		if err := flush(t, groups[t]); err != nil {
			return err
		}
	}
	return nil
}

// appendStreams appends one tenant's streams as a WAL record. A record
// the WAL refuses as too large is split in two, down to single entries;
// an entry too large alone can never be stored and is dropped (counted),
// since refusing it would stop its file forever.
func (a *Agent) appendStreams(ctx context.Context, tenant string, streams []push.Stream) error {
	err := a.wal.Append(ctx, tenant, streams)
	if !errors.Is(err, wal.ErrTooLarge) {
		return err
	}
	var left, right []push.Stream
	switch {
	case len(streams) > 1:
		left, right = streams[:len(streams)/2], streams[len(streams)/2:]
	case len(streams[0].Entries) > 1:
		s, es := streams[0], streams[0].Entries
		left = []push.Stream{{Labels: s.Labels, Entries: es[:len(es)/2]}}
		right = []push.Stream{{Labels: s.Labels, Entries: es[len(es)/2:]}}
	default:
		a.m.tooLarge.Inc()
		a.logger.Error("dropping an entry too large for a wal record", "tenant", tenant,
			"labels", streams[0].Labels, "line_bytes", len(streams[0].Entries[0].Line))
		return nil
	}
	if err := a.appendStreams(ctx, tenant, left); err != nil {
		return err
	}
	return a.appendStreams(ctx, tenant, right)
}

// manage applies discovery diffs, restarts and retires Tailers, and
// commits positions, until ctx ends or the HTTP server fails.
func (a *Agent) manage(ctx context.Context, srvErr <-chan error) error {
	t := time.NewTicker(a.opts.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-srvErr:
			return fmt.Errorf("serve http: %w", err)
		case <-a.diffs.notify:
			for _, d := range a.diffs.take() {
				a.apply(ctx, d)
			}
		case f := <-a.exited:
			a.onExit(ctx, f)
		case <-t.C:
			a.commit()
			a.settle(ctx)
		}
	}
}

// apply updates the files named by a discovery diff.
func (a *Agent) apply(ctx context.Context, d discovery.Diff) {
	a.flowMu.Lock()
	touched := map[string]*file{}
	for _, t := range d.Removed {
		if f := a.files[t.Path]; f != nil {
			delete(f.targets, t.Key())
			touched[t.Path] = f
		}
	}
	for _, t := range d.Added {
		if _, ok := a.jobs[t.Job]; !ok {
			continue // cannot happen: discovery knows only our jobs
		}
		f := a.files[t.Path]
		if f == nil {
			f = &file{path: t.Path, targets: map[string]discovery.Target{}}
			a.files[t.Path] = f
		}
		f.targets[t.Key()] = t
		touched[t.Path] = f
	}
	var start []*file
	for _, f := range touched {
		if len(f.targets) == 0 {
			switch f.state {
			case stateRunning:
				f.state = stateDraining
				f.tailer.Drain()
			case stateNew:
				delete(a.files, f.path)
			}
			continue
		}
		keys := slices.Sorted(mapKeys(f.targets))
		t := f.targets[keys[0]]
		if len(keys) > 1 {
			a.logger.Warn("several targets name one file; using the first", "path", f.path, "targets", len(keys))
		}
		f.tgt = target{job: a.jobs[t.Job], labels: t.Labels}
		if f.state == stateNew {
			start = append(start, f)
		}
	}
	a.flowMu.Unlock()
	for _, f := range start {
		a.start(ctx, f)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// start runs a Tailer for f from its committed position.
func (a *Agent) start(ctx context.Context, f *file) {
	tl := tail.New(f.path, a.pos, a.tailCfg, a.tailM, a.logger)
	a.flowMu.Lock()
	a.retire(f, len(f.gens))
	f.broken = false
	f.tailer = tl
	f.state = stateRunning
	a.flowMu.Unlock()
	a.m.files.Inc()
	a.tailers.Go(func() {
		err := tl.Run(ctx, a.handler(f))
		f.exitErr = err
		select {
		case a.exited <- f:
		case <-a.stopping:
		}
	})
}

// onExit handles a Tailer that returned.
func (a *Agent) onExit(ctx context.Context, f *file) {
	a.m.files.Dec()
	a.flowMu.Lock()
	defer a.flowMu.Unlock()
	if err := f.exitErr; err != nil {
		a.logger.Warn("tailing stopped; restarting from the committed position", "path", f.path, "err", err)
		// Lines read since the last commit are read again.
		a.retire(f, len(f.gens))
		f.broken = false
	}
	if ctx.Err() == nil {
		f.state, f.settleSince = stateSettling, time.Now()
	}
}

// settle finishes files whose Tailer returned once nothing of them is
// held: a file with a target again is restarted, others are forgotten
// (and their position removed when the file is gone).
func (a *Agent) settle(ctx context.Context) {
	a.flowMu.Lock()
	var restart []*file
	for _, f := range a.files {
		if f.state != stateSettling {
			continue
		}
		if len(f.gens) > 0 && time.Since(f.settleSince) < settleTimeout {
			continue // commitFile keeps the generations that hold lines
		}
		a.retire(f, len(f.gens))
		if len(f.targets) > 0 {
			f.state = stateNew
			restart = append(restart, f)
			continue
		}
		delete(a.files, f.path)
		if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
			a.pos.Remove(f.path)
		}
	}
	a.flowMu.Unlock()
	for _, f := range restart {
		a.start(ctx, f)
	}
}

// commit commits, for every file, the position before its oldest line
// not yet in the WAL. The WAL is fsynced first (with sync "interval" an
// Append returns before that), so that no position is ever ahead of what
// the WAL holds durably.
func (a *Agent) commit() {
	type commitment struct {
		f *file
		p tail.Position
	}
	var todo []commitment
	a.flowMu.Lock()
	pending := map[uint64]int64{}
	add := func(o pipeline.Origin) {
		if cur, ok := pending[o.Source]; !ok || o.Offset < cur {
			pending[o.Source] = o.Offset
		}
	}
	for _, j := range a.jobList {
		j.p.Held(add)
	}
	for _, m := range a.inflight {
		for src, off := range m {
			add(pipeline.Origin{Source: src, Offset: off})
		}
	}
	for _, f := range a.files {
		if p, ok := a.commitFile(f, pending); ok {
			todo = append(todo, commitment{f, p})
		}
	}
	a.flowMu.Unlock()
	if len(todo) == 0 {
		return
	}
	if err := a.wal.Sync(); err != nil {
		a.logger.Error("sync the wal before committing positions", "err", err)
		return
	}
	a.flowMu.Lock()
	defer a.flowMu.Unlock()
	for _, c := range todo {
		a.pos.Commit(c.f.path, c.p.ID, c.p.Offset)
		c.f.committed, c.f.hasCommitted = c.p, true
	}
}

// commitFile returns f's position to commit, if it changed, and forgets
// the generations before it; when nothing of f is pending, only the last
// generation is kept, and a settling file keeps none. flowMu held.
func (a *Agent) commitFile(f *file, pending map[uint64]int64) (tail.Position, bool) {
	if f.broken || len(f.gens) == 0 {
		return tail.Position{}, false
	}
	var p tail.Position
	held := false
	for i, g := range f.gens {
		if off, ok := pending[g.id]; ok {
			p = tail.Position{ID: g.ident, Offset: off}
			if slices.ContainsFunc(f.gens[i+1:], func(n *gen) bool { return n.ident == g.ident }) {
				// Truncated in place since: the held lines cannot be read
				// again, and their offset would skip lines of the new
				// content. Its start is the position.
				p.Offset = 0
			}
			a.retire(f, i)
			held = true
			break
		}
	}
	if !held {
		g := f.gens[len(f.gens)-1]
		p = tail.Position{ID: g.ident, Offset: g.readEnd}
		if f.state == stateSettling {
			a.retire(f, len(f.gens))
		} else {
			a.retire(f, len(f.gens)-1)
		}
	}
	return p, !f.hasCommitted || p != f.committed
}

// stopTailers waits for every Tailer to return (ctx is cancelled).
func (a *Agent) stopTailers() {
	close(a.stopping)
	a.tailers.Wait()
}

// withoutEmpty returns ls without its empty-valued labels, ls itself when
// it has none.
func withoutEmpty(ls labels.Labels) labels.Labels {
	if !slices.ContainsFunc(ls, func(l labels.Label) bool { return l.Value == "" }) {
		return ls
	}
	return slices.DeleteFunc(slices.Clone(ls), func(l labels.Label) bool { return l.Value == "" })
}
