package ship

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kmlog test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key in PEM.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, dns ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLSClientCert ships over HTTP/2 with TLS to a server that verifies
// the agent's client certificate, with a JWT-style bearer token.
func TestTLSClientCert(t *testing.T) {
	ca := newTestCA(t)
	srvCert, srvKey := ca.issue(t, "gateway", x509.ExtKeyUsageServerAuth, "gateway.kmlog.svc")
	cliCert, cliKey := ca.issue(t, "agent-node-1", x509.ExtKeyUsageClientAuth)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	rc := newReceiver()
	var peer, proto, auth string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		if len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		proto, auth = r.Proto, r.Header.Get("Authorization")
		rc.mu.Unlock()
		rc.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	cfg := testClientConfig(srv.URL + "/loki/api/v1/push")
	cfg.BearerToken = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
	cfg.TLSConfig = TLSConfig{
		CAFile:     writeFile(t, dir, "ca.pem", ca.pem),
		CertFile:   writeFile(t, dir, "cert.pem", cliCert),
		KeyFile:    writeFile(t, dir, "key.pem", cliKey),
		ServerName: "gateway.kmlog.svc",
	}
	w := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w.Close()
	c, err := New(cfg, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runClient(t, c)
	appendEntries(t, w, "t", `{app="x"}`, 0, 10, 5)
	waitFor(t, "entries over TLS", func() bool { return rc.unique() >= 10 })
	stop()
	c.http.CloseIdleConnections()
	if peer != "agent-node-1" || proto != "HTTP/2.0" || auth != "Bearer "+cfg.BearerToken {
		t.Fatalf("peer %q, proto %q, auth %q", peer, proto, auth)
	}

	// Without the client certificate the server refuses: nothing arrives,
	// and the entries stay in the WAL (retried, not dropped).
	cfg.Name = "no-cert"
	cfg.TLSConfig.CertFile, cfg.TLSConfig.KeyFile = "", ""
	w2 := openWAL(t, t.TempDir(), cfg.ClientName())
	defer w2.Close()
	c2, err := New(cfg, w2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop = runClient(t, c2)
	appendEntries(t, w2, "t2", `{app="x"}`, 0, 1, 1)
	waitFor(t, "failed attempts", func() bool { return counterValue(c2, "error") >= 2 })
	stop()
	c2.http.CloseIdleConnections()
	if rc.unique() != 10 {
		t.Fatalf("%d entries arrived without a client certificate", rc.unique()-10)
	}
}
