// Package ring places each (tenant, stream) on ingesters by rendezvous
// (highest-random-weight) hashing over a member list.
//
// Members are stable names — the StatefulSet's pod DNS names, or addresses
// from config — so a restarted ingester keeps its streams, and a member that
// joins or leaves moves only the streams it wins or held (1/N of them),
// without a gossip library or a token table. The member list comes from
// config (Static) or from DNS SRV records of a Kubernetes headless service
// (DNS), refreshed periodically.
package ring

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/kubemate/kmlog/format/tenant"
)

// Ring is a member list with rendezvous placement. It is safe for
// concurrent use; Set replaces the list atomically.
type Ring struct {
	members atomic.Pointer[[]member]
}

type member struct {
	name string
	seed uint64 // hash of the name, mixed into every score
}

// New returns a ring over the given members.
func New(members []string) *Ring {
	r := &Ring{}
	r.Set(members)
	return r
}

// Set replaces the member list. Names are normalised (Normalize), so the
// same ingester spelt twice — from ring.members and from SRV records, with
// or without the trailing dot, in another case — is one member; empty names
// are dropped.
func (r *Ring) Set(names []string) {
	names = Dedup(names)
	ms := make([]member, 0, len(names))
	for _, n := range names {
		if n != "" {
			ms = append(ms, member{name: n, seed: xxhash.Sum64String(n)})
		}
	}
	r.members.Store(&ms)
}

// Normalize returns the canonical spelling of a member "host:port": the
// host in lower case without a trailing dot (DNS names are case-insensitive
// and SRV targets are fully qualified).
func Normalize(member string) string {
	host, port, err := net.SplitHostPort(member)
	if err != nil {
		return strings.TrimRight(strings.ToLower(member), ".")
	}
	return net.JoinHostPort(strings.TrimRight(strings.ToLower(host), "."), port)
}

// Dedup returns the members normalised, sorted and without duplicates or
// empty names.
func Dedup(members []string) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		if m = Normalize(m); m != "" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Members returns the current member names, sorted.
func (r *Ring) Members() []string {
	ms := *r.members.Load()
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.name
	}
	return out
}

// Key is the placement key of a stream of a tenant.
func Key(t tenant.ID, streamHash uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], streamHash)
	h := xxhash.New()
	_, _ = h.WriteString(string(t))
	_, _ = h.Write([]byte{0xff})
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// Get appends to dst the n members with the highest scores for key, best
// first, and returns it. Fewer than n are returned when the ring is smaller.
func (r *Ring) Get(key uint64, n int, dst []string) []string {
	ms := *r.members.Load()
	if n > len(ms) {
		n = len(ms)
	}
	// Selection of the top n by score; n is small (the replication factor).
	var top [8]struct {
		score uint64
		idx   int
	}
	if n > len(top) {
		panic("BUG: ring.Get supports at most 8 replicas")
	}
	k := 0
	for i, m := range ms {
		s := mix(m.seed ^ key)
		if k < n {
			top[k].score, top[k].idx = s, i
			k++
		} else if s > top[n-1].score {
			top[n-1].score, top[n-1].idx = s, i
		} else {
			continue
		}
		// Keep top[:k] sorted by score, descending.
		for j := k - 1; j > 0 && top[j].score > top[j-1].score; j-- {
			top[j], top[j-1] = top[j-1], top[j]
		}
	}
	for i := 0; i < k; i++ {
		dst = append(dst, ms[top[i].idx].name)
	}
	return dst
}

// mix is the SplitMix64 finaliser: a cheap, well-distributed score.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Resolver is the part of net.Resolver that DNS discovery uses.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// DiscoverSRV resolves the SRV records of name (for a headless service,
// e.g. "_http._tcp.ingester.kmlog.svc.cluster.local") to "host:port"
// members, normalised and de-duplicated (Dedup).
func DiscoverSRV(ctx context.Context, res Resolver, name string) ([]string, error) {
	_, srvs, err := res.LookupSRV(ctx, "", "", name)
	if err != nil {
		return nil, fmt.Errorf("lookup SRV %s: %w", name, err)
	}
	out := make([]string, 0, len(srvs))
	for _, s := range srvs {
		out = append(out, net.JoinHostPort(s.Target, fmt.Sprint(s.Port)))
	}
	return Dedup(out), nil
}

// WatchSRV refreshes r from DNS every interval until ctx ends. The SRV
// records are the whole member list: members r started with (ring.members)
// stand until the first answer and are then replaced, not added to, so an
// ingester named both ways is never counted twice and one scaled away
// leaves. A failed or empty lookup keeps the previous members, so a DNS
// blip never empties the ring.
func WatchSRV(ctx context.Context, r *Ring, res Resolver, name string, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		members, err := DiscoverSRV(ctx, res, name)
		switch {
		case err != nil:
			logger.Warn("ring discovery failed; keeping members", "name", name, "err", err)
		case len(members) == 0:
			logger.Warn("ring discovery found no members; keeping members", "name", name)
		case !slices.Equal(members, r.Members()):
			logger.Info("ring members changed", "members", members)
			r.Set(members)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
