package knative

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The health endpoints, as the func middleware serves them.
const (
	ReadinessPath = "/health/readiness"
	LivenessPath  = "/health/liveness"
)

// ErrDrainTimeout is returned (wrapped) by Serve when requests were still
// running at the end of Config.DrainTimeout and had to be cut.
var ErrDrainTimeout = errors.New("requests still running after the drain timeout")

// Config is the runtime configuration of one instance.
type Config struct {
	// ListenAddress is host:port to listen on.
	ListenAddress string
	// DrainTimeout bounds the wait for in-flight requests after ctx ends.
	// Keep it below the pod's terminationGracePeriodSeconds.
	DrainTimeout time.Duration
	// StopTimeout bounds Stopper.Stop.
	StopTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// Env is handed to Starter.Start.
	Env map[string]string
}

// DefaultConfig listens on :8080 and drains for 30 s, Knative's default
// termination grace.
func DefaultConfig() Config {
	return Config{
		ListenAddress:     ":8080",
		DrainTimeout:      30 * time.Second,
		StopTimeout:       10 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		Env:               map[string]string{},
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
		return fmt.Errorf("listen address %q: %w", c.ListenAddress, err)
	}
	if c.DrainTimeout < 0 || c.StopTimeout < 0 || c.ReadHeaderTimeout < 0 {
		return errors.New("timeouts must not be negative")
	}
	return nil
}

// ConfigFromEnv maps the environment (os.Environ's form) to a Config:
// LISTEN_ADDRESS (host:port) wins over PORT (listen on every interface);
// KMLOG_DRAIN_TIMEOUT and KMLOG_STOP_TIMEOUT are Go durations. Env gets
// every variable.
func ConfigFromEnv(environ []string) (Config, error) {
	cfg := DefaultConfig()
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		cfg.Env[k] = v
	}
	switch {
	case cfg.Env["LISTEN_ADDRESS"] != "":
		cfg.ListenAddress = cfg.Env["LISTEN_ADDRESS"]
	case cfg.Env["PORT"] != "":
		cfg.ListenAddress = net.JoinHostPort("", cfg.Env["PORT"])
	}
	for name, d := range map[string]*time.Duration{
		"KMLOG_DRAIN_TIMEOUT": &cfg.DrainTimeout,
		"KMLOG_STOP_TIMEOUT":  &cfg.StopTimeout,
	} {
		if s := cfg.Env[name]; s != "" {
			v, err := time.ParseDuration(s)
			if err != nil {
				return cfg, fmt.Errorf("parse %s: %w", name, err)
			}
			*d = v
		}
	}
	return cfg, cfg.Validate()
}

// Detect reports whether the process runs as a Knative Service revision
// (Knative sets K_SERVICE, K_REVISION and K_CONFIGURATION).
func Detect(getenv func(string) string) bool { return getenv("K_SERVICE") != "" }

// Run listens on cfg.ListenAddress and serves inst until ctx ends (see
// Serve).
func Run(ctx context.Context, inst Instance, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return Serve(ctx, ln, inst, cfg, logger)
}

// The lifecycle states of a served instance.
const (
	stateStarting int32 = iota
	stateServing
	stateDraining
)

// server is the HTTP face of one instance.
type server struct {
	inst     Instance
	logger   *slog.Logger
	state    atomic.Int32
	inflight atomic.Int64
	handlers sync.WaitGroup // running Handle calls
}

// Serve serves inst on ln until ctx ends, then drains and stops it; it
// closes ln. Health endpoints answer from the start; Start (when inst is a
// Starter) runs while they do, and requests for Handle get 503 until it
// returns. It returns nil after a clean drain and stop, the Start error if
// Start failed, or ErrDrainTimeout and Stop's error, joined.
func Serve(ctx context.Context, ln net.Listener, inst Instance, cfg Config, logger *slog.Logger) error {
	s := &server{inst: inst, logger: logger}
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("function listening", "address", ln.Addr().String())

	startErr := make(chan error, 1)
	if st, ok := inst.(Starter); ok {
		go func() { startErr <- st.Start(ctx, cfg.Env) }()
	} else {
		startErr <- nil
	}
	select {
	case err := <-startErr:
		if err != nil {
			_ = srv.Close()
			<-errc
			return fmt.Errorf("start function: %w", err)
		}
		s.state.Store(stateServing)
		logger.Info("function ready")
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
		// Let Start see the cancellation and return before stopping.
		err := <-startErr
		_ = srv.Close()
		<-errc
		if err != nil {
			return fmt.Errorf("start function: %w", err)
		}
		return stop(inst, cfg)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		serveErr = fmt.Errorf("serve http: %w", serveErr)
	}
	s.state.Store(stateDraining)
	logger.Info("function draining", "in_flight", s.inflight.Load(), "timeout", cfg.DrainTimeout)
	var errs []error
	if serveErr != nil {
		errs = append(errs, serveErr)
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	err := srv.Shutdown(drainCtx)
	cancelDrain()
	if err != nil {
		n := s.inflight.Load()
		cancelBase() // the remaining handlers see their request context end
		_ = srv.Close()
		errs = append(errs, fmt.Errorf("drain %d requests: %w", n, ErrDrainTimeout))
		// Give the cut handlers up to StopTimeout to return before Stop
		// releases what they may use.
		returned := make(chan struct{})
		go func() { s.handlers.Wait(); close(returned) }()
		t := time.NewTimer(cfg.StopTimeout)
		select {
		case <-returned:
		case <-t.C:
			logger.Warn("function handlers still running at stop", "in_flight", s.inflight.Load())
		}
		t.Stop()
	}
	if serveErr == nil {
		<-errc // http.ErrServerClosed
	}
	if err := stop(inst, cfg); err != nil {
		errs = append(errs, err)
	}
	logger.Info("function stopped")
	return errors.Join(errs...)
}

// stop calls inst's Stop, bounded by cfg.StopTimeout.
func stop(inst Instance, cfg Config) error {
	st, ok := inst.(Stopper)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StopTimeout)
	defer cancel()
	if err := st.Stop(ctx); err != nil {
		return fmt.Errorf("stop function: %w", err)
	}
	return nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case ReadinessPath:
		s.readiness(w, r)
	case LivenessPath:
		s.liveness(w, r)
	default:
		if s.state.Load() == stateStarting {
			http.Error(w, "function starting", http.StatusServiceUnavailable)
			return
		}
		s.handlers.Add(1)
		s.inflight.Add(1)
		defer func() { s.inflight.Add(-1); s.handlers.Done() }()
		s.inst.Handle(w, r)
	}
}

func (s *server) readiness(w http.ResponseWriter, r *http.Request) {
	switch s.state.Load() {
	case stateStarting:
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	case stateDraining:
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	if rc, ok := s.inst.(ReadyChecker); ok {
		if ok, err := rc.Ready(r.Context()); err != nil || !ok {
			s.logger.Debug("readiness probe failed", "err", err)
			http.Error(w, notOK("not ready", err), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("READY\n"))
}

func (s *server) liveness(w http.ResponseWriter, r *http.Request) {
	if ac, ok := s.inst.(AliveChecker); ok {
		if ok, err := ac.Alive(r.Context()); err != nil || !ok {
			s.logger.Warn("liveness probe failed", "err", err)
			http.Error(w, notOK("not alive", err), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ALIVE\n"))
}

func notOK(msg string, err error) string {
	if err != nil {
		return msg + ": " + err.Error()
	}
	return msg
}
