package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kubemate/kmlog/format/tenant"
)

// maxTokenBytes bounds the token accepted before any decoding.
const maxTokenBytes = 16 << 10

// Authenticator verifies JWTs and maps them to tenants. It is safe for
// concurrent use.
type Authenticator struct {
	parser    *jwt.Parser
	secret    []byte      // HS256; nil when not configured
	static    *keySet     // from jwks_file; nil when not configured
	remote    *remoteKeys // from jwks_url; nil when not configured
	claim     string
	claimPath []string
	leeway    time.Duration
	logger    *slog.Logger
	now       func() time.Time // the clock; tests replace it
	cache     tokenCache
}

// NewAuthenticator reads the configured secret and JWKS files and prepares
// the JWKS URL, which is fetched on first use, not here. client fetches the
// JWKS URL; nil means a client with a 10 s timeout. cfg must have passed
// Validate; Enabled is not consulted.
func NewAuthenticator(cfg AuthConfig, client *http.Client, logger *slog.Logger) (*Authenticator, error) {
	a := &Authenticator{}
	opts := []jwt.ParserOption{
		jwt.WithTimeFunc(func() time.Time { return a.now() }),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	a.parser = jwt.NewParser(opts...)
	a.claim, a.claimPath = cfg.TenantClaim, strings.Split(cfg.TenantClaim, ".")
	a.leeway, a.logger, a.now = cfg.Leeway, logger, time.Now
	if a.claim == "" {
		a.claim, a.claimPath = "tenant", []string{"tenant"}
	}
	var err error
	if a.secret, err = hs256Secret(cfg); err != nil {
		return nil, err
	}
	if cfg.JWKSFile != "" {
		b, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("read auth.jwks_file: %w", err)
		}
		if a.static, err = parseJWKS(b); err != nil {
			return nil, fmt.Errorf("parse auth.jwks_file %s: %w", cfg.JWKSFile, err)
		}
	}
	if cfg.JWKSURL != "" {
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		a.remote = newRemoteKeys(cfg.JWKSURL, client, cfg.JWKSRefresh, logger)
	}
	if a.secret == nil && a.static == nil && a.remote == nil {
		return nil, fmt.Errorf("%w: auth: no key source", ErrInvalidConfig)
	}
	return a, nil
}

// Authenticate verifies the request's bearer token and returns its tenant.
// The token comes from "Authorization: Bearer <jwt>" or, for clients that
// only do basic auth, from the basic-auth password.
func (a *Authenticator) Authenticate(r *http.Request) (tenant.ID, error) {
	tok, ok := bearerToken(r)
	if !ok {
		return "", ErrNoCredentials
	}
	return a.Verify(r.Context(), tok)
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		tok := strings.TrimSpace(h[7:])
		return tok, tok != ""
	}
	if _, pass, ok := r.BasicAuth(); ok && pass != "" {
		return pass, true
	}
	return "", false
}

// Verify verifies a raw JWT and returns the tenant named by its claim. ctx
// bounds a JWKS fetch, if one is needed. Verified tokens are cached for up
// to a minute (see tokenCacheTTL).
func (a *Authenticator) Verify(ctx context.Context, raw string) (tenant.ID, error) {
	if len(raw) > maxTokenBytes {
		return "", fmt.Errorf("%w: token of %d bytes, the limit is %d", ErrInvalidToken, len(raw), maxTokenBytes)
	}
	now := a.now()
	key := sha256.Sum256([]byte(raw))
	if id, ok := a.cache.get(key, now); ok {
		return id, nil
	}
	id, exp, err := a.verify(ctx, raw)
	if err != nil {
		return "", err
	}
	until := exp.Add(a.leeway)
	if ttl := now.Add(tokenCacheTTL); ttl.Before(until) {
		until = ttl
	}
	a.cache.put(key, id, until)
	return id, nil
}

// verify does the work of Verify and also returns the token's expiry.
func (a *Authenticator) verify(ctx context.Context, raw string) (tenant.ID, time.Time, error) {
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		return a.key(ctx, t)
	})
	if err != nil {
		// Keep our sentinel on top when the key lookup failed.
		for _, s := range []error{ErrUnknownKey, ErrAlgorithm, ErrKeysUnavailable} {
			if errors.Is(err, s) {
				return "", time.Time{}, err
			}
		}
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	v, ok := lookupClaim(claims, a.claim, a.claimPath)
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: claim %q is missing or not a string", ErrNoTenant, a.claim)
	}
	id, err := tenant.Parse(v)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: claim %q: %w", ErrNoTenant, a.claim, err)
	}
	// exp is required, so the parser has checked that it is present.
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return "", time.Time{}, fmt.Errorf("%w: exp: %v", ErrInvalidToken, err)
	}
	return id, exp.Time, nil
}

// key returns the key or keys that may verify t, enforcing the algorithm
// allow-list: the shared secret verifies HS256 only, JWKS keys verify only
// their own algorithms, and every other algorithm (none, HS384, …) fails.
func (a *Authenticator) key(ctx context.Context, t *jwt.Token) (any, error) {
	algName, _ := t.Header["alg"].(string)
	alg, known := algNames[algName]
	if !known {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, algName)
	}
	if alg == algHS256 {
		if a.secret == nil {
			return nil, fmt.Errorf("%w: HS256 without a shared secret", ErrAlgorithm)
		}
		return a.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	var keys []jwt.VerificationKey
	var err error = fmt.Errorf("%w: %s without a JWKS", ErrAlgorithm, algName)
	if a.static != nil {
		keys, err = a.static.find(kid, alg)
	}
	if len(keys) == 0 && a.remote != nil {
		var rerr error
		keys, rerr = a.remote.find(ctx, kid, alg)
		if a.static == nil || !errors.Is(rerr, ErrUnknownKey) {
			err = rerr
		}
	}
	if len(keys) == 0 {
		return nil, err
	}
	if len(keys) == 1 {
		return keys[0], nil
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

// lookupClaim returns the string claim name, trying it as a top-level claim
// first (names like "https://kubemate.io/tenant" contain dots) and then as a
// dotted path.
func lookupClaim(claims map[string]any, name string, path []string) (string, bool) {
	if v, ok := claims[name]; ok {
		s, ok := v.(string)
		return s, ok
	}
	if len(path) < 2 {
		return "", false
	}
	cur := claims
	for i, p := range path {
		v, ok := cur[p]
		if !ok {
			return "", false
		}
		if i == len(path)-1 {
			s, ok := v.(string)
			return s, ok
		}
		if cur, ok = v.(map[string]any); !ok {
			return "", false
		}
	}
	return "", false
}
