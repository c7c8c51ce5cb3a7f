package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/agent/discovery"
	"github.com/kubemate/kmlog/agent/pipeline"
	"github.com/kubemate/kmlog/agent/ship"
	"github.com/kubemate/kmlog/agent/tail"
	"github.com/kubemate/kmlog/agent/wal"
	"github.com/kubemate/kmlog/format/labels"
)

// DiscoverFunc runs pod discovery for one kubernetes_sd_configs entry of
// the node's pods until ctx ends, calling send with each pod's target
// label sets under a source name (an empty list: the pod is gone). cmd/
// wires agent/kube here, so that this package stays free of client-go.
type DiscoverFunc func(ctx context.Context, sd config.KubernetesSDConfig, node string, send func(source string, targets []labels.Labels)) error

// Options are the agent's dependencies.
type Options struct {
	// Hostname is the node name ($HOSTNAME): kube discovery watches its
	// pods and __host__ labels are checked against it.
	Hostname string
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer receives every metric; Gatherer serves them on /metrics.
	// Both nil: a private registry with the Go and process collectors.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Discover runs kubernetes_sd_configs; nil makes a config that has
	// them an error.
	Discover DiscoverFunc
	// Transport replaces the shipping clients' HTTP transport (tests).
	Transport http.RoundTripper
	// Seed seeds backoff jitter and sampling; 0 picks one from the clock.
	Seed uint64
	// Now is the clock of entries no stage gives a time (default time.Now).
	Now func() time.Time
	// CommitInterval is how often positions are committed (default 1s).
	CommitInterval time.Duration
	// DropReportInterval is how often what limit stages dropped is
	// shipped as a drop report (see drops.go; default 10s).
	DropReportInterval time.Duration
}

// concurrentReads is how many files are read and run through the
// pipelines at once. The pipelines run one entry at a time anyway; more
// would only keep more read lines in memory while they wait, while a few
// let the WAL share an fsync between appends.
const concurrentReads = 32

// Agent is one assembled node agent. Create it with New, start it with
// Run once.
type Agent struct {
	cfg    config.Config
	opts   Options
	logger *slog.Logger

	jobs    map[string]*job
	jobList []*job
	pos     *tail.Positions
	wal     *wal.WAL
	// recordBytes bounds the lines of one WAL record (see append).
	recordBytes int64
	clients     []*ship.Client
	disc        *discovery.Manager
	tailCfg     tail.Config
	tailM       *tail.Metrics
	m           *metrics
	ln          net.Listener
	srv         *http.Server
	ready       atomic.Bool

	diffs    diffQueue
	exited   chan *file
	stopping chan struct{}
	tailers  sync.WaitGroup
	// outs pools the handlers' pipeline output slices (*[]pipeline.Entry):
	// a slice per file would keep a read's worth of entries per file.
	outs sync.Pool

	// flowMu covers every pipeline call together with the bookkeeping of
	// what the pipelines hold and what is on its way to the WAL, so that a
	// commit sees both consistently. It is never held across an Append.
	flowMu   sync.Mutex
	files    map[string]*file
	gens     map[uint64]*gen
	nextGen  uint64
	inflight map[uint64]map[uint64]int64 // batch → gen → smallest offset
	nextB    uint64

	drops *dropReport
}

type job struct {
	name string
	p    *pipeline.Pipeline
}

type metrics struct {
	files     prometheus.Gauge
	appendErr prometheus.Counter
	tooLarge  prometheus.Counter
}

// New builds the agent: pipelines, positions, WAL, shipping clients,
// discovery, and the HTTP listener (so that a port in use fails here).
// On error everything opened so far is closed.
func New(cfg config.Config, opts Options) (a *Agent, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil && opts.Gatherer == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
		opts.Registerer, opts.Gatherer = reg, reg
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = time.Second
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.DropReportInterval <= 0 {
		opts.DropReportInterval = 10 * time.Second
	}
	a = &Agent{
		cfg: cfg, opts: opts, logger: opts.Logger,
		jobs: map[string]*job{}, files: map[string]*file{}, gens: map[uint64]*gen{},
		inflight: map[uint64]map[uint64]int64{}, exited: make(chan *file), stopping: make(chan struct{}),
		drops: newDropReport(),
	}
	a.diffs.init()
	a.outs.New = func() any { return new([]pipeline.Entry) }
	f := promauto.With(opts.Registerer)
	a.m = &metrics{
		files: f.NewGauge(prometheus.GaugeOpts{
			Name: "kmlog_agent_active_files", Help: "Files being tailed.",
		}),
		appendErr: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_append_errors_total", Help: "WAL appends that failed; their lines are read again later.",
		}),
		tooLarge: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_too_large_entries_total",
			Help: "Entries dropped because one alone exceeds a WAL record (MaxRecordSize or half of wal max_size_bytes).",
		}),
	}
	a.tailM = tail.NewMetrics(opts.Registerer)
	a.tailCfg = tail.DefaultConfig()
	a.tailCfg.PollInterval = time.Duration(cfg.Global.FileWatchConfig.MinPollFrequency)
	a.tailCfg.Gate = tail.NewGate(concurrentReads)
	if cfg.LimitsConfig.MaxLineSize > 0 {
		a.tailCfg.MaxLineSize = int(cfg.LimitsConfig.MaxLineSize)
	}
	a.warnUnsupported()

	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	for i, sc := range cfg.ScrapeConfigs {
		if len(sc.KubernetesSDConfigs) > 0 && opts.Discover == nil {
			return nil, fmt.Errorf("scrape_configs[%d] (%s): kubernetes_sd_configs given but no pod discovery wired", i, sc.JobName)
		}
		p, err := pipeline.New(sc.PipelineStages, pipeline.Options{
			Logger: opts.Logger.With("job", sc.JobName), Registerer: opts.Registerer,
			Seed: opts.Seed + uint64(i), JobName: sc.JobName, OnDrop: a.drops.record,
		})
		if err != nil {
			return nil, fmt.Errorf("scrape_configs[%d] (%s): %w", i, sc.JobName, err)
		}
		j := &job{name: sc.JobName, p: p}
		a.jobs[sc.JobName] = j
		a.jobList = append(a.jobList, j)
	}

	clientCfgs, err := ClientConfigs(cfg)
	if err != nil {
		return nil, err
	}
	walCfg, err := WALConfig(cfg)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(clientCfgs))
	for i, c := range clientCfgs {
		names[i] = c.ClientName()
	}

	srvCfg := cfg.Server
	if !srvCfg.Disable {
		addr := net.JoinHostPort(srvCfg.HTTPListenAddress, strconv.Itoa(srvCfg.HTTPListenPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		a.ln = ln
		closers = append(closers, ln.Close)
	}

	pos, err := tail.OpenPositions(tail.PositionsConfig{
		Filename:          cfg.Positions.Filename,
		SyncPeriod:        time.Duration(cfg.Positions.SyncPeriod),
		IgnoreInvalidYAML: cfg.Positions.IgnoreInvalidYAML,
	}, opts.Logger)
	if err != nil {
		return nil, err
	}
	a.pos = pos
	closers = append(closers, pos.Close)

	w, err := wal.Open(walCfg, names, wal.Options{Logger: opts.Logger, Registerer: opts.Registerer})
	if err != nil {
		return nil, err
	}
	a.wal = w
	a.recordBytes = min(maxAppendBytes, walCfg.MaxSizeBytes/8)
	closers = append(closers, w.Close)

	for i, c := range clientCfgs {
		cl, err := ship.New(c, w, ship.Options{
			Logger: opts.Logger, Registerer: opts.Registerer, Transport: opts.Transport, Seed: opts.Seed + 1000 + uint64(i),
		})
		if err != nil {
			return nil, fmt.Errorf("clients[%d]: %w", i, err)
		}
		a.clients = append(a.clients, cl)
	}

	a.disc = discovery.New(cfg.ScrapeConfigs, discovery.Options{
		Hostname:   opts.Hostname,
		SyncPeriod: time.Duration(cfg.TargetConfig.SyncPeriod),
		Logger:     opts.Logger,
	}, a.diffs.push)
	return a, nil
}

func (a *Agent) warnUnsupported() {
	l := a.cfg.LimitsConfig
	if l.ReadlineRateEnabled {
		a.logger.Warn("limits_config.readline_rate_enabled is not applied")
	}
	if l.MaxStreams > 0 {
		a.logger.Warn("limits_config.max_streams is not applied")
	}
	if l.MaxLineSize > 0 && !l.MaxLineSizeTruncate {
		a.logger.Warn("limits_config.max_line_size: longer lines are truncated, not dropped")
	}
	if a.cfg.Positions.ReadOnly {
		a.logger.Warn("positions.readonly is not applied: positions are written")
	}
	for _, sc := range a.cfg.ScrapeConfigs {
		if sc.Encoding != "" {
			a.logger.Warn("scrape_configs encoding is not applied: files are read as UTF-8", "job", sc.JobName, "encoding", sc.Encoding)
		}
	}
}

// Addr returns the HTTP server's address, or nil when it is disabled.
func (a *Agent) Addr() net.Addr {
	if a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// Ready reports whether Run has started everything.
func (a *Agent) Ready() bool { return a.ready.Load() }

// Run runs the agent until ctx ends, then stops it as the package doc
// describes. It returns nil after a clean stop.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	a, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Run runs the agent until ctx ends. Call it once.
func (a *Agent) Run(ctx context.Context) error {
	var srvErr chan error
	if a.ln != nil {
		a.srv = &http.Server{
			Handler:           a.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Duration(a.cfg.Server.HTTPServerIdleTimeout),
		}
		srvErr = make(chan error, 1)
		go func() { srvErr <- a.srv.Serve(a.ln) }()
		a.logger.Info("agent listening", "addr", a.ln.Addr().String())
	}

	shipCtx, stopShip := context.WithCancel(context.WithoutCancel(ctx))
	defer stopShip()
	var shipWG sync.WaitGroup
	for _, c := range a.clients {
		shipWG.Go(func() {
			if err := c.Run(shipCtx); err != nil && !errors.Is(err, wal.ErrClosed) {
				a.logger.Error("shipping client stopped", "err", err)
			}
		})
	}
	posCtx, stopPos := context.WithCancel(context.WithoutCancel(ctx))
	var posWG sync.WaitGroup
	posWG.Go(func() { _ = a.pos.Run(posCtx) })

	// Everything below stops with ctx.
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var bg sync.WaitGroup
	bg.Go(func() { _ = a.disc.Run(ctx) })
	for _, sc := range a.cfg.ScrapeConfigs {
		for i, sd := range sc.KubernetesSDConfigs {
			prefix := "kube/" + strconv.Itoa(i) + "/"
			bg.Go(func() {
				err := a.opts.Discover(ctx, sd, a.opts.Hostname, func(source string, targets []labels.Labels) {
					if err := a.disc.Update(sc.JobName, prefix+source, targets); err != nil {
						a.logger.Error("discovery update", "err", err)
					}
				})
				if err != nil && ctx.Err() == nil {
					a.logger.Error("pod discovery stopped", "job", sc.JobName, "err", err)
				}
			})
		}
	}
	for _, j := range a.jobList {
		if iv := j.p.FlushInterval(); iv > 0 {
			bg.Go(func() { a.flushLoop(ctx, j, iv) })
		}
	}
	bg.Go(func() { a.reportDrops(ctx, a.opts.DropReportInterval) })
	a.ready.Store(true)
	a.logger.Info("agent started", "jobs", len(a.jobList), "clients", len(a.clients), "node", a.opts.Hostname)

	runErr := a.manage(ctx, srvErr)

	// Stop in reverse order.
	a.ready.Store(false)
	cancelRun()
	bg.Wait()
	a.stopTailers()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	for _, j := range a.jobList {
		a.flowMu.Lock()
		out := j.p.FlushAll(fctx, nil)
		b := a.startBatch(out)
		a.flowMu.Unlock()
		a.appendBatch(fctx, b, out)
	}
	a.shipDrops(fctx)
	cancel()
	a.commit()
	stopShip()
	shipWG.Wait()
	stopPos()
	posWG.Wait()
	errs := []error{runErr}
	if err := a.wal.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := a.pos.Close(); err != nil {
		errs = append(errs, err)
	}
	if a.srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = a.srv.Shutdown(sctx)
		cancel()
	}
	a.logger.Info("agent stopped")
	return errors.Join(errs...)
}

// flushLoop releases multiline blocks whose max_wait_time passed.
func (a *Agent) flushLoop(ctx context.Context, j *job, iv time.Duration) {
	t := time.NewTicker(iv)
	defer t.Stop()
	var out []pipeline.Entry
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.flowMu.Lock()
		out = j.p.Flush(ctx, a.opts.Now(), out[:0])
		b := a.startBatch(out)
		a.flowMu.Unlock()
		a.appendBatch(ctx, b, out)
		clear(out)
	}
}

// diffQueue is an unbounded queue of discovery diffs: discovery's send
// must not block on the agent.
type diffQueue struct {
	mu     sync.Mutex
	q      []discovery.Diff
	notify chan struct{}
}

func (q *diffQueue) init() { q.notify = make(chan struct{}, 1) }

func (q *diffQueue) push(d discovery.Diff) {
	q.mu.Lock()
	q.q = append(q.q, d)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *diffQueue) take() []discovery.Diff {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.q
	q.q = nil
	return out
}
