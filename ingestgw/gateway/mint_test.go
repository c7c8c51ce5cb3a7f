package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMinter: a minted token passes the Authenticator of the same config
// (issuer, audience, a dotted tenant claim, a secret file) with its
// tenant; it is reused for a while, renewed before it expires, and
// refused by another secret. Without an HS256 secret nothing is minted.
func TestMinter(t *testing.T) {
	withFile := testAuthConfig(t)
	withFile.HS256Secret = ""
	withFile.HS256SecretFile = writeFile(t, t.TempDir(), "secret", []byte(testSecret+"\n"))
	dotted := testAuthConfig(t)
	dotted.TenantClaim = "kubemate.tenant"
	plain := DefaultConfig().Auth
	plain.Enabled, plain.HS256Secret = true, testSecret
	for name, cfg := range map[string]AuthConfig{"iss and aud": testAuthConfig(t), "secret file": withFile, "dotted claim": dotted, "defaults": plain} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, cfg.validate())
			m, err := NewMinter(cfg)
			require.NoError(t, err)
			now := time.Now()
			m.now = func() time.Time { return now }
			a, err := NewAuthenticator(cfg, nil, discardLogger())
			require.NoError(t, err)
			tok, err := m.Token("tenant-rules")
			require.NoError(t, err)
			id, err := a.Verify(context.Background(), tok)
			require.NoError(t, err)
			require.EqualValues(t, "tenant-rules", id)
			other, err := m.Token("tenant-other")
			require.NoError(t, err)
			id, err = a.Verify(context.Background(), other)
			require.NoError(t, err)
			require.EqualValues(t, "tenant-other", id)

			again, err := m.Token("tenant-rules")
			require.NoError(t, err)
			require.Equal(t, tok, again, "reused within half its lifetime")
			now = now.Add(mintTTL/2 + time.Second)
			renewed, err := m.Token("tenant-rules")
			require.NoError(t, err)
			require.NotEqual(t, tok, renewed)
			a.now = func() time.Time { return now }
			_, err = a.Verify(context.Background(), renewed)
			require.NoError(t, err)

			wrong := cfg
			wrong.HS256Secret, wrong.HS256SecretFile = testSecret+"-other", ""
			b, err := NewAuthenticator(wrong, nil, discardLogger())
			require.NoError(t, err)
			_, err = b.Verify(context.Background(), tok)
			require.ErrorIs(t, err, ErrInvalidToken)
		})
	}
	jwksOnly := testAuthConfig(t)
	jwksOnly.HS256Secret = ""
	_, err := NewMinter(jwksOnly)
	require.ErrorIs(t, err, ErrInvalidConfig)
}
