package ring

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestMembersAndSRVCountOnce: the shipped config names the ingesters both
// in ring.members and by SRV; each must be one member, so that one dead
// ingester is one failure.
func TestMembersAndSRVCountOnce(t *testing.T) {
	static := []string{
		"kmlog-ingester-0.kmlog-ingester.kmlog.svc.cluster.local:3100",
		"kmlog-ingester-1.kmlog-ingester.kmlog.svc.cluster.local:3100",
		"KMLOG-INGESTER-1.kmlog-ingester.kmlog.svc.cluster.local.:3100",
		"",
	}
	r := New(static)
	if got := r.Members(); len(got) != 2 {
		t.Fatalf("members %v, want 2", got)
	}
	synctest.Test(t, func(t *testing.T) {
		res := &fakeResolver{srvs: []*net.SRV{
			{Target: "kmlog-ingester-0.kmlog-ingester.kmlog.svc.cluster.local.", Port: 3100},
			{Target: "kmlog-ingester-1.kmlog-ingester.kmlog.svc.cluster.local.", Port: 3100},
			{Target: "kmlog-ingester-1.kmlog-ingester.kmlog.svc.cluster.local.", Port: 3100},
			{Target: "kmlog-ingester-2.kmlog-ingester.kmlog.svc.cluster.local.", Port: 3100},
		}}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go WatchSRV(ctx, r, res, "_http._tcp.kmlog-ingester", time.Second, slog.New(slog.DiscardHandler))
		synctest.Wait()
		want := []string{
			"kmlog-ingester-0.kmlog-ingester.kmlog.svc.cluster.local:3100",
			"kmlog-ingester-1.kmlog-ingester.kmlog.svc.cluster.local:3100",
			"kmlog-ingester-2.kmlog-ingester.kmlog.svc.cluster.local:3100",
		}
		if got := r.Members(); !slices.Equal(got, want) {
			t.Fatalf("members %v, want %v", got, want)
		}
		// Scaled down to two: the SRV answer replaces the static list.
		res.set(res.srvs[:2], nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := r.Members(); !slices.Equal(got, want[:2]) {
			t.Fatalf("members %v, want %v", got, want[:2])
		}
	})
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"A.B.:3100":      "a.b:3100",
		"a.b:3100":       "a.b:3100",
		"[::1]:3100":     "[::1]:3100",
		"Host.":          "host",
		"10.0.0.1:3100":  "10.0.0.1:3100",
		"ingester-0:80":  "ingester-0:80",
		"Ingester-0.:80": "ingester-0:80",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHealthQuorum: readiness follows the members that answer, not the
// members listed.
func TestHealthQuorum(t *testing.T) {
	r := New([]string{"a:1", "b:1", "c:1"})
	var mu sync.Mutex
	down := map[string]bool{}
	h := NewHealth(r, func(ctx context.Context, m string) error {
		mu.Lock()
		defer mu.Unlock()
		if down[m] {
			return errors.New("connection refused")
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	if ok, _ := h.Quorum(3); ok {
		t.Fatal("quorum before any probe")
	}
	check := func(wantOK bool, wantUp int) {
		t.Helper()
		h.Check(t.Context(), time.Second)
		if ok, up := h.Quorum(3); ok != wantOK || up != wantUp {
			t.Fatalf("Quorum = %v, %d up; want %v, %d", ok, up, wantOK, wantUp)
		}
	}
	check(true, 3)
	mu.Lock()
	down["a:1"] = true
	mu.Unlock()
	check(true, 2)
	mu.Lock()
	down["b:1"] = true
	mu.Unlock()
	check(false, 1)
	// A one-member ring with RF 3 needs its one member.
	r.Set([]string{"c:1"})
	check(true, 1)
	r.Set(nil)
	check(false, 0)

	// A probe that hangs is bounded by the timeout.
	hang := NewHealth(New([]string{"x:1"}), func(ctx context.Context, _ string) error {
		<-ctx.Done()
		return ctx.Err()
	}, slog.New(slog.DiscardHandler))
	synctest.Test(t, func(t *testing.T) {
		hang.Check(t.Context(), 2*time.Second)
	})
	if ok, _ := hang.Quorum(1); ok {
		t.Fatal("a hung member counted as up")
	}
}

// FuzzNormalize: normalising is idempotent, never panics, and two
// spellings that normalise alike are one member of a ring.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a.b:3100", "A.B.:3100", "[::1]:80", "host.", "", ":", "x:y:z", "Ingester-0.svc.cluster.local.:3100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", s, n, n, Normalize(n))
		}
		if n != "" {
			if got := New([]string{s, n}).Members(); len(got) != 1 || got[0] != n {
				t.Fatalf("members of {%q, %q} = %v, want [%q]", s, n, got, n)
			}
		}
	})
}
