package gateway

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kubemate/kmlog/format/tenant"
)

// Minter signs short-lived tokens that an Authenticator with the same
// AuthConfig accepts, for kmlog's own services that write on a tenant's
// behalf through the gateway: the ruler pushing recording rules' samples.
// The token is an ordinary HS256 token with the tenant claim, so the
// gateway verifies it like any other and takes the tenant from it alone;
// only a holder of the shared secret can mint one. Without an HS256
// secret (keys from a JWKS only) kmlog cannot mint tokens.
//
// A Minter is safe for concurrent use. It reuses a tenant's token for
// half of mintTTL.
type Minter struct {
	secret   []byte
	claim    string
	issuer   string
	audience string
	now      func() time.Time

	mu     sync.Mutex
	tokens map[tenant.ID]minted
}

type minted struct {
	token string
	until time.Time
}

// mintTTL is the lifetime of a minted token.
const mintTTL = 10 * time.Minute

// NewMinter reads the HS256 secret of cfg. cfg must have passed Validate.
func NewMinter(cfg AuthConfig) (*Minter, error) {
	secret, err := hs256Secret(cfg)
	if err != nil {
		return nil, err
	}
	if secret == nil {
		return nil, fmt.Errorf("%w: auth: minting tokens needs hs256_secret or hs256_secret_file", ErrInvalidConfig)
	}
	claim := cfg.TenantClaim
	if claim == "" {
		claim = "tenant"
	}
	return &Minter{secret: secret, claim: claim, issuer: cfg.Issuer, audience: cfg.Audience,
		now: time.Now, tokens: map[tenant.ID]minted{}}, nil
}

// Token returns a token for tenant t. The tenant claim is set as a
// top-level claim, which the Authenticator reads before a dotted path.
func (m *Minter) Token(t tenant.ID) (string, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok, ok := m.tokens[t]; ok && now.Before(tok.until) {
		return tok.token, nil
	}
	claims := jwt.MapClaims{m.claim: string(t), "iat": now.Unix(), "exp": now.Add(mintTTL).Unix()}
	if m.issuer != "" {
		claims["iss"] = m.issuer
	}
	if m.audience != "" {
		claims["aud"] = m.audience
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(m.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	if len(m.tokens) >= tokenCacheSize {
		clear(m.tokens)
	}
	m.tokens[t] = minted{token: s, until: now.Add(mintTTL / 2)}
	return s, nil
}

// hs256Secret returns the configured HS256 secret, or nil when there is
// none.
func hs256Secret(cfg AuthConfig) ([]byte, error) {
	switch {
	case cfg.HS256Secret != "":
		return []byte(cfg.HS256Secret), nil
	case cfg.HS256SecretFile != "":
		b, err := os.ReadFile(cfg.HS256SecretFile)
		if err != nil {
			return nil, fmt.Errorf("read auth.hs256_secret_file: %w", err)
		}
		secret := bytes.TrimRight(b, "\r\n")
		if len(secret) < MinHS256SecretBytes {
			return nil, fmt.Errorf("%w: auth.hs256_secret_file: secret must be at least %d bytes, got %d",
				ErrInvalidConfig, MinHS256SecretBytes, len(secret))
		}
		return secret, nil
	}
	return nil, nil
}
