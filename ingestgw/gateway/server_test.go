package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	now := time.Now()
	cr := &certReloader{certFile: certFile, keyFile: keyFile, logger: discardLogger(), now: func() time.Time { return now }}
	require.NoError(t, cr.load())
	first, err := cr.getCertificate(nil)
	require.NoError(t, err)

	// A renewed certificate replaces the files (with a later mtime).
	other := t.TempDir()
	newCert, newKey, _ := selfSigned(t, other)
	replace := func(src, dst string, mod time.Time) {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, b, 0o600))
		require.NoError(t, os.Chtimes(dst, mod, mod))
	}
	mod := now.Add(time.Minute)
	replace(newCert, certFile, mod)
	replace(newKey, keyFile, mod)

	got, err := cr.getCertificate(nil)
	require.NoError(t, err)
	require.Same(t, first, got, "files are not checked before the interval")

	now = now.Add(certCheckInterval)
	second, err := cr.getCertificate(nil)
	require.NoError(t, err)
	require.NotEqual(t, first.Certificate[0], second.Certificate[0], "reloaded")

	// A half-written renewal (key does not match) keeps the last good one.
	require.NoError(t, os.WriteFile(certFile, []byte("garbage"), 0o600))
	require.NoError(t, os.Chtimes(certFile, mod.Add(time.Minute), mod.Add(time.Minute)))
	now = now.Add(certCheckInterval)
	got, err = cr.getCertificate(nil)
	require.NoError(t, err)
	require.Same(t, second, got)
}

func TestServeErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TLS.CertFile = filepath.Join(t.TempDir(), "missing.crt")
	cfg.TLS.KeyFile = cfg.TLS.CertFile
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = Serve(context.Background(), ln, nil, cfg, discardLogger())
	require.ErrorContains(t, err, "stat tls.cert_file")
	_, err = ln.Accept()
	require.Error(t, err, "Serve closes the listener")

	// A listener that fails ends Serve with the error.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	err = Serve(context.Background(), ln, nil, DefaultConfig(), discardLogger())
	require.ErrorContains(t, err, "serve gateway")
}

func TestServerTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	tc, err := serverTLSConfig(TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: certFile, MinVersion: "1.3"}, discardLogger())
	require.NoError(t, err)
	require.Equal(t, uint16(tls.VersionTLS13), tc.MinVersion)
	require.Equal(t, tls.RequireAndVerifyClientCert, tc.ClientAuth)

	_, err = serverTLSConfig(TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile}, discardLogger())
	require.ErrorContains(t, err, "no PEM certificate")
}
