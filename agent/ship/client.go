package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/agent/wal"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
)

// Options are a Client's dependencies; the zero value is usable.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Transport replaces the HTTP transport built from TLSConfig (tests).
	Transport http.RoundTripper
	// Seed seeds the backoff jitter; 0 picks one from the clock.
	Seed uint64
}

// Client ships one WAL client's records to one endpoint.
type Client struct {
	cfg    Config
	name   string
	w      *wal.WAL
	logger *slog.Logger
	m      *metrics
	http   *http.Client
	ext    labels.Labels
	seed   uint64
}

// New returns a Client reading w under cfg.ClientName(), which must be
// among the clients w was opened with.
func New(cfg Config, w *wal.WAL, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	rt := opts.Transport
	if rt == nil {
		tc, err := cfg.TLSConfig.tlsConfig()
		if err != nil {
			return nil, fmt.Errorf("new client %s: %w", cfg.ClientName(), err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		tr.ForceAttemptHTTP2 = true
		tr.MaxIdleConnsPerHost = 16
		rt = tr
	}
	seed := opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	name := cfg.ClientName()
	return &Client{
		cfg:    cfg,
		name:   name,
		w:      w,
		logger: opts.Logger.With("component", "ship", "client", name),
		m:      m,
		http:   &http.Client{Transport: rt, Timeout: cfg.Timeout},
		ext:    labels.FromMap(cfg.ExternalLabels),
		seed:   seed,
	}, nil
}

// Run ships until ctx ends (returning nil) or the WAL is closed (returning
// wal.ErrClosed). It starts one sender per tenant as tenants appear.
func (c *Client) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 1)
	running := map[string]bool{}
	for {
		tenants, changed := c.w.Tenants()
		for _, t := range tenants {
			if running[t] {
				continue
			}
			r, err := c.w.NewReader(c.name, t)
			if err != nil {
				return fmt.Errorf("run client %s: %w", c.name, err)
			}
			running[t] = true
			wg.Go(func() {
				defer r.Close()
				if err := c.runTenant(ctx, t, r); err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
				}
			})
		}
		select {
		case <-ctx.Done():
			select {
			case err := <-errc:
				return err
			default:
				return nil
			}
		case <-changed:
		}
	}
}

// runTenant is one tenant's sender loop.
func (c *Client) runTenant(ctx context.Context, tenant string, r *wal.Reader) error {
	h := fnv.New64a()
	h.Write([]byte(tenant))
	rng := rand.New(rand.NewPCG(c.seed, h.Sum64()))
	b := newBatch(c.ext)
	var held *wal.Record
	for {
		var first wal.Record
		if held != nil {
			first, held = *held, nil
		} else {
			rec, err := r.Next(ctx)
			if err != nil {
				return ignoreCanceled(ctx, err)
			}
			first = rec
		}
		b.reset()
		b.add(first)
		deadline := time.Now().Add(c.cfg.BatchWait)
		for b.size < c.cfg.BatchSize {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			rec, err := r.Next(dctx)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if err != nil {
				return err
			}
			if b.size+rec.Size > c.cfg.BatchSize {
				held = &rec
				break
			}
			b.add(rec)
		}
		if !c.send(ctx, tenant, b, rng) {
			return nil // ctx ended; the batch stays unacknowledged
		}
		r.Ack(b.end)
	}
}

func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// send delivers the batch, retrying as documented. It returns false only
// when ctx ended first.
func (c *Client) send(ctx context.Context, tenant string, b *batch, rng *rand.Rand) bool {
	orgID := tenant
	if orgID == "" {
		orgID = c.cfg.TenantID
	}
	body := push.EncodeProto(b.request())
	bo := c.cfg.BackoffConfig
	for attempt := 1; ; attempt++ {
		status, retryAfter, msg, err := c.post(ctx, orgID, body)
		if ctx.Err() != nil {
			return false
		}
		switch {
		case err == nil && status/100 == 2:
			c.m.sentBytes.WithLabelValues(c.name).Add(float64(len(body)))
			c.m.sentEntries.WithLabelValues(c.name).Add(float64(b.entries))
			return true
		case err == nil && status == http.StatusTooManyRequests && c.cfg.DropRateLimitedBatches:
			c.drop("rate_limited", tenant, b, status, msg)
			return true
		case err == nil && status/100 == 4 && status != http.StatusTooManyRequests:
			c.drop("http_4xx", tenant, b, status, msg)
			return true
		}
		c.m.retries.WithLabelValues(c.name).Inc()
		if attempt == bo.MaxRetries {
			c.m.exhausted.WithLabelValues(c.name).Inc()
			c.logger.Warn("batch still failing after max_retries, retrying on from the WAL",
				"tenant", tenant, "attempts", attempt, "status", status, "err", err, "msg", msg)
		}
		wait := Backoff(bo, attempt, rng)
		if retryAfter > wait {
			wait = min(retryAfter, bo.MaxPeriod)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

func (c *Client) drop(reason, tenant string, b *batch, status int, msg string) {
	c.m.dropped.WithLabelValues(reason).Add(float64(b.entries))
	c.logger.Error("push rejected, dropping batch", "tenant", tenant, "status", status,
		"entries", b.entries, "reason", reason, "msg", msg)
}

// Backoff returns the wait before retry number attempt (1-based):
// min_period doubled per attempt up to max_period, drawn uniformly from
// the upper half of that.
func Backoff(cfg BackoffConfig, attempt int, rng *rand.Rand) time.Duration {
	d := cfg.MinPeriod
	for i := 1; i < attempt && d < cfg.MaxPeriod; i++ {
		d *= 2
	}
	d = min(d, cfg.MaxPeriod)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(rng.Int64N(int64(d-half)+1))
}

// post sends one request. A non-nil error is a network error.
func (c *Client) post(ctx context.Context, orgID string, body []byte) (status int, retryAfter time.Duration, msg string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", fmt.Errorf("push: %w", err)
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", push.ContentTypeProto)
	req.Header.Set("User-Agent", "kmlog-agent")
	if orgID != "" {
		req.Header.Set("X-Scope-OrgID", orgID)
	}
	if err := c.authorize(req); err != nil {
		return 0, 0, "", err
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	c.m.duration.WithLabelValues(c.name).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.requests.WithLabelValues(c.name, "error").Inc()
		return 0, 0, "", fmt.Errorf("push: %w", err)
	}
	defer resp.Body.Close()
	c.m.requests.WithLabelValues(c.name, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		msg = strings.TrimSpace(string(b))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
	}
	return resp.StatusCode, retryAfter, msg, nil
}

// authorize sets the Authorization header. Secret files are read on every
// request so that rotated credentials are used.
func (c *Client) authorize(req *http.Request) error {
	switch {
	case c.cfg.BasicAuth != nil:
		pw := c.cfg.BasicAuth.Password
		if f := c.cfg.BasicAuth.PasswordFile; f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read password_file: %w", err)
			}
			pw = strings.TrimSpace(string(b))
		}
		req.SetBasicAuth(c.cfg.BasicAuth.Username, pw)
	case c.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.BearerToken)
	case c.cfg.BearerTokenFile != "":
		b, err := os.ReadFile(c.cfg.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("read bearer_token_file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	return nil
}
