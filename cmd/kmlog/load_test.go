package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/push"
)

// fakePush is a push endpoint that decodes every body, checks the headers,
// remembers every entry, and answers 429 to every fifth push.
type fakePush struct {
	t       *testing.T
	mu      sync.Mutex
	pushes  int
	entries map[string]bool // stream + timestamp + line
	dups    int
	lines   int64
	bytes   int64
}

func (f *fakePush) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/loki/api/v1/push" || r.Header.Get("X-Scope-OrgID") != "load-test" || r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, "bad request line or headers", http.StatusBadRequest)
		return
	}
	req, err := push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes++
	if f.pushes%5 == 0 {
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	now := time.Now().UnixNano()
	for _, s := range req.Streams {
		for _, e := range s.Entries {
			if e.Timestamp > now {
				f.t.Errorf("entry from the future: %d > %d", e.Timestamp, now)
			}
			k := s.Labels + "\x00" + strconv.FormatInt(e.Timestamp, 10) + e.Line
			if f.entries[k] {
				f.dups++
			}
			f.entries[k] = true
			f.lines++
			f.bytes += int64(len(e.Line))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func TestLoad(t *testing.T) {
	f := &fakePush{t: t, entries: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out, errOut bytes.Buffer
	// 30 pushes of 64 KiB over a pool of at most 30 batches replayed with
	// shifted timestamps: the count bounds the run, not the duration.
	err := run(context.Background(), []string{"load", "-url", srv.URL, "-tenant", "load-test", "-token", "tok",
		"-duration", "1m", "-pushes", "30", "-batch-bytes", "65536", "-concurrency", "3", "-seed", "7"}, &out, &errOut)
	if err != nil {
		t.Fatalf("load: %v\n%s%s", err, out.String(), errOut.String())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pushes != 30 {
		t.Errorf("server saw %d pushes, want 30", f.pushes)
	}
	if f.dups != 0 {
		t.Errorf("%d entries pushed twice", f.dups)
	}
	report := out.String()
	for _, want := range []string{"pushes:   24 ok, 6 failed", "errors:   429: 6", "lines/s", "MB/s", "p50", "p99"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// The reported lines are those the server accepted.
	if !strings.Contains(report, "lines:    "+strconv.FormatInt(f.lines, 10)+" ") {
		t.Errorf("report does not count the %d accepted lines:\n%s", f.lines, report)
	}
}

func TestLoadReplaysWithNewTimestamps(t *testing.T) {
	o := loadOptions{Tenant: "t", BatchBytes: 4 << 10, Concurrency: 1, Pushes: 3, Seed: 1}
	pool := newLoadPool(o, time.Now())
	if len(pool.batches) != 3 {
		t.Fatalf("pool of %d batches, want 3 (bounded by -pushes)", len(pool.batches))
	}
	var scratch push.Request
	a, err := push.DecodeSnappyProto(pool.body(1, &scratch), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := push.DecodeSnappyProto(pool.body(4, &scratch), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Streams) != len(b.Streams) || a.Streams[0].Entries[0].Line != b.Streams[0].Entries[0].Line {
		t.Fatal("push 4 is not push 1 replayed")
	}
	if d := b.Streams[0].Entries[0].Timestamp - a.Streams[0].Entries[0].Timestamp; d != pool.span {
		t.Errorf("replay shifted by %d ns, want the pool's span %d", d, pool.span)
	}
}

func TestLoadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "ftp://x"},
		{"-duration", "0s"},
		{"-duration", "2h"},
		{"-concurrency", "0"},
		{"-batch-bytes", "0"},
		{"-pushes", "-1"},
		{"-rate", "-5"},
		{"-tenant", "a|b"},
		{"extra"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"load"}, args...), &out, &out); err == nil {
			t.Errorf("load %v: no error", args)
		}
	}
}

// TestLoadRate: with -rate, push n does not start before n mean batches
// of lines are due, so 4 pushes take at least 3 push intervals (a lower
// bound, which a slow machine cannot break).
func TestLoadRate(t *testing.T) {
	f := &fakePush{t: t, entries: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	o := loadOptions{URL: srv.URL, Tenant: "load-test", Token: "tok", BatchBytes: 4 << 10, Concurrency: 2, Pushes: 4, Seed: 1, Duration: time.Minute}
	pool := newLoadPool(o, time.Now())
	lines := 0
	for _, n := range pool.lines {
		lines += n
	}
	const interval = 100 * time.Millisecond
	o.Rate = float64(lines) / float64(len(pool.lines)) / interval.Seconds()
	res := load(context.Background(), o, pool, srv.Client())
	if res.OK+len(res.Failed) == 0 {
		t.Fatal("no push answered")
	}
	if res.Elapsed < 3*interval-time.Millisecond {
		t.Errorf("4 pushes at %.0f lines/s took %s, want at least %s", o.Rate, res.Elapsed, 3*interval)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pushes != 4 {
		t.Errorf("server saw %d pushes, want 4", f.pushes)
	}
}
