package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often the certificate files are checked for
// changes, at most; the check happens during a TLS handshake.
const certCheckInterval = 10 * time.Second

// Serve serves h on ln until ctx ends, then shuts down gracefully: it stops
// accepting, waits up to cfg.ShutdownTimeout for in-flight requests, closes
// what remains, and cancels the context of hijacked connections (WebSocket
// tails). With cfg.TLS set it speaks TLS with HTTP/2 and HTTP/1.1 chosen by
// ALPN; otherwise cleartext HTTP/1.1 and prior-knowledge HTTP/2 (h2c). It
// returns nil after a clean shutdown. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg Config, logger *slog.Logger) error {
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	if cfg.TLS.Enabled() {
		tc, err := serverTLSConfig(cfg.TLS, logger)
		if err != nil {
			_ = ln.Close()
			return err
		}
		srv.TLSConfig = tc
		srv.Protocols.SetHTTP2(true)
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}

	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve gateway: %w", err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	cancelBase()
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("shut down gateway: %w", err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serve gateway: %w", serr)
	}
	return err
}

func serverTLSConfig(cfg TLSConfig, logger *slog.Logger) (*tls.Config, error) {
	minVersion, err := tlsVersion(cfg.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("%w: tls.min_version: %v", ErrInvalidConfig, err)
	}
	cr := &certReloader{certFile: cfg.CertFile, keyFile: cfg.KeyFile, logger: logger, now: time.Now}
	if err := cr.load(); err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion:     minVersion,
		GetCertificate: cr.getCertificate,
	}
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("parse tls.client_ca_file %s: no PEM certificate", cfg.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// certReloader serves the certificate from disk and reloads it when either
// file's modification time changes. A reload that fails keeps the old one.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
}

func (c *certReloader) load() error {
	certMod, keyMod, err := c.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS key pair %s: %w", c.certFile, err)
	}
	c.mu.Lock()
	c.cert, c.certMod, c.keyMod, c.checked = &cert, certMod, keyMod, c.now()
	c.mu.Unlock()
	return nil
}

func (c *certReloader) modTimes() (certMod, keyMod time.Time, err error) {
	ci, err := os.Stat(c.certFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("stat tls.cert_file: %w", err)
	}
	ki, err := os.Stat(c.keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("stat tls.key_file: %w", err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}

func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	now := c.now()
	if now.Sub(c.checked) < certCheckInterval {
		cert := c.cert
		c.mu.Unlock()
		return cert, nil
	}
	c.checked = now
	certMod, keyMod, err := c.modTimes()
	changed := err == nil && (!certMod.Equal(c.certMod) || !keyMod.Equal(c.keyMod))
	cert := c.cert
	c.mu.Unlock()
	if err != nil {
		c.logger.Warn("check TLS certificate", slog.Any("err", err))
	}
	if !changed {
		return cert, nil
	}
	if err := c.load(); err != nil {
		c.logger.Warn("reload TLS certificate, keeping the old one", slog.Any("err", err))
		return cert, nil
	}
	c.logger.Info("reloaded TLS certificate", slog.String("cert_file", c.certFile))
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, nil
}
