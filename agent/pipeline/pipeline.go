package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/labels"
)

// Entry is one log entry moving through a pipeline.
type Entry struct {
	// Labels are the stream labels. Stages never modify the slice in
	// place: they replace it, so a caller may share one slice between
	// entries.
	Labels labels.Labels
	// Timestamp is the entry's time; cri, docker and timestamp set it.
	Timestamp time.Time
	// Line is the log line.
	Line string
	// Metadata is the structured metadata (the structured_metadata stage).
	Metadata labels.Labels
	// Tenant is set by the tenant stage; empty means the shipper's
	// default tenant. It is not validated here.
	Tenant string
	// Extracted is the extracted map shared by the stages of one entry.
	// Process fills it with the entry's labels before the first stage, as
	// Promtail does. Values are string, float64, bool or nil.
	Extracted map[string]any
	// Origin is the caller's mark of where the entry came from. Stages
	// carry it along; an entry joined from several (a multiline block,
	// partial CRI lines) carries the Origin of its oldest part. See Held.
	Origin Origin
}

// Origin marks where an entry came from, for the caller: the agent puts a
// file (Source) and the offset of the line's first byte there, so that it
// can tell which lines the pipeline still holds. The pipeline never
// interprets it.
type Origin struct {
	Source uint64
	Offset int64
}

// Options are a pipeline's dependencies. The zero value is usable.
type Options struct {
	// Logger receives configuration warnings; nil discards them.
	Logger *slog.Logger
	// Registerer receives the drop counter and the metrics stage's
	// metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now): multiline arrival times,
	// drop's older_than, pack's ingest_timestamp, limit's token bucket and
	// year-less timestamp formats read it.
	Now func() time.Time
	// Seed seeds the sampling stage's random source; 0 picks one from the
	// clock.
	Seed uint64
	// JobName prefixes a match stage's pipeline_name, as in Promtail.
	JobName string
	// OnDrop, when set, hears of every entry a limit stage drops, with
	// its labels and tenant as they are at that stage, so that the agent
	// can report storms per stream (see agent/agent's drop report). It is
	// called on the pipeline's goroutine and must not keep e.
	OnDrop func(e *Entry, reason string)
}

// Drop reasons counted by kmlog_agent_dropped_entries_total{reason}. They
// are Promtail's reason values; drop, match and sampling stages may name
// their own with drop_counter_reason.
const (
	ReasonDropStage     = "drop_stage"
	ReasonMatchStage    = "match_stage"
	ReasonSamplingStage = "sampling_stage"
	ReasonRateLimit     = "ratelimit_drop_stage"
	ReasonMalformedJSON = "json_malformed"
)

// emitFunc passes an entry on to the rest of the pipeline.
type emitFunc func(ctx context.Context, e *Entry)

// stage is one configured step. bind gives it the function that receives
// what it emits; run is called for every entry that reaches it.
type stage interface {
	bind(next emitFunc)
	run(ctx context.Context, e *Entry)
}

// flusher is a stage that holds entries back (multiline, cri partial
// lines, and match around them). flush emits what is due at now, or
// everything when force is set.
type flusher interface {
	flush(ctx context.Context, now time.Time, force bool)
	// pending reports whether anything is held.
	pending() bool
	// held calls fn with the Origin of every entry held.
	held(fn func(Origin))
}

// Pipeline runs the stages of one pipeline_stages list. It is safe for
// concurrent use: calls are serialised, since stages keep per-stream state
// that must see a stream's lines in order.
type Pipeline struct {
	mu     sync.Mutex
	opts   Options
	stages []stage
	head   emitFunc
	out    []Entry // Process's destination during a call
	drops  *prometheus.CounterVec
	// minWait is the shortest multiline max_wait_time, 0 without one.
	minWait time.Duration
}

// New builds a pipeline from the items of a pipeline_stages YAML list.
// Each item is a mapping with one key, the stage name. Unknown stages,
// unknown keys and invalid values are *ConfigError values naming the stage
// and the key.
func New(stages []yaml.Node, opts Options) (*Pipeline, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Pipeline{opts: opts}
	drops, err := dropCounter(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p.drops = drops
	b := &builder{p: p}
	st, err := b.buildList(stages, "pipeline_stages")
	if err != nil {
		return nil, err
	}
	p.stages = st
	p.minWait = b.minWait
	p.head = chain(st, func(_ context.Context, e *Entry) { p.out = append(p.out, *e) })
	return p, nil
}

// Parse builds a pipeline from YAML text holding a pipeline_stages list
// (the list itself, not a mapping around it).
func Parse(text []byte, opts Options) (*Pipeline, error) {
	var nodes []yaml.Node
	if err := yaml.Unmarshal(text, &nodes); err != nil {
		return nil, &ConfigError{Path: "pipeline_stages", Err: err}
	}
	return New(nodes, opts)
}

// chain binds stages in order and returns the function that feeds the
// first one; with no stages it returns last.
func chain(st []stage, last emitFunc) emitFunc {
	next := last
	for i := len(st) - 1; i >= 0; i-- {
		st[i].bind(next)
		next = st[i].run
	}
	return next
}

// initExtracted copies the labels into the extracted map, as Promtail does
// when an entry enters a pipeline, so that stages can read them.
func initExtracted(e *Entry) {
	if e.Extracted == nil {
		e.Extracted = make(map[string]any, len(e.Labels)+8)
	}
	for _, l := range e.Labels {
		e.Extracted[l.Name] = l.Value
	}
}

// Process runs e through the stages and appends what comes out to dst:
// nothing when a stage dropped it or holds it (multiline, partial CRI
// lines), several entries when it completes or flushes held ones. A
// limit stage without drop blocks until its bucket has a token or ctx is
// done (the entry then passes).
func (p *Pipeline) Process(ctx context.Context, e Entry, dst []Entry) []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = dst
	initExtracted(&e)
	p.head(ctx, &e)
	dst, p.out = p.out, nil
	return dst
}

// Flush emits the multiline blocks whose stream has had no line for
// max_wait_time at now, running them through the rest of the pipeline,
// and appends the results to dst. Call it periodically (FlushInterval).
func (p *Pipeline) Flush(ctx context.Context, now time.Time, dst []Entry) []Entry {
	return p.flush(ctx, now, false, dst)
}

// FlushAll emits every held entry — multiline blocks and partial CRI
// lines — for example at shutdown or when a file is closed.
func (p *Pipeline) FlushAll(ctx context.Context, dst []Entry) []Entry {
	return p.flush(ctx, p.opts.Now(), true, dst)
}

// FlushEnd is what Promtail does when its input ends (a dry run over
// stdin): held multiline blocks come out; a partial CRI line still
// waiting for its final part is dropped.
func (p *Pipeline) FlushEnd(ctx context.Context, dst []Entry) []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = dst
	now := p.opts.Now()
	for _, s := range p.stages {
		if _, cri := s.(*criStage); cri {
			continue
		}
		if f, ok := s.(flusher); ok {
			f.flush(ctx, now, true)
		}
	}
	dst, p.out = p.out, nil
	return dst
}

func (p *Pipeline) flush(ctx context.Context, now time.Time, force bool, dst []Entry) []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = dst
	for _, s := range p.stages {
		if f, ok := s.(flusher); ok {
			f.flush(ctx, now, force)
		}
	}
	dst, p.out = p.out, nil
	return dst
}

// Held calls fn with the Origin of every entry the pipeline holds back
// (each multiline block and partial CRI line, by its oldest line). Lines
// from an Origin on may not have come out of Process yet; lines of the
// same Source before the smallest such Origin have. fn must not call the
// Pipeline.
func (p *Pipeline) Held(fn func(Origin)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stages {
		if f, ok := s.(flusher); ok {
			f.held(fn)
		}
	}
}

// Pending reports whether the pipeline holds any entry back.
func (p *Pipeline) Pending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stages {
		if f, ok := s.(flusher); ok && f.pending() {
			return true
		}
	}
	return false
}

// FlushInterval is how often Flush should run: half the shortest
// multiline max_wait_time, or 0 when no stage waits.
func (p *Pipeline) FlushInterval() time.Duration { return p.minWait / 2 }

// Run feeds the entries of in through the pipeline and sends the results
// to out until in is closed (it then flushes everything) or ctx is done.
// It calls Flush every FlushInterval. It returns ctx's error, or nil after
// in is closed.
func (p *Pipeline) Run(ctx context.Context, in <-chan Entry, out chan<- Entry) error {
	var tick <-chan time.Time
	if iv := p.FlushInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	var buf []Entry
	send := func() error {
		for _, e := range buf {
			select {
			case out <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		clear(buf)
		buf = buf[:0]
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-in:
			if !ok {
				buf = p.FlushAll(ctx, buf)
				return send()
			}
			buf = p.Process(ctx, e, buf)
		case <-tick:
			buf = p.Flush(ctx, p.opts.Now(), buf)
		}
		if err := send(); err != nil {
			return err
		}
	}
}

// dropCounter returns kmlog_agent_dropped_entries_total, shared by every
// pipeline on one registry.
func dropCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kmlog_agent_dropped_entries_total",
		Help: "Log entries dropped by a pipeline stage, by reason.",
	}, []string{"reason"})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, &ConfigError{Path: "pipeline_stages", Err: err}
	}
	return c, nil
}
