package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kubemate/kmlog/console"
	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/compactor"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/knative"
	"github.com/kubemate/kmlog/functions/lambda"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/ingestgw/distributor"
	"github.com/kubemate/kmlog/ingestgw/gateway"
	"github.com/kubemate/kmlog/ingestgw/ingester"
	"github.com/kubemate/kmlog/ingestgw/limits"
	"github.com/kubemate/kmlog/ingestgw/ring"
	"github.com/kubemate/kmlog/logql/syntax"
)

// server is what every target shares: registry, readiness and the HTTP
// listener. Components register stop functions, run in reverse order.
type server struct {
	cfg    Config
	logger *slog.Logger
	reg    *prometheus.Registry
	ready  []func() bool
	stops  []func(context.Context) error
}

func newServer(cfg Config, logger *slog.Logger) *server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &server{cfg: cfg, logger: logger, reg: reg}
}

func (s *server) onStop(f func(context.Context) error) { s.stops = append(s.stops, f) }

func (s *server) isReady() bool {
	for _, r := range s.ready {
		if !r() {
			return false
		}
	}
	return true
}

func (s *server) readyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.isReady() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

func (s *server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// openBucket opens the configured object store.
func openBucket(ctx context.Context, cfg StorageConfig, logger *slog.Logger) (bucket.Bucket, error) {
	switch cfg.Backend {
	case "s3":
		return s3.New(ctx, cfg.S3, logger)
	default:
		return bucket.NewDir(cfg.Dir)
	}
}

// startIngester opens the WAL and the ingester and replays the WAL.
func (s *server) startIngester(ctx context.Context, bkt bucket.Bucket, lim *limits.Overrides, ringSize func() int) (*ingester.Ingester, error) {
	ing, err := ingester.Open(s.cfg.Ingester.Config, bkt, lim, ringSize, s.logger, s.reg)
	if err != nil {
		return nil, err
	}
	s.ready = append(s.ready, ing.Ready)
	if err := ing.Start(ctx); err != nil {
		_ = ing.Stop(ctx)
		return nil, err
	}
	s.onStop(func(ctx context.Context) error { return ing.Stop(ctx) })
	return ing, nil
}

// inProcess reaches ingesters of this process by member name.
type inProcess map[string]*ingester.Ingester

func (p inProcess) Ingester(member string) (distributor.Ingester, error) {
	ing, ok := p[member]
	if !ok {
		return nil, fmt.Errorf("no in-process ingester %q", member)
	}
	return ing, nil
}

// runtimeOf says how this process is run: as an AWS Lambda function, as a
// Knative Service, or as a plain server.
func runtimeOf() string {
	switch {
	case lambda.Detect(os.Getenv):
		return "lambda"
	case knative.Detect(os.Getenv):
		return "knative"
	}
	return "server"
}

// run is the common tail of every target: serve until ctx ends, then stop
// everything in reverse order. On Lambda the handler answers invocations
// (the runtime owns the process from then on); on Knative it is served
// with the runtime contract: $PORT, health endpoints, SIGTERM draining.
func (s *server) run(ctx context.Context, h http.Handler) error {
	switch runtimeOf() {
	case "lambda":
		s.logger.Info("kmlog started", "version", version, "target", s.cfg.Target, "runtime", "lambda")
		// The runtime loop never returns; SIGTERM (Lambda sends it before
		// shutting an environment down) stops the components and exits.
		go lambda.Start(ctx, lambda.HTTPHandler(h))
		<-ctx.Done()
		s.logger.Info("kmlog stopping")
		return s.stopAll()
	case "knative":
		kcfg, err := knative.ConfigFromEnv(os.Environ())
		if err != nil {
			return fmt.Errorf("knative: %w", err)
		}
		s.logger.Info("kmlog started", "version", version, "target", s.cfg.Target, "runtime", "knative", "http", kcfg.ListenAddress)
		err = knative.Run(ctx, knative.FromHandler(h), kcfg, s.logger)
		return errors.Join(err, s.stopAll())
	}
	ln, err := net.Listen("tcp", s.cfg.Server.HTTPListenAddress)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.logger.Info("kmlog started", "version", version, "target", s.cfg.Target, "http", ln.Addr().String())
	serveCtx, cancelServe := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelServe()
	errc := make(chan error, 1)
	go func() { errc <- gateway.Serve(serveCtx, ln, h, s.cfg.Gateway, s.logger) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.logger.Info("kmlog stopping")
	// Stop taking requests first (in-flight ones finish), then stop the
	// components in reverse order, so that the ingester flushes last.
	cancelServe()
	var errs []error
	if runErr == nil {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("serve http: %w", err))
		}
	} else {
		errs = append(errs, fmt.Errorf("serve http: %w", runErr))
	}
	errs = append(errs, s.stopAll())
	return errors.Join(errs...)
}

// common opens what most targets share: the bucket and the per-tenant
// limits (with their reload loop).
func (s *server) common(ctx context.Context) (bucket.Bucket, *tenantLimits, error) {
	bkt, err := openBucket(ctx, s.cfg.Storage, s.logger)
	if err != nil {
		return nil, nil, err
	}
	tl, err := newTenantLimits(s.cfg.Limits, s.cfg.RuntimeConfig.File, s.logger)
	if err != nil {
		return nil, nil, err
	}
	go tl.run(ctx, s.cfg.RuntimeConfig.Period)
	return bkt, tl, nil
}

// newQuerier builds the querier function over bkt and recent data.
func (s *server) newQuerier(bkt bucket.Bucket, recent querier.Recent) *querier.Querier {
	return querier.New(s.cfg.Querier, bkt, recent, s.logger, s.reg)
}

// remoteFrontend builds a query frontend that sends its shards to the
// queriers at frontend.querier_url (IAM-signed on Lambda, whose function
// URLs take signed requests only).
func (s *server) remoteFrontend(bkt bucket.Bucket, tl *tenantLimits) (*frontend.Frontend, error) {
	var transport http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	if runtimeOf() == "lambda" {
		creds, err := lambda.CredentialsFromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		transport = &lambda.SigV4{Base: transport, Credentials: creds, Region: os.Getenv("AWS_REGION"), Service: "lambda"}
	}
	inv := &frontend.HTTPInvoker{URL: s.cfg.Frontend.QuerierURL, Client: &http.Client{Transport: transport}}
	return s.newFrontend(inv, bkt, tl)
}

// newFrontend builds the query frontend function; the bucket holds its
// second cache tier.
func (s *server) newFrontend(inv frontend.Invoker, bkt bucket.Bucket, tl *tenantLimits) (*frontend.Frontend, error) {
	fc := frontend.DefaultConfig()
	fc.Limits = s.cfg.Limits.Query
	fc.Overrides = tl.Query
	fc.CacheSize = s.cfg.Frontend.CacheSizeBytes
	fc.TailPollInterval = s.cfg.Frontend.TailPollInterval
	fc.TailMaxDuration = s.cfg.Frontend.TailMaxDuration
	bi := readBuildInfo()
	fc.BuildInfo = frontend.BuildInfo{Version: bi.Version, Revision: bi.Revision, Branch: bi.Branch, BuildDate: bi.BuildDate, GoVersion: bi.GoVersion}
	fe, err := frontend.New(fc, inv, bkt, s.logger, s.reg)
	if err != nil {
		return nil, err
	}
	s.onStop(func(context.Context) error { fe.Close(); return nil })
	return fe, nil
}

// stopAll stops the components in reverse order of start.
func (s *server) stopAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		if err := s.stops[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runAll runs every role in this process: gateway, distributor, one
// ingester, the query frontend and the querier.
func runAll(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, tl, err := s.common(ctx)
	if err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	s.onStop(func(context.Context) error { cancelRun(); return nil })
	ing, err := s.startIngester(runCtx, bkt, tl.ingest, nil)
	if err != nil {
		return err
	}
	r := ring.New([]string{"local"})
	dist, err := distributor.New(cfg.Distributor, tl.ingest, r, inProcess{"local": ing}, logger, s.reg)
	if err != nil {
		return err
	}
	q := s.newQuerier(bkt, localRecent{ing})
	fe, err := s.newFrontend(frontend.InvokerFunc(q.Query), bkt, tl)
	if err != nil {
		return err
	}
	comp, err := s.newCompactor(bkt, tl)
	if err != nil {
		return err
	}
	// The in-process trigger: a compaction every compactor.compaction_interval.
	loopCtx, stopLoop := context.WithCancel(runCtx)
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); comp.Loop(loopCtx) }()
	s.onStop(func(context.Context) error { stopLoop(); <-loopDone; return nil })
	rl, err := s.newRuler(bkt, fe, pusherFunc(dist.Push))
	if err != nil {
		return err
	}
	if cfg.Ruler.Enabled {
		rulerCtx, stopRuler := context.WithCancel(runCtx)
		done := make(chan struct{})
		go func() { defer close(done); runRulerTimer(rulerCtx, rl, cfg.Ruler.EvaluationInterval, logger) }()
		s.onStop(func(context.Context) error { stopRuler(); <-done; return nil })
	}
	if cfg.Demo.Enabled {
		demoCtx, stopDemo := context.WithCancel(runCtx)
		done := make(chan struct{})
		go func() { defer close(done); runDemo(demoCtx, cfg.Demo, dist, logger) }()
		s.onStop(func(context.Context) error { stopDemo(); <-done; return nil })
	}
	h, err := s.gatewayHandler(dist, withDeleteAPI(queryRoutes(fe.Handler(), rl.Handler()), comp), false, map[string]http.Handler{
		"POST " + ingester.FlushPath: ing.Handler(cfg.Ingester.MaxRecvMsgSize),
		"POST " + compactor.RunPath:  comp.Handler(),
	})
	if err != nil {
		return errors.Join(err, s.stopAll())
	}
	return s.run(ctx, h)
}

// runGateway runs the gateway and distributor against remote ingesters,
// and forwards every other request, once authenticated, to the query
// frontend at gateway.frontend_url. It is ready while enough ingesters
// answer their readiness probe for a push to reach a quorum.
func runGateway(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	tl, err := newTenantLimits(cfg.Limits, cfg.RuntimeConfig.File, logger)
	if err != nil {
		return err
	}
	go tl.run(ctx, cfg.RuntimeConfig.Period)
	r := s.watchRing(ctx)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	dist, err := distributor.New(cfg.Distributor, tl.ingest, r, &distributor.HTTPClients{Client: client}, logger, s.reg)
	if err != nil {
		return err
	}
	health := ring.NewHealth(r, probeReady(client), logger)
	go health.Run(ctx, cfg.Ring.ProbeInterval, cfg.Ring.ProbeInterval)
	s.ready = append(s.ready, func() bool {
		ok, _ := health.Quorum(cfg.Distributor.ReplicationFactor)
		return ok
	})
	var query http.Handler
	if cfg.Gateway.FrontendURL != "" {
		u, err := url.Parse(cfg.Gateway.FrontendURL)
		if err != nil {
			return fmt.Errorf("gateway.frontend_url: %w", err)
		}
		if query, err = gateway.Forward(u, nil, logger); err != nil {
			return err
		}
	} else {
		logger.Warn("gateway.frontend_url is not set: query paths answer 404")
	}
	h, err := s.gatewayHandler(dist, query, true, nil)
	if err != nil {
		return err
	}
	return s.run(ctx, h)
}

// watchRing returns the ingester ring: ring.members, replaced by the SRV
// records of ring.srv once they answer (refreshed every ring.refresh), each
// ingester counted once however it is spelt.
func (s *server) watchRing(ctx context.Context) *ring.Ring {
	r := ring.New(s.cfg.Ring.Members)
	if s.cfg.Ring.SRV != "" {
		go ring.WatchSRV(ctx, r, resolverFor(s.cfg.Ring), s.cfg.Ring.SRV, s.cfg.Ring.Refresh, s.logger)
	}
	return r
}

// resolverFor is the resolver of SRV lookups: the system's, or one that
// asks ring.dns_server.
func resolverFor(rc RingConfig) *net.Resolver {
	if rc.DNSServer == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, rc.DNSServer)
	}}
}

// probeReady asks an ingester's /ready: 200 means it takes pushes.
func probeReady(client *http.Client) ring.Probe {
	return func(ctx context.Context, member string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+member+"/ready", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("probe %s: status %d", member, resp.StatusCode)
		}
		return nil
	}
}

// runIngester runs one ingester with its internal HTTP API.
func runIngester(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, tl, err := s.common(ctx)
	if err != nil {
		return err
	}
	r := s.watchRing(ctx)
	ringSize := func() int { return max(1, len(r.Members())) }
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	s.onStop(func(context.Context) error { cancelRun(); return nil })
	ing, err := s.startIngester(runCtx, bkt, tl.ingest, ringSize)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ingester/", ing.Handler(cfg.Ingester.MaxRecvMsgSize))
	mux.Handle("POST "+ingester.FlushPath, ing.Handler(cfg.Ingester.MaxRecvMsgSize))
	s.handleOps(mux)
	return s.run(ctx, mux)
}

// runQuerier runs the querier function as a long-lived HTTP service
// (POST a JSON querier.Request to /). Recent data comes from the
// ingesters in ring.members.
func runQuerier(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, _, err := s.common(ctx)
	if err != nil {
		return err
	}
	var recent querier.Recent
	if urls := ingesterURLs(ctx, cfg.Ring, logger); len(urls) > 0 {
		recent = querier.NewHTTPRecent(urls, nil, logger)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /", s.newQuerier(bkt, recent))
	s.handleOps(mux)
	return s.run(ctx, mux)
}

// runFrontend runs the query frontend, sending shards to
// frontend.querier_url.
func runFrontend(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, tl, err := s.common(ctx)
	if err != nil {
		return err
	}
	fe, err := s.remoteFrontend(bkt, tl)
	if err != nil {
		return err
	}
	comp, err := s.newCompactor(bkt, tl)
	if err != nil {
		return err
	}
	// The rules API lives beside the query API (the gateway and Lambda's
	// HTTP API route both here); it only reads and writes the bucket.
	rl, err := s.newRuler(bkt, fe, nil)
	if err != nil {
		return err
	}
	query := withDeleteAPI(queryRoutes(fe.Handler(), rl.Handler()), comp)
	if !cfg.Gateway.Auth.Enabled {
		mux := http.NewServeMux()
		s.handleOps(mux)
		mux.Handle("/", query)
		return s.run(ctx, mux)
	}
	// The frontend verifies the caller's token itself, with the gateway's
	// verifier and config, and takes the tenant from it: behind a gateway
	// that forwards the token, behind an HTTP API on Lambda, or reached
	// directly, X-Scope-OrgID is never trusted.
	h, err := s.gatewayHandler(nil, query, false, nil)
	if err != nil {
		return err
	}
	return s.run(ctx, h)
}

// newCompactor builds the compactor function over bkt with the tenants'
// retention settings.
func (s *server) newCompactor(bkt bucket.Bucket, tl *tenantLimits) (*compactor.Compactor, error) {
	return compactor.New(s.cfg.Compactor, bkt, tl.Retention, s.logger, s.reg)
}

// withDeleteAPI serves Loki's delete API (stored in the bucket by the
// compactor package) beside the query API.
func withDeleteAPI(query http.Handler, comp *compactor.Compactor) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/loki/api/v1/delete", comp.DeleteHandler())
	mux.Handle("/", query)
	return mux
}

// runCompactor runs the compactor function. On Lambda each schedule event
// runs it once (functions/lambda Scheduled); on Knative each PingSource
// tick POSTed to / does (functions/knative Tick); as a plain server it
// runs every compactor.compaction_interval. Everywhere but Lambda, POST
// /compactor/run runs it and answers the run's report, and the delete
// API is served.
func runCompactor(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, tl, err := s.common(ctx)
	if err != nil {
		return err
	}
	comp, err := s.newCompactor(bkt, tl)
	if err != nil {
		return err
	}
	if at := os.Getenv("KMLOG_COMPACTOR_FAULT_PAUSE_AT"); at != "" {
		// Fault tests (tests/e2e) kill -9 the process paused at a step.
		comp.SetHook(func(p string) {
			if p == at {
				s.logger.Warn("compactor paused for a fault test", "point", p)
				select {}
			}
		})
	}
	if runtimeOf() == "lambda" {
		s.logger.Info("kmlog started", "version", version, "target", cfg.Target, "runtime", "lambda")
		lambda.Start(ctx, lambda.Scheduled(comp.Tick))
		return nil
	}
	mux := http.NewServeMux()
	s.handleOps(mux)
	mux.Handle("POST /{$}", knative.Tick(comp.Tick))
	mux.Handle("/", comp.Handler())
	if runtimeOf() == "server" {
		loopCtx, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
		loopDone := make(chan struct{})
		go func() { defer close(loopDone); comp.Loop(loopCtx) }()
		s.onStop(func(context.Context) error { stopLoop(); <-loopDone; return nil })
	}
	return s.run(ctx, mux)
}

// handleOps adds /ready and /metrics.
func (s *server) handleOps(mux *http.ServeMux) {
	mux.Handle("GET /ready", s.readyHandler())
	mux.Handle("GET /metrics", s.metricsHandler())
}

// ingesterURLs are the base URLs of the ingesters: the SRV records of
// ring.srv resolved once, or ring.members when there are none or the lookup
// fails; each ingester once.
func ingesterURLs(ctx context.Context, rc RingConfig, logger *slog.Logger) []string {
	members := rc.Members
	if rc.SRV != "" {
		m, err := ring.DiscoverSRV(ctx, resolverFor(rc), rc.SRV)
		switch {
		case err != nil:
			logger.Warn("resolve ingesters; using ring.members", "srv", rc.SRV, "err", err)
		case len(m) > 0:
			members = m
		}
	}
	members = ring.Dedup(members)
	urls := make([]string, len(members))
	for i, m := range members {
		urls[i] = "http://" + m
	}
	return urls
}

// localRecent serves the querier's recent-data requests from the
// in-process ingester (querier.Recent and querier.RecentSeries).
type localRecent struct{ ing *ingester.Ingester }

func (l localRecent) RecentQuery(ctx context.Context, t tenant.ID, selector string, from, through int64, limit int, backward bool) (*push.Request, error) {
	sel, err := syntax.ParseLogSelector(selector)
	if err != nil {
		return nil, err
	}
	return l.ing.Query(ctx, t, ingester.Query{
		Matchers: sel.Matchers, Contains: syntax.LineFilterLiterals(sel),
		From: from, Through: through, Limit: limit, Backward: backward,
	})
}

func (l localRecent) RecentSeries(ctx context.Context, t tenant.ID, matchers string, from, through int64) (*push.Request, error) {
	var ms []*labels.Matcher
	if matchers != "" {
		var err error
		if ms, err = syntax.ParseMatchers(matchers); err != nil {
			return nil, err
		}
	}
	return l.ing.Series(ctx, t, ms, from, through)
}

// gatewayHandler puts the gateway in front of the distributor and the
// query frontend (nil: their paths answer 404). forward keeps the verified
// token on query requests for a frontend that verifies it again. extra
// routes (the all-in-one's /flush) sit beside the gateway's routes but,
// when auth is on, need a valid token too.
func (s *server) gatewayHandler(push, query http.Handler, forward bool, extra map[string]http.Handler) (http.Handler, error) {
	var auth *gateway.Authenticator
	if s.cfg.Gateway.Auth.Enabled {
		var err error
		if auth, err = gateway.NewAuthenticator(s.cfg.Gateway.Auth, http.DefaultClient, s.logger); err != nil {
			return nil, fmt.Errorf("gateway auth: %w", err)
		}
	} else {
		s.logger.Warn("gateway.auth is off: single-tenant trial mode, the tenant is the client's X-Scope-OrgID (or fake); enable gateway.auth for any shared deployment")
	}
	gw := gateway.Handler(s.cfg.Gateway, auth, gateway.Routes{
		Push:               push,
		Query:              query,
		ForwardCredentials: forward,
		Ready:              s.readyHandler(),
		Metrics:            s.metricsHandler(),
	}, s.logger, s.reg)
	// The web console sits beside the API (GET / and /console/).
	ccfg := s.cfg.Console
	ccfg.AuthEnabled = s.cfg.Gateway.Auth.Enabled
	con, err := console.Handler(ccfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, pattern := range console.Routes {
		mux.Handle(pattern, con)
	}
	for pattern, h := range extra {
		if auth != nil {
			h = requireAuth(auth, h)
		}
		mux.Handle(pattern, h)
	}
	mux.Handle("/", gw)
	return mux, nil
}

// requireAuth lets through only requests with a valid token.
func requireAuth(auth *gateway.Authenticator, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := auth.Authenticate(r); err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
