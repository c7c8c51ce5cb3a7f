package querier

import (
	"context"
	"fmt"
	"sync"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/logql/engine"
)

// viewFile is one live data file of a day.
type viewFile struct {
	indexKey, dataKey string
}

// view lists a day once and resolves it as format/manifest specifies:
// the newest generation's compaction outputs and the flushes it does not
// replace. It also returns the delete requests whose lines must be hidden
// (nil when none): those marked in the day that the newest generation has
// not removed from its files.
func (d *day) view(ctx context.Context) ([]viewFile, *engine.Deleter, error) {
	var (
		l      manifest.Listing
		newest bucket.ObjectInfo
		gen    uint64
	)
	err := d.bkt.List(ctx, objkey.IndexPrefix(d.t, d.d), func(oi bucket.ObjectInfo) error {
		o, err := objkey.ParseDayObject(oi.Key)
		if err != nil {
			return nil
		}
		l.Add(o)
		if o.Leaf == objkey.LeafManifest && o.Gen >= gen {
			gen, newest = o.Gen, oi
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list index objects of %s %s: %w", d.t, d.d, err)
	}
	var m *manifest.Manifest
	if gen > 0 {
		v, err := d.q.small.get(ctx, d.bkt, newest, func(b []byte) (any, error) { return manifest.Decode(b) })
		if err != nil {
			return nil, nil, fmt.Errorf("read manifest %s: %w", newest.Key, err)
		}
		m = v.(*manifest.Manifest)
	}
	var files []viewFile
	for _, f := range manifest.Resolve(&l, m) {
		files = append(files, viewFile{indexKey: f.IndexKey(d.t, d.d), dataKey: objkey.Data(d.t, d.d, f.ID)})
	}
	var del *engine.Deleter
	for _, id := range manifest.PendingDeletes(&l, m) {
		key := objkey.DeleteMarker(d.t, d.d, id)
		v, err := d.q.small.get(ctx, d.bkt, bucket.ObjectInfo{Key: key}, func(b []byte) (any, error) { return manifest.DecodeDelete(b) })
		if err != nil {
			return nil, nil, fmt.Errorf("read delete marker %s: %w", key, err)
		}
		r := v.(manifest.DeleteRequest)
		if r.End < d.from || r.Start >= d.through {
			continue
		}
		if del == nil {
			del = &engine.Deleter{}
		}
		if err := del.Add(r.Query, r.Start, r.End); err != nil {
			return nil, nil, err
		}
	}
	return files, del, nil
}

// smallCache keeps decoded manifests and delete markers by key (and, for
// manifests, modification time: a day deleted whole and written again
// may reuse a generation's name). It holds at most smallCacheMax objects,
// dropping all when full.
type smallCache struct {
	mu sync.Mutex
	m  map[string]any
}

const smallCacheMax = 4096

func (c *smallCache) get(ctx context.Context, bkt bucket.Bucket, oi bucket.ObjectInfo, decode func([]byte) (any, error)) (any, error) {
	k := oi.Key + "\x00" + oi.Modified.String()
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	b, err := bucket.ReadAll(ctx, bkt, oi.Key)
	if err != nil {
		return nil, err
	}
	if v, err = decode(b); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= smallCacheMax {
		c.m = map[string]any{}
	}
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}
