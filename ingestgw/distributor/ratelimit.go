package distributor

import (
	"sync"
	"time"
)

// tokenBucket is a byte-rate limiter: rate bytes per second, up to burst.
// A rate of 0 means unlimited.
type tokenBucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// allow takes n tokens if they are there, refilling for the time since the
// last call at the given rate and burst (which may change between calls as
// overrides reload).
func (b *tokenBucket) allow(now time.Time, n int64, rate float64, burst int64) bool {
	if rate <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens += el * rate
	}
	b.last = now
	if b.tokens > float64(burst) {
		b.tokens = float64(burst)
	}
	if float64(n) > b.tokens {
		return false
	}
	b.tokens -= float64(n)
	return true
}
