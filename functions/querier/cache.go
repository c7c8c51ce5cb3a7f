package querier

import (
	"container/list"
	"sync"

	"github.com/kubemate/kmlog/format/index"
)

// indexCache keeps decoded index objects by key, least recently used out
// first, within a byte budget (the encoded sizes). Objects are immutable
// and their keys never repeat, so entries never need invalidation. It is
// safe for concurrent use. A zero budget caches nothing.
type indexCache struct {
	mu     sync.Mutex
	budget int64
	used   int64
	ll     *list.List // front = most recent; values are *cacheEntry
	byKey  map[string]*list.Element
}

type cacheEntry struct {
	key  string
	ix   *index.Index
	cost int64
}

func newIndexCache(budget int64) *indexCache {
	return &indexCache{budget: budget, ll: list.New(), byKey: make(map[string]*list.Element)}
}

func (c *indexCache) get(key string) (*index.Index, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).ix, true
}

// add stores ix under key at the given cost; an object larger than the
// whole budget is not kept.
func (c *indexCache) add(key string, ix *index.Index, cost int64) {
	if cost > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.ll.PushFront(&cacheEntry{key: key, ix: ix, cost: cost})
	c.used += cost
	for c.used > c.budget {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.byKey, e.key)
		c.used -= e.cost
	}
}

// size returns the entries and bytes held.
func (c *indexCache) size() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.used
}
