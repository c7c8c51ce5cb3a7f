package gateway

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkHandler measures the gateway middleware per request (routing,
// authentication, tenant header, metrics) in front of a handler that does
// nothing.
func BenchmarkHandler(b *testing.B) {
	k := testKeys()
	c := claimsFor("tenant-financial")
	tokens := []struct {
		name, token string
	}{
		{"auth_off", ""},
		{"HS256", sign(b, jwt.SigningMethodHS256, []byte(testSecret), "", c)},
		{"RS256", sign(b, jwt.SigningMethodRS256, k.rsa1, "rsa1", c)},
		{"ES256", sign(b, jwt.SigningMethodES256, k.ec, "ec1", c)},
		{"EdDSA", sign(b, jwt.SigningMethodEdDSA, k.ed, "ed1", c)},
	}
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range tokens {
		b.Run(tc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			var auth *Authenticator
			if tc.token != "" {
				cfg.Auth = testAuthConfig(b)
				var err error
				if auth, err = NewAuthenticator(cfg.Auth, nil, discardLogger()); err != nil {
					b.Fatal(err)
				}
			}
			h := Handler(cfg, auth, Routes{Push: noop}, discardLogger(), prometheus.NewRegistry())
			req, err := http.NewRequest("POST", "http://gw/loki/api/v1/push", http.NoBody)
			if err != nil {
				b.Fatal(err)
			}
			w := discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				req.Header = http.Header{}
				if tc.token != "" {
					req.Header["Authorization"] = []string{"Bearer " + tc.token}
				}
				h.ServeHTTP(w, req)
				if req.Header.Get(OrgIDHeader) == "" {
					b.Fatal("no tenant set")
				}
			}
		})
	}
}

// BenchmarkVerifyUncached measures full token verification, bypassing the
// cache of verified tokens (the first request of every token pays this).
func BenchmarkVerifyUncached(b *testing.B) {
	k := testKeys()
	c := claimsFor("tenant-financial")
	a, err := NewAuthenticator(testAuthConfig(b), nil, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
	}{
		{"HS256", sign(b, jwt.SigningMethodHS256, []byte(testSecret), "", c)},
		{"RS256", sign(b, jwt.SigningMethodRS256, k.rsa1, "rsa1", c)},
		{"ES256", sign(b, jwt.SigningMethodES256, k.ec, "ec1", c)},
		{"EdDSA", sign(b, jwt.SigningMethodEdDSA, k.ed, "ed1", c)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := a.verify(ctx, tc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
