package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxUnknownKidInterval caps how long a token with a new kid waits for the
// refetch that may bring its key.
const maxUnknownKidInterval = 10 * time.Second

// remoteKeys caches the keys of a JWKS URL. Lookups read an immutable
// snapshot without locking; a fetch happens on the request path, one at a
// time, when the snapshot is due for refresh or a token names an unknown
// kid.
type remoteKeys struct {
	url     string
	client  *http.Client
	refresh time.Duration
	// unknownKid is the minimum time between fetches caused by unknown kids.
	unknownKid time.Duration
	logger     *slog.Logger
	now        func() time.Time

	snap atomic.Pointer[keySnapshot]
	mu   sync.Mutex // held while fetching
}

// keySnapshot is the cache state; a nil set means no fetch succeeded yet.
type keySnapshot struct {
	set   *keySet
	tried time.Time // last fetch attempt that completed (success or failure)
	next  time.Time // when the next periodic fetch is due
}

func newRemoteKeys(url string, client *http.Client, refresh time.Duration, logger *slog.Logger) *remoteKeys {
	return &remoteKeys{
		url:        url,
		client:     client,
		refresh:    refresh,
		unknownKid: min(refresh, maxUnknownKidInterval),
		logger:     logger,
		now:        time.Now,
	}
}

func (r *remoteKeys) find(ctx context.Context, kid string, alg algSet) ([]jwt.VerificationKey, error) {
	s := r.snap.Load()
	now := r.now()
	if s != nil && s.set != nil && now.Before(s.next) {
		keys, err := s.set.find(kid, alg)
		if err == nil || now.Sub(s.tried) < r.unknownKid {
			return keys, err
		}
		// Unknown kid: perhaps the issuer rotated its keys. Refetch.
	}
	s, err := r.fetch(ctx, s)
	if s == nil || s.set == nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return s.set.find(kid, alg)
}

// fetch refreshes the snapshot unless another caller already replaced old
// or a fetch was tried too recently, and returns the current snapshot. The
// error is that of the fetch, if one ran and failed.
func (r *remoteKeys) fetch(ctx context.Context, old *keySnapshot) (*keySnapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.snap.Load()
	if cur != old {
		return cur, nil
	}
	now := r.now()
	if cur != nil && now.Sub(cur.tried) < r.unknownKid && now.Before(cur.next) {
		return cur, nil
	}
	set, err := r.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about the key server.
			return cur, err
		}
		next := &keySnapshot{tried: now, next: now.Add(r.unknownKid)}
		if cur != nil {
			next.set = cur.set
		}
		r.snap.Store(next)
		r.logger.Warn("fetch JWKS", slog.String("url", r.url), slog.Any("err", err), slog.Int("cached_keys", next.set.len()))
		return next, err
	}
	next := &keySnapshot{set: set, tried: now, next: now.Add(r.refresh)}
	r.snap.Store(next)
	r.logger.Debug("fetched JWKS", slog.String("url", r.url), slog.Int("keys", set.len()))
	return next, nil
}

func (r *remoteKeys) get(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("build JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get JWKS: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	return parseJWKS(body)
}
