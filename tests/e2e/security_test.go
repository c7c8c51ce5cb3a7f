package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 into dir and
// returns the cert and key paths and a pool that trusts it.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kmlog-e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

func signHS256(t testing.TB, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGatewayAuthAndTLS runs an all-in-one kmlog with TLS and JWT auth on
// and talks to it over HTTP/2. The tenant comes from the token: a forged
// X-Scope-OrgID changes nothing, and bad tokens get 401.
func TestGatewayAuthAndTLS(t *testing.T) {
	srv := miniotest.StartShared(t)
	bkt, storage := minioBucket(t, srv, t.Name())
	const secret = "e2e-secret-that-is-at-least-32-bytes-long"
	p := NewProc(t, "all-tls")
	certFile, keyFile, pool := selfSigned(t, p.Dir)
	p.Scheme = "https"
	p.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
	p.Start(merge(storage, Config{
		"target": "all",
		"gateway": Config{
			"tls":  Config{"cert_file": certFile, "key_file": keyFile},
			"auth": Config{"enabled": true, "hs256_secret": secret, "tenant_claim": "tenant"},
		},
	}))

	resp, err := p.Client.Get(p.URL("/ready"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS == nil {
		t.Fatalf("/ready over %s (TLS %v), want HTTP/2 over TLS", resp.Proto, resp.TLS != nil)
	}

	const real, forged = tenant.ID("tenant-jwt"), tenant.ID("tenant-forged")
	good := signHS256(t, secret, jwt.MapClaims{"tenant": string(real), "exp": time.Now().Add(time.Hour).Unix()})
	reqs := requests(generator(4, []tenant.ID{real}, 1000).Take(300))
	ps := protoPush(forged, reqs[real]) // the client claims another tenant
	ps.Token = good
	p.MustPush(ps, 204)
	want := recsOf(real, reqs[real])

	bad := []struct {
		name  string
		token string
		code  int
	}{
		{"no token", "", 401},
		{"expired", signHS256(t, secret, jwt.MapClaims{"tenant": string(real), "exp": time.Now().Add(-time.Hour).Unix()}), 401},
		{"not yet valid", signHS256(t, secret, jwt.MapClaims{"tenant": string(real), "nbf": time.Now().Add(time.Hour).Unix()}), 401},
		{"other secret", signHS256(t, "another-secret-that-is-32-bytes-or-more", jwt.MapClaims{"tenant": string(real)}), 401},
		{"alg none", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"tenant": string(real)}).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(), 401},
		{"garbage", "not.a.jwt", 401},
		{"no tenant claim", signHS256(t, secret, jwt.MapClaims{"sub": "someone", "exp": time.Now().Add(time.Hour).Unix()}), 403},
	}
	for _, c := range bad {
		ps := protoPush(forged, reqs[real])
		ps.Token = c.token
		if code, body, err := p.Do(t.Context(), ps); err != nil || code != c.code {
			t.Errorf("%s: status %d (%v), want %d: %s", c.name, code, err, c.code, body)
		}
	}

	p.Token = good // /flush should need a token too (TestAllInOneFlushRequiresAuth)
	p.Flush()
	if st := readStored(t, bkt, objkey.TenantPrefix(forged)); len(st.Keys) != 0 {
		t.Errorf("the forged tenant's prefix holds %v", st.Keys)
	}
	st := readStored(t, bkt, "")
	slices.SortFunc(want, compareRecs)
	diffRecs(t, st.Recs, want)
}

// TestAllInOneFlushRequiresAuth: with auth enabled, the all-in-one
// process's public port must not let an anonymous caller force flushes
// (each one writes a small data file and index per tenant/day: a cheap way
// to flood the bucket and the compactor). The gateway guards push and
// query routes, but cmd/kmlog mounts POST /flush beside the gateway, not
// behind it.
func TestAllInOneFlushRequiresAuth(t *testing.T) {
	const secret = "e2e-secret-that-is-at-least-32-bytes-long"
	p := NewProc(t, "all-auth")
	p.Start(Config{
		"target":  "all",
		"gateway": Config{"auth": Config{"enabled": true, "hs256_secret": secret}},
	})
	resp, err := p.Client.Post(p.URL("/flush"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous POST /flush with auth enabled: %s, want 401 Unauthorized", resp.Status)
	}
}
