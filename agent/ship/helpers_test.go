package ship

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kubemate/kmlog/agent/wal"
	"github.com/kubemate/kmlog/format/push"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// outcome is what the receiver does with one request.
type outcome int

const (
	accept      outcome = iota // 204
	status                     // answer code
	reset                      // reset the connection, nothing stored
	acceptReset                // store, then reset: a lost 2xx
)

// receiver is a push endpoint that counts every entry it stores, so
// duplicates are seen, not hidden.
type receiver struct {
	mu       sync.Mutex
	seen     map[string]int // tenant|labels|ts|line → times stored
	lost     int            // entries stored in acceptReset requests
	requests int
	headers  []http.Header
	streams  []string // stream labels as received
	// decide picks the outcome and, for status, the code. nil accepts.
	decide func(r *http.Request, req *push.Request) (outcome, int)
}

func newReceiver() *receiver { return &receiver{seen: map[string]int{}} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.requests++
	rc.headers = append(rc.headers, r.Header.Clone())
	out, code := accept, 0
	if rc.decide != nil {
		out, code = rc.decide(r, req)
	}
	if out == accept || out == acceptReset {
		tenant := r.Header.Get("X-Scope-OrgID")
		for _, s := range req.Streams {
			rc.streams = append(rc.streams, s.Labels)
			for _, e := range s.Entries {
				rc.seen[fmt.Sprintf("%s|%s|%d|%s", tenant, s.Labels, e.Timestamp, e.Line)]++
				if out == acceptReset {
					rc.lost++
				}
			}
		}
	}
	rc.mu.Unlock()
	switch out {
	case accept:
		w.WriteHeader(http.StatusNoContent)
	case status:
		http.Error(w, "injected", code)
	case reset, acceptReset:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}
}

func (rc *receiver) unique() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen)
}

// line identifies entry i of a test stream.
func entryKey(tenant, labels string, i int) string {
	return fmt.Sprintf("%s|%s|%d|line %d of %s", tenant, labels, i, i, tenant)
}

// appendEntries appends n entries for tenant in records of per entries.
func appendEntries(t testing.TB, w *wal.WAL, tenant, labels string, from, n, per int) {
	t.Helper()
	for i := from; i < from+n; i += per {
		s := push.Stream{Labels: labels}
		for j := i; j < min(i+per, from+n); j++ {
			s.Entries = append(s.Entries, push.Entry{Timestamp: int64(j), Line: fmt.Sprintf("line %d of %s", j, tenant)})
		}
		if err := w.Append(context.Background(), tenant, []push.Stream{s}); err != nil {
			t.Fatal(err)
		}
	}
}

func openWAL(t testing.TB, dir string, clients ...string) *wal.WAL {
	t.Helper()
	cfg := wal.DefaultConfig()
	cfg.Dir = dir
	cfg.SegmentSize = 64 << 10
	cfg.MaxSizeBytes = 64 << 20
	cfg.Sync = wal.SyncInterval
	cfg.CursorSyncInterval = 10 * time.Millisecond
	w, err := wal.Open(cfg, clients, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func testClientConfig(url string) Config {
	c := DefaultConfig()
	c.URL = url
	c.BatchWait = 5 * time.Millisecond
	c.BatchSize = 16 << 10
	c.BackoffConfig = BackoffConfig{MinPeriod: time.Millisecond, MaxPeriod: 10 * time.Millisecond, MaxRetries: 5}
	c.Timeout = 5 * time.Second
	return c
}

// runClient starts c.Run; stop cancels it and waits.
func runClient(t testing.TB, c *Client) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// seeded returns a decide function answering at random: accept with
// probability pOK, else 429, 503, 500 or a reset; lostAck adds lost 2xx.
func seeded(seed uint64, pOK float64, lostAck bool) func(*http.Request, *push.Request) (outcome, int) {
	rng := rand.New(rand.NewPCG(seed, seed))
	return func(*http.Request, *push.Request) (outcome, int) {
		if rng.Float64() < pOK {
			return accept, 0
		}
		n := 4
		if lostAck {
			n = 5
		}
		switch rng.IntN(n) {
		case 0:
			return status, http.StatusTooManyRequests
		case 1:
			return status, http.StatusServiceUnavailable
		case 2:
			return status, http.StatusInternalServerError
		case 3:
			return reset, 0
		default:
			return acceptReset, 0
		}
	}
}
