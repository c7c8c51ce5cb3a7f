package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/distributor"
	"github.com/kubemate/kmlog/ingestgw/gateway"
	"github.com/kubemate/kmlog/ingestgw/ingester"
	"github.com/kubemate/kmlog/ingestgw/limits"
	"github.com/kubemate/kmlog/ingestgw/ring"
)

// server is what every target shares: registry, readiness and the HTTP
// listener. Components register stop functions, run in reverse order.
type server struct {
	cfg    Config
	logger *slog.Logger
	reg    *prometheus.Registry
	mux    *http.ServeMux
	ready  []func() bool
	stops  []func(context.Context) error
}

func newServer(cfg Config, logger *slog.Logger) *server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &server{cfg: cfg, logger: logger, reg: reg, mux: http.NewServeMux()}
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

func buildInfoHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(readBuildInfo())
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
	return localIngester{ing}, nil
}

// localIngester adapts an in-process ingester to the distributor.
type localIngester struct{ ing *ingester.Ingester }

func (l localIngester) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	return l.ing.Push(ctx, t, req)
}

// run is the common tail of every target: serve until ctx ends, then stop
// everything in reverse order.
func (s *server) run(ctx context.Context, h http.Handler) error {
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
	stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := len(s.stops) - 1; i >= 0; i-- {
		if err := s.stops[i](stopCtx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runAll runs gateway, distributor and one ingester in this process.
func runAll(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, err := openBucket(ctx, cfg.Storage, logger)
	if err != nil {
		return err
	}
	lim, err := limits.NewOverrides(cfg.Limits, cfg.RuntimeConfig.File, logger)
	if err != nil {
		return err
	}
	go lim.Run(ctx, cfg.RuntimeConfig.Period)
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	s.onStop(func(context.Context) error { cancelRun(); return nil })
	ing, err := s.startIngester(runCtx, bkt, lim, nil)
	if err != nil {
		return err
	}
	r := ring.New([]string{"local"})
	dist, err := distributor.New(cfg.Distributor, lim, r, inProcess{"local": ing}, logger, s.reg)
	if err != nil {
		return err
	}
	if cfg.Demo.Enabled {
		demoCtx, stopDemo := context.WithCancel(runCtx)
		done := make(chan struct{})
		go func() { defer close(done); runDemo(demoCtx, cfg.Demo, dist, logger) }()
		s.onStop(func(context.Context) error { stopDemo(); <-done; return nil })
	}
	return s.run(ctx, s.gatewayHandler(dist, map[string]http.Handler{
		"POST " + ingester.FlushPath: ing.Handler(cfg.Ingester.MaxRecvMsgSize),
	}))
}

// runGateway runs the gateway and distributor against remote ingesters.
func runGateway(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	lim, err := limits.NewOverrides(cfg.Limits, cfg.RuntimeConfig.File, logger)
	if err != nil {
		return err
	}
	go lim.Run(ctx, cfg.RuntimeConfig.Period)
	r := ring.New(cfg.Ring.Members)
	if cfg.Ring.SRV != "" {
		go ring.WatchSRV(ctx, r, net.DefaultResolver, cfg.Ring.SRV, cfg.Ring.Refresh, logger)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	dist, err := distributor.New(cfg.Distributor, lim, r, &distributor.HTTPClients{Client: client}, logger, s.reg)
	if err != nil {
		return err
	}
	s.ready = append(s.ready, func() bool { return len(r.Members()) > 0 })
	return s.run(ctx, s.gatewayHandler(dist, nil))
}

// runIngester runs one ingester with its internal HTTP API.
func runIngester(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, err := openBucket(ctx, cfg.Storage, logger)
	if err != nil {
		return err
	}
	lim, err := limits.NewOverrides(cfg.Limits, cfg.RuntimeConfig.File, logger)
	if err != nil {
		return err
	}
	go lim.Run(ctx, cfg.RuntimeConfig.Period)
	ringSize := func() int { return max(1, len(cfg.Ring.Members)) }
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	s.onStop(func(context.Context) error { cancelRun(); return nil })
	ing, err := s.startIngester(runCtx, bkt, lim, ringSize)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ingester/", ing.Handler(cfg.Ingester.MaxRecvMsgSize))
	mux.Handle("POST "+ingester.FlushPath, ing.Handler(cfg.Ingester.MaxRecvMsgSize))
	mux.Handle("GET /ready", s.readyHandler())
	mux.Handle("GET /metrics", s.metricsHandler())
	return s.run(ctx, mux)
}

// gatewayHandler puts the gateway in front of the distributor (and, as
// later work adds it, the query frontend). extra routes bypass the gateway.
func (s *server) gatewayHandler(dist *distributor.Distributor, extra map[string]http.Handler) http.Handler {
	var auth *gateway.Authenticator
	if s.cfg.Gateway.Auth.Enabled {
		var err error
		auth, err = gateway.NewAuthenticator(s.cfg.Gateway.Auth, http.DefaultClient, s.logger)
		if err != nil {
			panic("BUG: authenticator config passed Validate: " + err.Error())
		}
	}
	query := http.NewServeMux()
	query.HandleFunc("GET /loki/api/v1/status/buildinfo", buildInfoHandler)
	gw := gateway.Handler(s.cfg.Gateway, auth, gateway.Routes{
		Push:    dist,
		Query:   query,
		Ready:   s.readyHandler(),
		Metrics: s.metricsHandler(),
	}, s.logger, s.reg)
	if len(extra) == 0 {
		return gw
	}
	mux := http.NewServeMux()
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	mux.Handle("/", gw)
	return mux
}
