package frontend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
)

// listingTTL bounds how long a day's listing of index objects is reused.
// A flush or compaction that lands on a day is seen by cache keys within
// this time.
const listingTTL = 10 * time.Second

// generations names the state of a tenant's days in the bucket: a digest
// of the names of each day's index objects. Objects are immutable and
// never reuse a name, so the digest changes exactly when a flush or a
// compaction adds or retires data for the day — late entries for an old
// day included (the distributor accepts entries up to a week old). Cache
// keys carry it, so a cached shard is never served after its day changed.
type generations struct {
	bkt bucket.Bucket // nil: no listing, no generation
	now func() time.Time

	mu sync.Mutex
	m  map[string]generation
}

type generation struct {
	digest string
	at     time.Time
}

// of returns the digest of every day req reads: its Day, or for a whole
// query the days of [ShardFrom, ShardThrough).
func (g *generations) of(ctx context.Context, req querier.Request) (string, error) {
	if g.bkt == nil {
		return "", nil
	}
	if req.Day != "" {
		d, err := objkey.ParseDay(req.Day)
		if err != nil {
			return "", err
		}
		return g.day(ctx, req.Tenant, d)
	}
	if req.ShardThrough <= req.ShardFrom {
		return "", nil
	}
	h := sha256.New()
	for d := objkey.DayOf(req.ShardFrom); d <= objkey.DayOf(req.ShardThrough-1); d++ {
		s, err := g.day(ctx, req.Tenant, d)
		if err != nil {
			return "", err
		}
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (g *generations) day(ctx context.Context, t tenant.ID, d objkey.Day) (string, error) {
	k := string(t) + "/" + d.String()
	now := g.now()
	g.mu.Lock()
	if e, ok := g.m[k]; ok && now.Sub(e.at) < listingTTL {
		g.mu.Unlock()
		return e.digest, nil
	}
	g.mu.Unlock()
	h := sha256.New()
	err := g.bkt.List(ctx, objkey.IndexPrefix(t, d), func(oi bucket.ObjectInfo) error {
		h.Write([]byte(oi.Key))
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("list index objects of %s %s: %w", t, d, err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]generation{}
	}
	if len(g.m) > 10000 { // forget expired listings now and then
		for key, e := range g.m {
			if now.Sub(e.at) >= listingTTL {
				delete(g.m, key)
			}
		}
	}
	g.m[k] = generation{digest: digest, at: now}
	return digest, nil
}
