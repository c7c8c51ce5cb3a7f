package gateway

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
)

// Agents send the same token with every push until it nears expiry, so the
// authenticator remembers tokens it verified. An entry lives until the
// token expires (with leeway) or tokenCacheTTL passes, whichever is first;
// the TTL bounds how long a key removed from the JWKS keeps working. The
// cache is keyed by the token's SHA-256, holds only successes, and is
// emptied when it reaches tokenCacheSize entries.
const (
	tokenCacheTTL  = time.Minute
	tokenCacheSize = 4096
)

type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	tenant tenant.ID
	until  time.Time
}

func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (tenant.ID, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return "", false
	}
	return e.tenant, true
}

func (c *tokenCache) put(key [sha256.Size]byte, id tenant.ID, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= tokenCacheSize {
		c.entries = make(map[[sha256.Size]byte]cachedToken, 64)
	}
	c.entries[key] = cachedToken{tenant: id, until: until}
}
