package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// copyBuffers lends the proxy its 32 KiB copy buffers (httputil's
// BufferPool), instead of one allocation per request.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

// Forward returns a Query handler that sends each request to the query
// frontend at base (its scheme, host and optional path prefix) and relays
// the answer, WebSocket upgrades (tail) included. Use it behind Handler,
// which has authenticated the request and set X-Scope-OrgID; with
// Routes.ForwardCredentials the caller's token goes along, so that a
// frontend verifying tokens itself accepts it.
//
// transport nil means a transport with dial and TLS handshake timeouts of
// 10 s and no response timeout: the frontend bounds a query by its own
// query_timeout, and a tail lives as long as its client.
//
// Errors reaching the frontend answer 502 with a short text; a client that
// went away is logged at debug level only.
func Forward(base *url.URL, transport http.RoundTripper, logger *slog.Logger) (http.Handler, error) {
	if base == nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: frontend_url: want an http or https URL, got %v", ErrInvalidConfig, base)
	}
	if transport == nil {
		transport = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// SetURL also sets Host to the frontend's: Knative's ingress
			// routes by Host, so the client's must not pass (it is in
			// X-Forwarded-Host).
			pr.SetURL(base)
			pr.SetXForwarded()
		},
		Transport:  transport,
		BufferPool: copyBuffers{},
		// Stream answers as they come (tail over HTTP, large results).
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				logger.LogAttrs(r.Context(), slog.LevelDebug, "client went away during a forwarded request",
					slog.String("path", r.URL.Path))
				w.WriteHeader(499)
				return
			}
			logger.LogAttrs(r.Context(), slog.LevelWarn, "forward to the query frontend",
				slog.String("path", r.URL.Path), slog.Any("err", err))
			plainError(w, http.StatusBadGateway, "query frontend unavailable")
		},
	}, nil
}
