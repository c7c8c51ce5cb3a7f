package ring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ingester-%d.ingester.kmlog.svc:3100", i)
	}
	return out
}

func TestGetDistinctAndStable(t *testing.T) {
	r := New(names(5))
	for s := uint64(0); s < 1000; s++ {
		k := Key("t", s)
		got := r.Get(k, 3, nil)
		if len(got) != 3 {
			t.Fatalf("got %v", got)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(got)))) != 3 {
			t.Fatalf("duplicate members %v", got)
		}
		if again := New(names(5)).Get(k, 3, nil); !slices.Equal(again, got) {
			t.Fatalf("placement not stable: %v then %v", got, again)
		}
	}
}

func TestGetSmallRing(t *testing.T) {
	r := New(names(2))
	if got := r.Get(Key("t", 1), 3, nil); len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	if got := New(nil).Get(1, 3, nil); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

// TestBalanceAndMinimalMovement: placement is even, and removing one member
// moves only the keys that member held.
func TestBalanceAndMinimalMovement(t *testing.T) {
	all := names(6)
	r := New(all)
	counts := map[string]int{}
	const n = 60000
	before := make([][]string, n)
	for s := uint64(0); s < n; s++ {
		before[s] = r.Get(Key(tenant.ID("tenant-financial"), s*0x9e3779b97f4a7c15), 3, nil)
		for _, m := range before[s] {
			counts[m]++
		}
	}
	for m, c := range counts {
		if c < n*3/6*9/10 || c > n*3/6*11/10 {
			t.Errorf("member %s holds %d replicas, want about %d", m, c, n*3/6)
		}
	}
	gone := all[2]
	r2 := New(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == gone }))
	for s := uint64(0); s < n; s++ {
		after := r2.Get(Key(tenant.ID("tenant-financial"), s*0x9e3779b97f4a7c15), 3, nil)
		kept := slices.DeleteFunc(slices.Clone(before[s]), func(m string) bool { return m == gone })
		for _, m := range kept {
			if !slices.Contains(after, m) {
				t.Fatalf("key %d: %s lost its replica although it stayed (before %v after %v)", s, m, before[s], after)
			}
		}
	}
}

func TestOrderIndependent(t *testing.T) {
	a := New(names(4))
	b := New(slices.Collect(slices.Values([]string{names(4)[3], names(4)[1], names(4)[0], names(4)[2], names(4)[0]})))
	for s := uint64(0); s < 100; s++ {
		if !slices.Equal(a.Get(s, 3, nil), b.Get(s, 3, nil)) {
			t.Fatal("placement depends on member order")
		}
	}
}

type fakeResolver struct {
	mu   sync.Mutex
	srvs []*net.SRV
	err  error
}

func (f *fakeResolver) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "", slices.Clone(f.srvs), f.err
}

func (f *fakeResolver) set(srvs []*net.SRV, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srvs, f.err = srvs, err
}

func TestWatchSRV(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := &fakeResolver{srvs: []*net.SRV{{Target: "ingester-1.svc.", Port: 3100}, {Target: "ingester-0.svc.", Port: 3100}}}
		r := New(nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go WatchSRV(ctx, r, res, "_http._tcp.ingester", time.Second, slog.New(slog.DiscardHandler))
		synctest.Wait()
		if got := r.Members(); !slices.Equal(got, []string{"ingester-0.svc:3100", "ingester-1.svc:3100"}) {
			t.Fatalf("members %v", got)
		}
		res.set(res.srvs, errors.New("dns down"))
		time.Sleep(time.Second)
		synctest.Wait()
		if len(r.Members()) != 2 {
			t.Fatal("a failed lookup emptied the ring")
		}
		res.set(append(slices.Clone(res.srvs), &net.SRV{Target: "ingester-2.svc.", Port: 3100}), nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if len(r.Members()) != 3 {
			t.Fatalf("members %v", r.Members())
		}
	})
}
