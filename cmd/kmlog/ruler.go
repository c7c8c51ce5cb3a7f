package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/knative"
	"github.com/kubemate/kmlog/functions/lambda"
	"github.com/kubemate/kmlog/functions/ruler"
	"github.com/kubemate/kmlog/ingestgw/gateway"
	"github.com/kubemate/kmlog/logql/engine"
)

// RulerConfig is the ruler: Loki's ruler fields (evaluation_interval,
// alertmanager_url, …) plus how this binary runs it.
type RulerConfig struct {
	ruler.Config `yaml:",inline"`
	// Enabled runs the ruler's timer in the all-in-one process (target
	// all). Target ruler ticks when its trigger calls, whatever this says.
	Enabled bool `yaml:"enabled"`
	// PushURL is where target ruler pushes recording rules' samples: the
	// Loki push API of a gateway. With gateway.auth on, the ruler signs a
	// short-lived token per tenant with gateway.auth's HS256 secret (which
	// it then needs: a JWKS alone cannot sign); with it off, the tenant
	// goes in X-Scope-OrgID. Empty: recording rules are evaluated, not
	// stored. The all-in-one process pushes to its own distributor.
	PushURL string `yaml:"push_url"`
}

func defaultRulerConfig() RulerConfig {
	return RulerConfig{Config: ruler.DefaultConfig(), Enabled: true}
}

// rulerEnv maps the environment the deployments set onto the ruler's
// config: KMLOG_ALERTMANAGER_URL when the config names no Alertmanager.
func rulerEnv(cfg *RulerConfig, getenv func(string) string) {
	if u := getenv("KMLOG_ALERTMANAGER_URL"); u != "" && cfg.Alertmanager.URL == "" {
		cfg.Alertmanager.URL = u
	}
}

// frontendQuerier runs the ruler's queries through the query frontend:
// the users' path, ingesters' recent data included.
func frontendQuerier(fe *frontend.Frontend) ruler.Querier {
	return ruler.QuerierFunc(func(ctx context.Context, t tenant.ID, p engine.Params) (engine.Result, error) {
		res, err := fe.Query(ctx, t, p)
		return res.Result, err
	})
}

// pusherFunc adapts a distributor's Push.
type pusherFunc func(ctx context.Context, t tenant.ID, req *push.Request) error

func (f pusherFunc) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	return f(ctx, t, req)
}

// httpPusher pushes JSON to a Loki push URL with the tenant's header
// and, when token is set (gateway auth on), a bearer token for the tenant.
type httpPusher struct {
	url    string
	client *http.Client
	token  func(tenant.ID) (string, error)
}

func (h httpPusher) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	body, err := push.EncodeJSON(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("X-Scope-OrgID", string(t))
	if h.token != nil {
		tok, err := h.token(t)
		if err != nil {
			return err
		}
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := h.client.Do(hr)
	if err != nil {
		return fmt.Errorf("push to %s: %w", h.url, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("push to %s: %s: %s", h.url, res.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// newRuler builds the ruler over the bucket, querying through fe.
func (s *server) newRuler(bkt bucket.Bucket, fe *frontend.Frontend, p ruler.Pusher) (*ruler.Ruler, error) {
	rc := s.cfg.Ruler.Config
	return ruler.New(rc, bkt, frontendQuerier(fe), p, s.logger, s.reg)
}

// queryRoutes serves the ruler's API beside the frontend's: the gateway
// sends both under its query prefixes.
func queryRoutes(fe, rules http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ruler.Paths(r.URL.Path) {
			rules.ServeHTTP(w, r)
			return
		}
		fe.ServeHTTP(w, r)
	})
}

// runRulerTimer ticks the ruler at every evaluation_interval boundary
// until ctx ends (the all-in-one process's trigger).
func runRulerTimer(ctx context.Context, rl *ruler.Ruler, every time.Duration, logger *slog.Logger) {
	for {
		now := time.Now()
		next := now.Truncate(every).Add(every)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := rl.Tick(ctx, next); err != nil && ctx.Err() == nil {
			logger.Warn("ruler tick", "err", err)
		}
	}
}

// runRuler runs the ruler function: ticks come from a Knative PingSource
// (POST /, with the schedule's time in ce-time), a Lambda schedule, or
// any POST to / on a plain server. Queries go to the queriers at
// frontend.querier_url through an in-process frontend. With gateway.auth
// off the rules API is served too.
func runRuler(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s := newServer(cfg, logger)
	bkt, tl, err := s.common(ctx)
	if err != nil {
		return err
	}
	fe, err := s.remoteFrontend(bkt, tl)
	if err != nil {
		return err
	}
	var p ruler.Pusher
	if cfg.Ruler.PushURL != "" {
		hp := httpPusher{url: cfg.Ruler.PushURL, client: &http.Client{Timeout: 30 * time.Second}}
		if cfg.Gateway.Auth.Enabled {
			// The gateway at push_url trusts tokens only: the ruler signs
			// one per tenant with the gateway's HS256 secret.
			m, err := gateway.NewMinter(cfg.Gateway.Auth)
			if err != nil {
				return fmt.Errorf("ruler.push_url with gateway.auth on: %w", err)
			}
			hp.token = m.Token
		}
		p = hp
	}
	rl, err := s.newRuler(bkt, fe, p)
	if err != nil {
		return err
	}
	tick := func(ctx context.Context, at time.Time) error {
		_, err := rl.Tick(ctx, at)
		return err
	}
	if runtimeOf() == "lambda" {
		s.logger.Info("kmlog started", "version", version, "target", cfg.Target, "runtime", "lambda")
		lambda.Start(ctx, lambda.Scheduled(tick))
		return nil
	}
	mux := http.NewServeMux()
	s.handleOps(mux)
	if !cfg.Gateway.Auth.Enabled {
		// Without auth the rules API is served here too (trial setups).
		// With auth, the frontend serves it behind token checks; this
		// Service, reached by its trigger only, takes ticks alone.
		mux.Handle("/", rl.Handler())
	}
	mux.Handle("POST /{$}", knative.Tick(tick))
	return s.run(ctx, mux)
}
