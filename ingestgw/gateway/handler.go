package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kubemate/kmlog/format/tenant"
)

// Routes holds the handlers behind the gateway. A nil handler makes its
// paths answer 404.
type Routes struct {
	// Push serves /loki/api/v1/push, /api/prom/push and OTLP's
	// /otlp/v1/logs.
	Push http.Handler
	// Query serves every other path: the rest of /loki/api/v1/,
	// /api/prom/ and /prometheus/api/v1/ (the tail WebSocket included),
	// and whatever the query frontend serves beside them (rules, delete,
	// the console). It is the frontend in process, or Forward to one
	// elsewhere. Every request reaching it is authenticated like a push.
	Query http.Handler
	// ForwardCredentials keeps the caller's Authorization header on
	// requests to Query, for a Query that forwards them to a frontend
	// which verifies the token again (its own tenant rule). Push requests
	// never keep it.
	ForwardCredentials bool
	// Ready serves /ready without authentication; nil answers 200 "ready".
	Ready http.Handler
	// Metrics serves /metrics without authentication.
	Metrics http.Handler
}

// route names are the values of the route label.
const (
	routePush    = "push"
	routeQuery   = "query"
	routeTail    = "tail"
	routeReady   = "ready"
	routeMetrics = "metrics"
)

// fakeOrgID is shared by every request without a tenant when auth is off;
// handlers must not modify header value slices.
var fakeOrgID = []string{string(tenant.Fake)}

type gateway struct {
	routes  Routes
	auth    *Authenticator // nil when auth is off
	maxBody int64
	logger  *slog.Logger

	requests     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	duration     *prometheus.HistogramVec
}

// Handler returns the gateway middleware: it routes, authenticates, sets
// X-Scope-OrgID and limits request bodies, as described in the package
// documentation. auth must be non-nil when cfg.Auth.Enabled. Metrics are
// registered on reg, so Handler may be called once per registry.
func Handler(cfg Config, auth *Authenticator, routes Routes, logger *slog.Logger, reg prometheus.Registerer) http.Handler {
	if cfg.Auth.Enabled && auth == nil {
		panic("BUG: gateway.Handler: auth enabled without an Authenticator")
	}
	if !cfg.Auth.Enabled {
		auth = nil
	}
	if routes.Ready == nil {
		routes.Ready = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ready\n"))
		})
	}
	f := promauto.With(reg)
	return &gateway{
		routes:  routes,
		auth:    auth,
		maxBody: cfg.MaxRequestBodyBytes,
		logger:  logger,
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_gateway_requests_total",
			Help: "Requests handled by the gateway, by route and status code.",
		}, []string{"route", "code"}),
		authFailures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_gateway_auth_failures_total",
			Help: "Requests rejected by authentication, by reason.",
		}, []string{"reason"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "kmlog_gateway_request_duration_seconds",
			Help:                            "Time from request to the handler's return, by route. Tail includes the WebSocket's lifetime.",
			Buckets:                         prometheus.DefBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"route"}),
	}
}

func classify(path string) string {
	switch path {
	case "/loki/api/v1/push", "/api/prom/push", "/otlp/v1/logs":
		return routePush
	case "/loki/api/v1/tail", "/api/prom/tail":
		return routeTail
	case "/ready":
		return routeReady
	case "/metrics":
		return routeMetrics
	}
	// Everything else belongs to the frontend, so that APIs it gains
	// (rules, delete, the console) need no gateway change.
	return routeQuery
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route := classify(r.URL.Path)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		g.requests.WithLabelValues(route, codeLabel(sw.code())).Inc()
		g.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}()

	var h http.Handler
	switch route {
	case routeReady:
		g.routes.Ready.ServeHTTP(sw, r)
		return
	case routeMetrics:
		h = g.routes.Metrics
		if h == nil {
			http.NotFound(sw, r)
			return
		}
		h.ServeHTTP(sw, r)
		return
	case routePush:
		h = g.routes.Push
	case routeQuery, routeTail:
		h = g.routes.Query
	}
	if h == nil {
		http.NotFound(sw, r)
		return
	}

	if !g.webSocketAuth(sw, r) {
		return
	}
	if !g.setTenant(sw, r, route != routePush && g.routes.ForwardCredentials, route == routeQuery) {
		return
	}
	if r.ContentLength > g.maxBody {
		plainError(sw, http.StatusRequestEntityTooLarge,
			"request body too large: "+strconv.FormatInt(r.ContentLength, 10)+" bytes, the limit is "+strconv.FormatInt(g.maxBody, 10))
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// The server's own writer, not sw: it closes the connection after
		// an oversized HTTP/1.1 body, which only it can do.
		r.Body = http.MaxBytesReader(w, r.Body, g.maxBody)
	}
	h.ServeHTTP(sw, r)
}

// setTenant authenticates r (auth on) or validates its header (auth off),
// and leaves the tenant in X-Scope-OrgID. It answers the request itself and
// returns false when it is rejected. keepAuth keeps the verified
// Authorization header for a handler that forwards it. multi lets a
// header name several tenants ("a|b", a multi-tenant query, which the
// query frontend allows per tenant); with auth on the tenant always comes
// from the credential alone.
func (g *gateway) setTenant(w http.ResponseWriter, r *http.Request, keepAuth, multi bool) bool {
	if g.auth == nil {
		v := headerValue(r.Header, orgIDKey)
		if v == "" {
			r.Header[orgIDKey] = fakeOrgID
			return true
		}
		parts := []string{v}
		if multi && strings.Contains(v, "|") {
			parts = strings.Split(v, "|")
		}
		for _, p := range parts {
			if _, err := parseOrgID(p); err != nil {
				plainError(w, http.StatusBadRequest, err.Error())
				return false
			}
		}
		return true
	}
	id, err := g.auth.Authenticate(r)
	// Whatever the outcome, the client's own tenant header never passes.
	delete(r.Header, orgIDKey)
	if err != nil {
		g.reject(w, r, err)
		return false
	}
	if !keepAuth {
		r.Header.Del("Authorization")
	}
	r.Header[orgIDKey] = []string{string(id)}
	return true
}

// reject answers a request whose authentication failed with err.
func (g *gateway) reject(w http.ResponseWriter, r *http.Request, err error) {
	status, reason, text := classifyAuthError(err)
	w.Header().Del(secWebSocketProtocol) // no handshake, no protocol
	g.authFailures.WithLabelValues(reason).Inc()
	g.logger.LogAttrs(r.Context(), slog.LevelDebug, "authentication failed",
		slog.String("reason", reason), slog.String("path", r.URL.Path),
		slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate(err, text))
	}
	plainError(w, status, text)
}

// classifyAuthError maps an Authenticator error to a status, a metric
// reason and a short body. It is the one place auth errors become statuses.
func classifyAuthError(err error) (status int, reason, text string) {
	switch {
	case errors.Is(err, ErrNoCredentials):
		return http.StatusUnauthorized, "no_token", "authentication required: no bearer token"
	case errors.Is(err, ErrKeysUnavailable):
		return http.StatusServiceUnavailable, "keys_unavailable", "authentication unavailable: cannot fetch signing keys"
	case errors.Is(err, ErrNoTenant):
		return http.StatusForbidden, "tenant", "token has no valid tenant claim"
	case errors.Is(err, ErrUnknownKey):
		return http.StatusUnauthorized, "unknown_key", "invalid token: unknown signing key"
	case errors.Is(err, ErrAlgorithm):
		return http.StatusUnauthorized, "algorithm", "invalid token: signing algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return http.StatusUnauthorized, "expired", "invalid token: token is expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return http.StatusUnauthorized, "not_yet_valid", "invalid token: token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return http.StatusUnauthorized, "issuer", "invalid token: wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return http.StatusUnauthorized, "audience", "invalid token: wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return http.StatusUnauthorized, "missing_claim", "invalid token: exp claim is required"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return http.StatusUnauthorized, "signature", "invalid token: signature is invalid"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return http.StatusUnauthorized, "malformed", "invalid token: malformed"
	}
	return http.StatusUnauthorized, "invalid", "invalid token"
}

func wwwAuthenticate(err error, text string) string {
	if errors.Is(err, ErrNoCredentials) {
		return `Bearer realm="kmlog"`
	}
	return fmt.Sprintf(`Bearer realm="kmlog", error="invalid_token", error_description=%q`, text)
}

func plainError(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}

func codeLabel(code int) string {
	switch code {
	case 101:
		return "101"
	case 200:
		return "200"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 413:
		return "413"
	case 429:
		return "429"
	case 499:
		return "499"
	case 500:
		return "500"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}

// statusWriter records the status code. It exposes the wrapped writer
// through Unwrap, which http.ResponseController and the WebSocket library
// use to reach Hijack and Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx codes other than 101 are informational; the final one follows.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush supports handlers that assert http.Flusher directly.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
