package ingester

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/internal/wal"
	"github.com/kubemate/kmlog/ingestgw/limits"
)

// picky fails the Puts of some tenants: with ErrInvalidKey (a permanent
// error) for those in refuse, with a network error (transient) for those
// in down, and hangs until the context ends for those in hang.
type picky struct {
	bucket.Bucket
	mu                 sync.Mutex
	refuse, down, hang map[tenant.ID]bool
	attempts           map[tenant.ID]int
}

func newPicky() *picky {
	return &picky{Bucket: bucket.NewMem(), refuse: map[tenant.ID]bool{}, down: map[tenant.ID]bool{}, hang: map[tenant.ID]bool{}, attempts: map[tenant.ID]int{}}
}

func (p *picky) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := objkey.Parse(key)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.attempts[k.Tenant]++
	refuse, down, hang := p.refuse[k.Tenant], p.down[k.Tenant], p.hang[k.Tenant]
	p.mu.Unlock()
	switch {
	case refuse:
		return fmt.Errorf("put: %w %q: refused by the test", bucket.ErrInvalidKey, key)
	case down:
		return errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
	case hang:
		<-ctx.Done()
		return ctx.Err()
	}
	return p.Bucket.Put(ctx, key, r, size)
}

func (p *picky) set(m map[tenant.ID]bool, t tenant.ID, v bool) {
	p.mu.Lock()
	m[t] = v
	p.mu.Unlock()
}

func pushLines(t *testing.T, ing *Ingester, tid tenant.ID, lines ...string) {
	t.Helper()
	if err := ing.Push(t.Context(), tid, &push.Request{Streams: []push.Stream{{Labels: `{app="api"}`, Entries: entries(t0, lines...)}}}); err != nil {
		t.Fatal(err)
	}
}

func stateOf(heads []HeadFlush, tid tenant.ID) HeadFlush {
	for _, h := range heads {
		if h.Tenant == tid {
			return h
		}
	}
	return HeadFlush{}
}

// TestPermanentFailureIsQuarantined: a head the bucket refuses for good
// used to be retried forever by the only upload slot, so no other tenant's
// head was uploaded and /flush never finished. It is now quarantined (a
// file beside the WAL, a metric, a log line), the other tenant's head is
// uploaded, the WAL is trimmed, and the next start uploads the
// quarantined head once the bucket takes it.
func TestPermanentFailureIsQuarantined(t *testing.T) {
	bkt := newPicky()
	bkt.refuse["bad"] = true
	cfg := testConfig()
	cfg.FlushConcurrency = 1
	walDir := t.TempDir()
	f := start(t, cfg, bkt, walDir, limits.Default())
	pushLines(t, f.ing, "bad", "b1", "b2")
	f.ing.sealDue(true) // the bad head is first in the queue
	pushLines(t, f.ing, "good", "g1")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	heads := f.ing.FlushHeads(ctx)
	if ctx.Err() != nil {
		t.Fatalf("flush did not finish: %+v", heads)
	}
	if h := stateOf(heads, "good"); h.State != HeadUploaded {
		t.Errorf("good head: %+v", h)
	}
	// The bad head was sealed first; the upload slot may have quarantined
	// it before the flush began, so the flush may not list it.
	if h := stateOf(heads, "bad"); h.Tenant != "" && (h.State != HeadQuarantined || h.Entries != 2 || !strings.Contains(h.Err, "refused by the test")) {
		t.Errorf("bad head: %+v", h)
	}
	if got := readBack(t, bkt, "good")[`{app="api"}`]; len(got) != 1 {
		t.Fatalf("good tenant in the bucket: %v", got)
	}
	if n := testutil.ToFloat64(f.ing.m.quarantined); n != 1 {
		t.Errorf("kmlog_ingester_quarantined_heads_total = %v", n)
	}
	files, _ := filepath.Glob(filepath.Join(walDir, "quarantine", "*"+quarantineExt))
	if len(files) != 1 {
		t.Fatalf("quarantine files: %v", files)
	}
	// /flush answers 503 and names each head with its state.
	pushLines(t, f.ing, "bad", "b3")
	pushLines(t, f.ing, "good", "g2")
	srv := httptest.NewServer(f.ing.Handler(1 << 20))
	defer srv.Close()
	resp, err := http.Post(srv.URL+FlushPath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `tenant="bad" day=2026-11-25 entries=1 bytes=2 state=quarantined`) ||
		!strings.Contains(string(body), `tenant="good" day=2026-11-25 entries=1 bytes=2 state=uploaded key=good/2026-11-25/data/`) {
		t.Errorf("/flush: %s\n%s", resp.Status, body)
	}
	if n := testutil.ToFloat64(f.ing.m.quarantined); n != 2 {
		t.Errorf("kmlog_ingester_quarantined_heads_total = %v", n)
	}
	if bkt.attempts["bad"] != 2 {
		t.Errorf("a permanent failure was retried: %d attempts", bkt.attempts["bad"])
	}
	// The quarantined head pins neither memory nor the WAL.
	f.ing.mu.Lock()
	mem := f.ing.memBytes
	f.ing.mu.Unlock()
	if mem != 0 {
		t.Errorf("memory held after the flush: %d", mem)
	}
	segs, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if len(segs) > 1 {
		t.Errorf("WAL segments kept: %v", segs)
	}

	// Restart with a bucket that takes the key: the head is uploaded and
	// its quarantine file removed.
	f.crash()
	bkt.set(bkt.refuse, "bad", false)
	f2 := start(t, cfg, bkt, walDir, limits.Default())
	if err := f2.ing.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "bad")[`{app="api"}`]; len(got) != 3 {
		t.Fatalf("quarantined head after restart: %v", got)
	}
	if files, _ := filepath.Glob(filepath.Join(walDir, "quarantine", "*"+quarantineExt)); len(files) != 0 {
		t.Errorf("quarantine files left: %v", files)
	}
}

// TestTransientFailureDoesNotBlockOthers: a tenant whose uploads fail for
// a while (retried with backoff) held the only upload slot through every
// retry; other tenants' heads now go through meanwhile, and /flush reports
// per head.
func TestTransientFailureDoesNotBlockOthers(t *testing.T) {
	bkt := newPicky()
	bkt.down["slow"] = true
	cfg := testConfig()
	cfg.FlushConcurrency = 1
	cfg.RetryMin, cfg.RetryMax = 200*time.Millisecond, time.Second
	f := start(t, cfg, bkt, t.TempDir(), limits.Default())
	pushLines(t, f.ing, "slow", "s1")
	f.ing.sealDue(true)
	for _, tid := range []tenant.ID{"a", "b", "c"} {
		pushLines(t, f.ing, tid, "x")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	heads := f.ing.FlushHeads(ctx)
	for _, tid := range []tenant.ID{"a", "b", "c"} {
		if h := stateOf(heads, tid); h.State != HeadUploaded {
			t.Errorf("tenant %s: %+v", tid, h)
		}
	}
	if h := stateOf(heads, "slow"); h.State != HeadPending || h.Attempts == 0 || !strings.Contains(h.Err, "connection refused") {
		t.Errorf("slow head: %+v", h)
	}

	bkt.set(bkt.down, "slow", false)
	if err := f.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "slow")[`{app="api"}`]; len(got) != 1 {
		t.Fatalf("slow tenant after the bucket came back: %v", got)
	}
}

// TestStopIsBounded: with an upload hanging, Stop used to wait as long as
// its context (SIGTERM never finished when the context had no deadline).
// It now returns after StopTimeout, and what it could not upload is in the
// WAL for the next start.
func TestStopIsBounded(t *testing.T) {
	bkt := newPicky()
	bkt.hang["h"] = true
	cfg := testConfig()
	cfg.StopTimeout = 300 * time.Millisecond
	walDir := t.TempDir()
	f := start(t, cfg, bkt, walDir, limits.Default())
	pushLines(t, f.ing, "h", "1", "2", "3")
	pushLines(t, f.ing, "ok", "1")
	done := make(chan error, 1)
	go func() { done <- f.ing.Stop(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "1 heads not uploaded") {
			t.Fatalf("Stop: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Stop did not return within a minute")
	}
	if got := readBack(t, bkt, "ok")[`{app="api"}`]; len(got) != 1 {
		t.Errorf("the other tenant was not uploaded on stop: %v", got)
	}
	_ = f.wal.Close()
	bkt.set(bkt.hang, "h", false)
	f2 := start(t, cfg, bkt, walDir, limits.Default())
	if err := f2.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "h")[`{app="api"}`]; len(got) != 3 {
		t.Fatalf("after restart: %v", got)
	}
	if _, err := os.Stat(walDir); err != nil {
		t.Fatal(err)
	}
}

// gatedWAL holds every Append until release is closed, after saying so on
// entered.
type gatedWAL struct {
	WAL
	entered chan struct{}
	release chan struct{}
}

func (g *gatedWAL) Append(ctx context.Context, rec []byte) error {
	g.entered <- struct{}{}
	<-g.release
	return g.WAL.Append(ctx, rec)
}

// TestStopWaitsForAdmittedPush: a push admitted before Stop, still between
// its WAL append and its head, must be uploaded by Stop. Stop used to
// return once no head was left, and the push's head appeared after it:
// acknowledged, in the WAL only, until the next start.
func TestStopWaitsForAdmittedPush(t *testing.T) {
	wcfg := wal.DefaultConfig()
	wcfg.Dir = t.TempDir()
	w, err := wal.Open(wcfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g := &gatedWAL{WAL: w, entered: make(chan struct{}, 1), release: make(chan struct{})}
	ov, err := limits.NewOverrides(limits.Default())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.QuarantineDir = filepath.Join(wcfg.Dir, "quarantine")
	bkt := bucket.NewMem()
	ing, err := New(cfg, bkt, g, ov, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ing.now = func() time.Time { return t0.Add(time.Minute) }
	if err := ing.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan error, 1)
	go func() {
		pushed <- ing.Push(context.Background(), "fake", &push.Request{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: entries(t0, "in flight")}}})
	}()
	<-g.entered
	stopped := make(chan error, 1)
	go func() { stopped <- ing.Stop(context.Background()) }()
	for ing.Ready() {
		time.Sleep(time.Millisecond) // Stop has begun once the ingester is unready
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a push it admitted was not applied", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release)
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "fake"); len(got[`{app="a"}`]) != 1 {
		t.Fatalf("after Stop the bucket holds %v, want the admitted push", got)
	}
}
