package ship

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func counterValue(c *Client, status string) float64 {
	return testutil.ToFloat64(c.m.requests.WithLabelValues(c.name, status))
}

func TestBackoff(t *testing.T) {
	cfg := DefaultConfig().BackoffConfig
	rng := rand.New(rand.NewPCG(1, 1))
	for attempt := 1; attempt <= 80; attempt++ {
		full := cfg.MaxPeriod
		if attempt <= 20 {
			full = min(cfg.MinPeriod<<(attempt-1), cfg.MaxPeriod)
		}
		for range 20 {
			d := Backoff(cfg, attempt, rng)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

// scripted is a RoundTripper answering from a list of statuses, then 204.
type scripted struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	calls    []time.Time
}

func (s *scripted) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	code := http.StatusNoContent
	if len(s.statuses) > 0 {
		code, s.statuses = s.statuses[0], s.statuses[1:]
	}
	h := http.Header{}
	if code != http.StatusNoContent {
		h = s.header.Clone()
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// TestRetryTimingSynctest runs the retry loop with Promtail's default
// backoff in a synctest bubble: the waits follow the documented schedule,
// max_retries only counts, and Retry-After lengthens a wait.
func TestRetryTimingSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &scripted{statuses: []int{503, 429, 500, 503, 502, 503}, header: http.Header{}}
		cfg := DefaultConfig()
		cfg.URL = "http://gateway/loki/api/v1/push"
		cfg.BackoffConfig.MaxRetries = 3
		w := openWAL(t, t.TempDir(), cfg.ClientName())
		defer w.Close()
		c, err := New(cfg, w, Options{Transport: rt, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		appendEntries(t, w, "t", `{app="x"}`, 0, 5, 5)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		// Every wait is at most max(min_period<<k): sleeping well past the
		// schedule's sum lets the bubble deliver.
		time.Sleep(time.Hour)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(rt.calls) != 7 {
			t.Fatalf("%d calls, want 7", len(rt.calls))
		}
		for i := 1; i < len(rt.calls); i++ {
			gap := rt.calls[i].Sub(rt.calls[i-1])
			full := cfg.BackoffConfig.MinPeriod << (i - 1)
			if gap < full/2 || gap > full {
				t.Errorf("wait %d = %v, want in [%v, %v]", i, gap, full/2, full)
			}
		}
		if got := testutil.ToFloat64(c.m.exhausted.WithLabelValues(c.name)); got != 1 {
			t.Fatalf("retries exhausted = %v, want 1", got)
		}
		if got := testutil.ToFloat64(c.m.sentEntries.WithLabelValues(c.name)); got != 5 {
			t.Fatalf("sent %v entries", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		rt := &scripted{statuses: []int{429}, header: http.Header{"Retry-After": {"30"}}}
		cfg := DefaultConfig()
		cfg.URL = "http://gateway/loki/api/v1/push"
		w := openWAL(t, t.TempDir(), cfg.ClientName())
		defer w.Close()
		c, err := New(cfg, w, Options{Transport: rt, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		appendEntries(t, w, "t", `{app="x"}`, 0, 1, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(rt.calls) != 2 || rt.calls[1].Sub(rt.calls[0]) != 30*time.Second {
			t.Fatalf("calls %v", rt.calls)
		}
	})
}
