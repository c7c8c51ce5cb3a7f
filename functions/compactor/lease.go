package compactor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// A day's lease keeps two compactors from merging the same day at once
// (which would be safe, as only one can commit a generation, but
// wasteful). Leases are numbered by epoch under the day's lease prefix;
// the highest epoch is the lease. A compactor takes a free or expired
// lease by creating the next epoch with a create-only put, so of two
// racing for it exactly one wins; it releases the lease by deleting its
// epoch.
type leaseBody struct {
	Holder  string `json:"holder"`
	Expires int64  `json:"expires_ns"`
}

func (c *Compactor) acquire(ctx context.Context, t tenant.ID, d objkey.Day, now time.Time) (release func(), ok bool, err error) {
	var top uint64
	var keys []string
	err = c.bkt.List(ctx, objkey.LeasePrefix(t, d), func(oi bucket.ObjectInfo) error {
		if e, err := objkey.ParseLease(oi.Key); err == nil {
			keys = append(keys, oi.Key)
			top = max(top, e)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("list leases: %w", err)
	}
	if top > 0 {
		b, err := bucket.ReadAll(ctx, c.bkt, objkey.Lease(t, d, top))
		switch {
		case errors.Is(err, bucket.ErrNotExist):
			// Released a moment ago.
		case err != nil:
			return nil, false, fmt.Errorf("read lease: %w", err)
		default:
			var lb leaseBody
			if json.Unmarshal(b, &lb) == nil && lb.Expires > now.UnixNano() {
				return nil, false, nil
			}
		}
	}
	key := objkey.Lease(t, d, top+1)
	body, _ := json.Marshal(leaseBody{Holder: c.holder, Expires: now.Add(c.cfg.LeaseTTL).UnixNano()})
	if err := c.create.PutIfAbsent(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
		if errors.Is(err, bucket.ErrExist) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("take lease %s: %w", key, err)
	}
	for _, k := range keys {
		_ = c.bkt.Delete(ctx, k)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.bkt.Delete(ctx, key); err != nil {
			c.logger.Warn("release lease; it expires by itself", "key", key, "err", err)
		}
	}, true, nil
}
