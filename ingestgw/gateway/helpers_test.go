package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testSecret   = "0123456789abcdef0123456789abcdef-shared"
	testIssuer   = "https://idp.kubemate.test"
	testAudience = "kmlog"
)

// testKeys are generated once per test binary: RSA key generation is slow.
type testKeyring struct {
	rsa1, rsa2 *rsa.PrivateKey
	ec         *ecdsa.PrivateKey
	ed         ed25519.PrivateKey
}

var testKeys = sync.OnceValue(func() testKeyring {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	r1, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	r2, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	must(err)
	return testKeyring{rsa1: r1, rsa2: r2, ec: ec, ed: ed}
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf writes the public half of key as a JWK, independently of the
// parser under test.
func jwkOf(t testing.TB, kid, alg string, key crypto.PublicKey) map[string]any {
	t.Helper()
	m := map[string]any{"kid": kid, "use": "sig"}
	if alg != "" {
		m["alg"] = alg
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(k.N.Bytes())
		m["e"] = b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		require.NoError(t, err)
		size := (len(raw) - 1) / 2
		m["kty"], m["crv"] = "EC", k.Curve.Params().Name
		m["x"], m["y"] = b64(raw[1:1+size]), b64(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(k)
	default:
		t.Fatalf("jwkOf: unsupported %T", key)
	}
	return m
}

func jwksDoc(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	return b
}

// standardJWKS holds rsa1 ("rsa1", RS256 and PS256 by key type), ec
// ("ec1"), and ed ("ed1").
func standardJWKS(t testing.TB) []byte {
	k := testKeys()
	return jwksDoc(t,
		jwkOf(t, "rsa1", "", &k.rsa1.PublicKey),
		jwkOf(t, "ec1", "ES256", &k.ec.PublicKey),
		jwkOf(t, "ed1", "", k.ed.Public()),
	)
}

func claimsFor(tenantID string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":    testIssuer,
		"aud":    testAudience,
		"sub":    "agent-1",
		"exp":    now.Add(time.Hour).Unix(),
		"iat":    now.Unix(),
		"tenant": tenantID,
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// testAuthConfig enables HS256 and the standard JWKS file.
func testAuthConfig(t testing.TB) AuthConfig {
	cfg := DefaultConfig().Auth
	cfg.Enabled = true
	cfg.HS256Secret = testSecret
	cfg.JWKSFile = writeFile(t, t.TempDir(), "jwks.json", standardJWKS(t))
	cfg.Issuer = testIssuer
	cfg.Audience = testAudience
	return cfg
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "kmlog-gateway-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile = writeFile(t, dir, "tls.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile = writeFile(t, dir, "tls.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// testServer is a real gateway on a 127.0.0.1 listener.
type testServer struct {
	url    string // scheme://127.0.0.1:port
	pool   *x509.CertPool
	reg    *prometheus.Registry
	gw     *gateway
	stop   context.CancelFunc
	done   chan error
	closer []func()
}

// startServer starts Serve with Handler in front of routes. TLS is on when
// withTLS is true; auth follows cfg.Auth.Enabled.
func startServer(t *testing.T, cfg Config, routes Routes, withTLS bool) *testServer {
	t.Helper()
	s := &testServer{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	scheme := "http"
	if withTLS {
		cfg.TLS.CertFile, cfg.TLS.KeyFile, s.pool = selfSigned(t, t.TempDir())
		scheme = "https"
	}
	require.NoError(t, cfg.Validate())
	var auth *Authenticator
	if cfg.Auth.Enabled {
		var err error
		auth, err = NewAuthenticator(cfg.Auth, nil, discardLogger())
		require.NoError(t, err)
	}
	h := Handler(cfg, auth, routes, discardLogger(), s.reg)
	s.gw = h.(*gateway)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.url = scheme + "://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- Serve(ctx, ln, h, cfg, discardLogger()) }()
	t.Cleanup(func() {
		for _, c := range s.closer {
			c()
		}
		cancel()
		require.NoError(t, <-s.done)
	})
	return s
}

// client returns a client that speaks exactly one protocol: "h2" (over TLS,
// or h2c in cleartext) or "http/1.1".
func (s *testServer) client(t *testing.T, proto string) *http.Client {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	if s.pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.pool}
	}
	switch {
	case proto == "http/1.1":
		tr.Protocols.SetHTTP1(true)
	case s.pool != nil:
		tr.Protocols.SetHTTP2(true)
	default:
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	s.closer = append(s.closer, tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// do sends one request and returns status, body and the response.
func do(t *testing.T, c *http.Client, method, url string, body io.Reader, hdr map[string]string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp
}

// echoRoutes answer "<route> <tenant> <path>" and report what the handler
// saw of the credentials.
func echoRoutes() Routes {
	echo := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := TenantFrom(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if r.Header.Get("Authorization") != "" {
				http.Error(w, "credentials leaked to the handler", http.StatusInternalServerError)
				return
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			_, _ = io.WriteString(w, name+" "+string(id)+" "+r.URL.Path)
		})
	}
	return Routes{Push: echo("push"), Query: echo("query")}
}
