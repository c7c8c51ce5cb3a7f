package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/kubemate/kmlog/format/tenant"
)

// TestVerify covers every accept and reject path of Authenticator.Verify
// and the status each error maps to.
func TestVerify(t *testing.T) {
	k := testKeys()
	a, err := NewAuthenticator(testAuthConfig(t), nil, discardLogger())
	require.NoError(t, err)

	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := claimsFor("tenant-financial")
		edit(c)
		return c
	}
	good := claimsFor("tenant-financial")
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", c) }

	// Alg confusion: an HS256 token whose HMAC key is the RSA public key's
	// PEM, which an attacker can download.
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	confused := sign(t, jwt.SigningMethodHS256, pubPEM, "rsa1", good)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good)
	tampered := func() string {
		parts := strings.Split(rs(good), ".")
		other := strings.Split(rs(claimsFor("tenant-other")), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}()

	tests := []struct {
		name   string
		token  string
		want   tenant.ID
		err    error // sentinel; nil means success
		status int
		reason string
	}{
		{name: "HS256", token: hs(good), want: "tenant-financial"},
		{name: "RS256 by kid", token: rs(good), want: "tenant-financial"},
		{name: "RS256 without kid", token: sign(t, jwt.SigningMethodRS256, k.rsa1, "", good), want: "tenant-financial"},
		{name: "PS256", token: sign(t, jwt.SigningMethodPS256, k.rsa1, "rsa1", good), want: "tenant-financial"},
		{name: "ES256", token: sign(t, jwt.SigningMethodES256, k.ec, "ec1", good), want: "tenant-financial"},
		{name: "EdDSA", token: sign(t, jwt.SigningMethodEdDSA, k.ed, "ed1", good), want: "tenant-financial"},
		{name: "expired within leeway", token: hs(with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })), want: "tenant-financial"},

		{name: "expired", token: hs(with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), err: jwt.ErrTokenExpired, status: 401, reason: "expired"},
		{name: "not yet valid", token: rs(with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })), err: jwt.ErrTokenNotValidYet, status: 401, reason: "not_yet_valid"},
		{name: "no exp", token: hs(with(func(c jwt.MapClaims) { delete(c, "exp") })), err: jwt.ErrTokenRequiredClaimMissing, status: 401, reason: "missing_claim"},
		{name: "wrong issuer", token: rs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), err: jwt.ErrTokenInvalidIssuer, status: 401, reason: "issuer"},
		{name: "wrong audience", token: rs(with(func(c jwt.MapClaims) { c["aud"] = []string{"grafana"} })), err: jwt.ErrTokenInvalidAudience, status: 401, reason: "audience"},
		{name: "badly signed", token: tampered, err: jwt.ErrTokenSignatureInvalid, status: 401, reason: "signature"},
		{name: "wrong HS256 secret", token: sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", good), err: jwt.ErrTokenSignatureInvalid, status: 401, reason: "signature"},
		{name: "RS256 signed by another key", token: sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa1", good), err: jwt.ErrTokenSignatureInvalid, status: 401, reason: "signature"},
		{name: "alg none", token: none, err: ErrAlgorithm, status: 401, reason: "algorithm"},
		{name: "HS256 keyed with the RSA public key", token: confused, err: jwt.ErrTokenSignatureInvalid, status: 401, reason: "signature"},
		{name: "HS384 not allowed", token: sign(t, jwt.SigningMethodHS384, []byte(testSecret), "", good), err: ErrAlgorithm, status: 401, reason: "algorithm"},
		{name: "RS256 with the EC key's kid", token: sign(t, jwt.SigningMethodRS256, k.rsa1, "ec1", good), err: ErrAlgorithm, status: 401, reason: "algorithm"},
		{name: "ES384 with the ES256 key's kid", token: sign(t, jwt.SigningMethodES384, p384, "ec1", good), err: ErrAlgorithm, status: 401, reason: "algorithm"},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa-9", good), err: ErrUnknownKey, status: 401, reason: "unknown_key"},
		{name: "garbage", token: "not.a.jwt", err: jwt.ErrTokenMalformed, status: 401, reason: "malformed"},
		{name: "two segments", token: "eyJhbGciOiJIUzI1NiJ9.e30", err: jwt.ErrTokenMalformed, status: 401, reason: "malformed"},
		{name: "huge", token: strings.Repeat("a", maxTokenBytes+1), err: ErrInvalidToken, status: 401, reason: "invalid"},
		{name: "tenant missing", token: hs(with(func(c jwt.MapClaims) { delete(c, "tenant") })), err: ErrNoTenant, status: 403, reason: "tenant"},
		{name: "tenant not a string", token: hs(with(func(c jwt.MapClaims) { c["tenant"] = 42 })), err: ErrNoTenant, status: 403, reason: "tenant"},
		{name: "tenant path traversal", token: hs(with(func(c jwt.MapClaims) { c["tenant"] = "../x" })), err: tenant.ErrInvalid, status: 403, reason: "tenant"},
		{name: "tenant multi", token: hs(with(func(c jwt.MapClaims) { c["tenant"] = "a|b" })), err: tenant.ErrInvalid, status: 403, reason: "tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Verify(context.Background(), tc.token)
			if tc.err == nil {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.ErrorIs(t, err, tc.err)
			require.Empty(t, got)
			status, reason, _ := classifyAuthError(err)
			require.Equal(t, tc.status, status, "status for %v", err)
			require.Equal(t, tc.reason, reason, "reason for %v", err)
		})
	}
}

func TestTenantClaimPaths(t *testing.T) {
	tests := []struct {
		claim  string
		claims map[string]any
		want   string
		ok     bool
	}{
		{"tenant", map[string]any{"tenant": "a"}, "a", true},
		{"kubemate.tenant", map[string]any{"kubemate": map[string]any{"tenant": "b"}}, "b", true},
		{"https://kubemate.io/tenant", map[string]any{"https://kubemate.io/tenant": "c"}, "c", true},
		{"kubemate.tenant", map[string]any{"kubemate.tenant": "d", "kubemate": map[string]any{"tenant": "e"}}, "d", true},
		{"kubemate.tenant", map[string]any{"kubemate": "flat"}, "", false},
		{"kubemate.tenant", map[string]any{"kubemate": map[string]any{"tenant": []any{"x"}}}, "", false},
		{"a.b.c", map[string]any{"a": map[string]any{"b": map[string]any{}}}, "", false},
	}
	for _, tc := range tests {
		got, ok := lookupClaim(tc.claims, tc.claim, strings.Split(tc.claim, "."))
		require.Equal(t, tc.ok, ok, tc.claim)
		require.Equal(t, tc.want, got, tc.claim)
	}

	// And through Verify, with a nested claim configured.
	cfg := testAuthConfig(t)
	cfg.TenantClaim = "kubemate.tenant"
	a, err := NewAuthenticator(cfg, nil, discardLogger())
	require.NoError(t, err)
	c := claimsFor("ignored")
	c["kubemate"] = map[string]any{"tenant": "tenant-nested"}
	got, err := a.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c))
	require.NoError(t, err)
	require.Equal(t, tenant.ID("tenant-nested"), got)
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		set  func(r *http.Request)
		want string
		ok   bool
	}{
		{func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, "abc", true},
		{func(r *http.Request) { r.Header.Set("Authorization", "bearer  abc ") }, "abc", true},
		{func(r *http.Request) { r.SetBasicAuth("tenant-x", "jwt.goes.here") }, "jwt.goes.here", true},
		{func(r *http.Request) { r.SetBasicAuth("tenant-x", "") }, "", false},
		{func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, "", false},
		{func(r *http.Request) { r.Header.Set("Authorization", "Token abc") }, "", false},
		{func(*http.Request) {}, "", false},
	}
	for i, tc := range tests {
		r, err := http.NewRequest("GET", "http://x/", nil)
		require.NoError(t, err)
		tc.set(r)
		got, ok := bearerToken(r)
		require.Equal(t, tc.ok, ok, "case %d", i)
		require.Equal(t, tc.want, got, "case %d", i)
	}
}

// jwksServer serves a JWKS document that the test can swap, counting
// fetches, or fail with 500.
type jwksServer struct {
	doc     atomic.Pointer[[]byte]
	fail    atomic.Bool
	fetches atomic.Int64
}

func (s *jwksServer) set(b []byte) { s.doc.Store(&b) }

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	if s.fail.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*s.doc.Load())
}

func TestRemoteJWKSRotation(t *testing.T) {
	k := testKeys()
	js := &jwksServer{}
	js.set(jwksDoc(t, jwkOf(t, "rsa1", "RS256", &k.rsa1.PublicKey), jwkOf(t, "ec1", "", &k.ec.PublicKey)))
	url := serveFixture(t, js)

	cfg := DefaultConfig().Auth
	cfg.Enabled = true
	cfg.JWKSURL = url
	cfg.JWKSRefresh = time.Minute
	require.NoError(t, Config{MaxRequestBodyBytes: 1, Auth: cfg}.Validate())
	a, err := NewAuthenticator(cfg, nil, discardLogger())
	require.NoError(t, err)
	now := time.Now()
	a.now = func() time.Time { return now }
	a.remote.now = a.now
	ctx := context.Background()
	verify := func(m jwt.SigningMethod, key any, kid, tenantID string) error {
		_, err := a.Verify(ctx, sign(t, m, key, kid, claimsFor(tenantID)))
		return err
	}

	require.Zero(t, js.fetches.Load(), "NewAuthenticator must not fetch")
	// The same token string later (claimsFor's iat and exp change with
	// the wall clock's second, so signing again may make another token).
	tokRSA1 := sign(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", claimsFor("t1"))
	_, err = a.Verify(ctx, tokRSA1)
	require.NoError(t, err)
	require.NoError(t, verify(jwt.SigningMethodES256, k.ec, "ec1", "t1"))
	require.NoError(t, verify(jwt.SigningMethodRS256, k.rsa1, "rsa1", "t2"))
	require.EqualValues(t, 1, js.fetches.Load(), "keys are cached")

	// The issuer rotates: rsa2 appears, rsa1 is retired.
	js.set(jwksDoc(t, jwkOf(t, "rsa2", "RS256", &k.rsa2.PublicKey)))
	// Within the unknown-kid interval the new kid is not fetched for…
	require.ErrorIs(t, verify(jwt.SigningMethodRS256, k.rsa2, "rsa2", "t1"), ErrUnknownKey)
	require.EqualValues(t, 1, js.fetches.Load())
	// …and after it, one refetch brings it in.
	now = now.Add(maxUnknownKidInterval)
	require.NoError(t, verify(jwt.SigningMethodRS256, k.rsa2, "rsa2", "t1"))
	require.EqualValues(t, 2, js.fetches.Load())
	// A new token for the retired key fails; one verified before the
	// rotation stays good until the token cache TTL.
	require.ErrorIs(t, verify(jwt.SigningMethodRS256, k.rsa1, "rsa1", "t3"), ErrUnknownKey)
	_, err = a.Verify(ctx, tokRSA1)
	require.NoError(t, err)
	// A flood of unknown kids causes no more fetches within the interval.
	for range 5 {
		require.ErrorIs(t, verify(jwt.SigningMethodRS256, k.rsa1, "rsa9", "t1"), ErrUnknownKey)
	}
	require.EqualValues(t, 2, js.fetches.Load())
	now = now.Add(tokenCacheTTL)
	_, err = a.Verify(ctx, tokRSA1)
	require.ErrorIs(t, err, ErrUnknownKey)
	require.EqualValues(t, 3, js.fetches.Load(), "unknown kid after the interval refetches")

	// The key server goes down: at the periodic refresh the cached keys stay.
	js.fail.Store(true)
	now = now.Add(cfg.JWKSRefresh)
	require.NoError(t, verify(jwt.SigningMethodRS256, k.rsa2, "rsa2", "t4"))
	require.EqualValues(t, 4, js.fetches.Load())
	require.NoError(t, verify(jwt.SigningMethodRS256, k.rsa2, "rsa2", "t5"))
	require.EqualValues(t, 4, js.fetches.Load(), "a failed fetch is not retried at once")
}

// TestTokenCache checks that a cached token still expires on time.
func TestTokenCache(t *testing.T) {
	a, err := NewAuthenticator(testAuthConfig(t), nil, discardLogger())
	require.NoError(t, err)
	now := time.Now()
	a.now = func() time.Time { return now }
	c := claimsFor("t1")
	c["exp"] = now.Add(20 * time.Second).Unix()
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c)
	for range 2 {
		id, err := a.Verify(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, tenant.ID("t1"), id)
	}
	require.Len(t, a.cache.entries, 1)
	now = now.Add(20*time.Second + a.leeway)
	_, err = a.Verify(context.Background(), tok)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)

	// The cache empties itself when full.
	for i := range tokenCacheSize + 1 {
		a.cache.put([32]byte{byte(i), byte(i >> 8)}, "t", now.Add(time.Hour))
	}
	require.Less(t, len(a.cache.entries), 3)
}

func TestRemoteJWKSUnavailable(t *testing.T) {
	js := &jwksServer{}
	js.fail.Store(true)
	cfg := DefaultConfig().Auth
	cfg.Enabled = true
	cfg.JWKSURL = serveFixture(t, js)
	a, err := NewAuthenticator(cfg, nil, discardLogger())
	require.NoError(t, err)
	_, err = a.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, testKeys().rsa1, "rsa1", claimsFor("t1")))
	require.ErrorIs(t, err, ErrKeysUnavailable)
	status, reason, _ := classifyAuthError(err)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "keys_unavailable", reason)
}

func TestNewAuthenticatorErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig().Auth
	cfg.HS256SecretFile = writeFile(t, dir, "short", []byte("short\n"))
	_, err := NewAuthenticator(cfg, nil, discardLogger())
	require.ErrorIs(t, err, ErrInvalidConfig)

	cfg = DefaultConfig().Auth
	cfg.HS256SecretFile = writeFile(t, dir, "ok", []byte(testSecret+"\n"))
	a, err := NewAuthenticator(cfg, nil, discardLogger())
	require.NoError(t, err)
	require.Equal(t, testSecret, string(a.secret), "trailing newline trimmed")

	cfg = DefaultConfig().Auth
	cfg.JWKSFile = writeFile(t, dir, "bad.json", []byte(`{"keys":[]}`))
	_, err = NewAuthenticator(cfg, nil, discardLogger())
	require.ErrorIs(t, err, ErrInvalidJWKS)

	cfg = DefaultConfig().Auth
	cfg.JWKSFile = dir + "/missing.json"
	_, err = NewAuthenticator(cfg, nil, discardLogger())
	require.Error(t, err)

	_, err = NewAuthenticator(DefaultConfig().Auth, nil, discardLogger())
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// errorsIsAny is true when err wraps one of targets.
func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// TestAlgConfusionJWKSOnly: without a shared secret, an HS256 token keyed
// with the public key is refused before any HMAC is computed.
func TestAlgConfusionJWKSOnly(t *testing.T) {
	cfg := testAuthConfig(t)
	cfg.HS256Secret = ""
	a, err := NewAuthenticator(cfg, nil, discardLogger())
	require.NoError(t, err)
	k := testKeys()
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	require.NoError(t, err)
	for _, key := range [][]byte{pubDER, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})} {
		_, err = a.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, key, "rsa1", claimsFor("t1")))
		require.ErrorIs(t, err, ErrAlgorithm)
	}
}
