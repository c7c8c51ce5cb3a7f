package frontend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/logql/engine"
)

// cacheVersion is part of every key: bump it when the stored form or the
// meaning of a Response changes, and old entries are simply never read.
const cacheVersion = "kmlog-results-v1"

// cacheKind is the object kind of the bucket tier: <tenant>/cache/<hash>.
const cacheKind = "cache"

// resultsCache keeps querier answers of shards that can no longer change:
// in memory (ristretto), then in the bucket under the tenant's prefix, so
// that a frontend that scaled to zero starts warm. A key is derived from
// the whole request, so entries are immutable: written once, never
// invalidated.
type resultsCache struct {
	mem *ristretto.Cache[string, *querier.Response] // nil: no memory tier
	// final keeps finished answers of metric queries whose shards are all
	// cacheable: such an answer can no longer change either, and a repeat
	// then skips decoding, merging and evaluating (a fixed-range
	// dashboard refreshed, Grafana's shared queries).
	final *ristretto.Cache[string, *engine.Result]
	bkt   bucket.Bucket // nil: no bucket tier
	log   *slog.Logger
}

func newResultsCache(size int64, bkt bucket.Bucket, log *slog.Logger) (*resultsCache, error) {
	c := &resultsCache{bkt: bkt, log: log}
	if size > 0 {
		// About one counter per 1 KiB entry, ten times the expected entries.
		counters := max(size/1024*10, 1000)
		m, err := ristretto.NewCache(&ristretto.Config[string, *querier.Response]{
			NumCounters:        counters,
			MaxCost:            size,
			BufferItems:        64,
			IgnoreInternalCost: true,
		})
		if err != nil {
			return nil, fmt.Errorf("create results cache: %w", err)
		}
		c.mem = m
		fm, err := ristretto.NewCache(&ristretto.Config[string, *engine.Result]{
			NumCounters:        max(size/8/1024*10, 1000),
			MaxCost:            max(size/8, 1),
			BufferItems:        64,
			IgnoreInternalCost: true,
		})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("create final results cache: %w", err)
		}
		c.final = fm
	}
	return c, nil
}

func (c *resultsCache) close() {
	if c.mem != nil {
		c.mem.Close()
		c.final.Close()
	}
}

// cacheKey derives the key of req: a SHA-256 over the version, the
// request with its query already canonical and Recent cleared (Recent is
// never set on a cacheable shard, but it must not split the key space),
// and the generation of the days it reads (see generations), so that data
// arriving late for an old day changes the key instead of being hidden by
// an old answer.
func cacheKey(req querier.Request, generation string) string {
	req.Recent = false
	b, err := json.Marshal(req)
	if err != nil {
		panic("BUG: marshal querier request: " + err.Error())
	}
	h := sha256.New()
	h.Write([]byte(cacheVersion))
	h.Write([]byte{0})
	h.Write(b)
	h.Write([]byte{0})
	h.Write([]byte(generation))
	return hex.EncodeToString(h.Sum(nil))
}

func objectKey(t tenant.ID, key string) string {
	return objkey.TenantPrefix(t) + cacheKind + "/" + key
}

// cacheTier says where a lookup found its answer.
type cacheTier int

const (
	tierMiss cacheTier = iota
	tierMemory
	tierBucket
)

// get looks key up in memory, then in the bucket; a bucket hit is copied
// into memory.
func (c *resultsCache) get(ctx context.Context, t tenant.ID, key string) (*querier.Response, cacheTier) {
	if c.mem != nil {
		if r, ok := c.mem.Get(key); ok {
			return r, tierMemory
		}
	}
	if c.bkt == nil {
		return nil, tierMiss
	}
	data, err := bucket.ReadAll(ctx, c.bkt, objectKey(t, key))
	if err != nil {
		if !errors.Is(err, bucket.ErrNotExist) && ctx.Err() == nil {
			c.log.Warn("read results cache object", "tenant", string(t), "key", key, "err", err)
		}
		return nil, tierMiss
	}
	var r querier.Response
	if err := json.Unmarshal(data, &r); err != nil {
		c.log.Warn("decode results cache object", "tenant", string(t), "key", key, "err", err)
		return nil, tierMiss
	}
	c.setMem(key, &r, int64(len(data)))
	return &r, tierBucket
}

// put stores r in both tiers. The bucket write is create-only where the
// bucket supports it: a racing frontend's identical object wins.
func (c *resultsCache) put(ctx context.Context, t tenant.ID, key string, r *querier.Response) {
	if c.mem == nil && c.bkt == nil {
		return
	}
	data, err := json.Marshal(r)
	if err != nil {
		c.log.Warn("encode results cache object", "err", err)
		return
	}
	c.setMem(key, r, int64(len(data)))
	if c.bkt == nil {
		return
	}
	k := objectKey(t, key)
	if co, ok := c.bkt.(bucket.CreateOnly); ok {
		err = co.PutIfAbsent(ctx, k, bytes.NewReader(data), int64(len(data)))
		if errors.Is(err, bucket.ErrExist) {
			err = nil
		}
	} else {
		err = bucket.PutBytes(ctx, c.bkt, k, data)
	}
	if err != nil && ctx.Err() == nil {
		c.log.Warn("write results cache object", "tenant", string(t), "key", key, "err", err)
	}
}

func (c *resultsCache) setMem(key string, r *querier.Response, cost int64) {
	if c.mem == nil {
		return
	}
	c.mem.Set(key, r, cost)
}

// getFinal and putFinal keep finished answers in memory only.
func (c *resultsCache) getFinal(key string) (*engine.Result, bool) {
	if c.final == nil {
		return nil, false
	}
	return c.final.Get(key)
}

func (c *resultsCache) putFinal(key string, r *engine.Result, cost int64) {
	if c.final != nil {
		c.final.Set(key, r, cost)
	}
}

// wait applies buffered memory writes, so that the next Get sees them.
func (c *resultsCache) wait() {
	if c.mem != nil {
		c.mem.Wait()
		c.final.Wait()
	}
}
