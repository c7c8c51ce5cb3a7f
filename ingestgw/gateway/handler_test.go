package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func authOnConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Auth = testAuthConfig(t)
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

func (s *testServer) count(route, code string) float64 {
	return testutil.ToFloat64(s.gw.requests.WithLabelValues(route, code))
}

func (s *testServer) authFailures(reason string) float64 {
	return testutil.ToFloat64(s.gw.authFailures.WithLabelValues(reason))
}

// TestForgedOrgIDUnderAuth is the core promise: with auth on, the tenant
// is the token's, whatever X-Scope-OrgID the client sends.
func TestForgedOrgIDUnderAuth(t *testing.T) {
	s := startServer(t, authOnConfig(t), echoRoutes(), true)
	c := s.client(t, "h2")
	tok := sign(t, jwt.SigningMethodRS256, testKeys().rsa1, "rsa1", claimsFor("tenant-financial"))
	for _, path := range []string{"/loki/api/v1/push", "/api/prom/push", "/loki/api/v1/query_range", "/prometheus/api/v1/rules", "/api/prom/label"} {
		code, body, resp := do(t, c, "POST", s.url+path, strings.NewReader(`{"streams":[]}`), map[string]string{
			"Authorization": "Bearer " + tok,
			"X-Scope-OrgID": "tenant-victim",
		})
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, 2, resp.ProtoMajor)
		route := "query"
		if strings.HasSuffix(path, "/push") {
			route = "push"
		}
		require.Equal(t, route+" tenant-financial "+path, body)
	}
	require.Equal(t, 2.0, s.count("push", "200"))
	require.Equal(t, 3.0, s.count("query", "200"))

	// Basic auth whose password is the token works the same way.
	req, err := http.NewRequest("GET", s.url+"/loki/api/v1/labels", nil)
	require.NoError(t, err)
	req.SetBasicAuth("tenant-victim", tok)
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "query tenant-financial /loki/api/v1/labels", string(b))
}

// TestAuthRejections checks statuses, bodies, headers and metrics of
// rejected requests on the real server, and that the handlers never run.
func TestAuthRejections(t *testing.T) {
	k := testKeys()
	s := startServer(t, authOnConfig(t), Routes{
		Push: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			t.Error("push handler reached")
		}),
	}, true)
	c := s.client(t, "h2")
	expired := claimsFor("t1")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	noTenant := claimsFor("t1")
	delete(noTenant, "tenant")

	tests := []struct {
		name, auth string
		status     int
		body       string
		reason     string
	}{
		{"no token", "", 401, "authentication required: no bearer token", "no_token"},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", expired), 401, "invalid token: token is expired", "expired"},
		{"unknown kid", "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa9", claimsFor("t1")), 401, "invalid token: unknown signing key", "unknown_key"},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsFor("t1")), 401, "invalid token: signing algorithm not allowed", "algorithm"},
		{"no tenant", "Bearer " + sign(t, jwt.SigningMethodES256, k.ec, "ec1", noTenant), 403, "token has no valid tenant claim", "tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"X-Scope-OrgID": "tenant-victim"}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			code, body, resp := do(t, c, "POST", s.url+"/loki/api/v1/push", strings.NewReader("x"), hdr)
			require.Equal(t, tc.status, code)
			require.Equal(t, tc.body+"\n", body)
			require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			if tc.status == 401 {
				require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer "), resp.Header.Get("WWW-Authenticate"))
			} else {
				require.Empty(t, resp.Header.Get("WWW-Authenticate"))
			}
			require.Equal(t, 1.0, s.authFailures(tc.reason))
		})
	}
	require.Equal(t, 4.0, s.count("push", "401"))
	require.Equal(t, 1.0, s.count("push", "403"))
}

func TestAuthOff(t *testing.T) {
	cfg := DefaultConfig()
	s := startServer(t, cfg, echoRoutes(), false)
	c := s.client(t, "http/1.1")
	tests := []struct {
		orgID  string
		status int
		body   string
	}{
		{"", 200, "push fake /loki/api/v1/push"},
		{"tenant-a", 200, "push tenant-a /loki/api/v1/push"},
		{"../x", 400, `parse X-Scope-OrgID: invalid tenant ID: "../x" has unsupported character '/' at byte 2` + "\n"},
		{strings.Repeat("a", 200), 400, "parse X-Scope-OrgID: invalid tenant ID: 200 bytes, the limit is 150\n"},
		{"a|b", 400, "multiple org IDs present\n"},
	}
	for _, tc := range tests {
		hdr := map[string]string{}
		if tc.orgID != "" {
			hdr["X-Scope-OrgID"] = tc.orgID
		}
		code, body, _ := do(t, c, "POST", s.url+"/loki/api/v1/push", strings.NewReader("x"), hdr)
		require.Equal(t, tc.status, code, tc.orgID)
		require.Equal(t, tc.body, body, tc.orgID)
	}
	// An Authorization header is ignored, not verified, with auth off.
	code, body, _ := do(t, c, "GET", s.url+"/loki/api/v1/labels", nil, map[string]string{"Authorization": "Bearer junk"})
	require.Equal(t, 500, code, "echo handler rejects leaked credentials")
	require.Equal(t, "credentials leaked to the handler\n", body)
}

func TestPublicAndUnknownRoutes(t *testing.T) {
	cfg := authOnConfig(t)
	routes := echoRoutes()
	routes.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics") })
	s := startServer(t, cfg, routes, false)
	c := s.client(t, "h2")
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/ready", 200, "ready\n"},
		{"/metrics", 200, "metrics"},
		// Every other path is the frontend's, and needs a token.
		{"/", 401, "authentication required: no bearer token\n"},
		{"/loki/api/v2/push", 401, "authentication required: no bearer token\n"},
		{"/ready/../loki/api/v1/push", 401, "authentication required: no bearer token\n"},
		{"/loki/api/v1/query", 401, "authentication required: no bearer token\n"},
		{"/loki/api/v1/rules", 401, "authentication required: no bearer token\n"},
	} {
		code, body, _ := do(t, c, "GET", s.url+tc.path, nil, nil)
		require.Equal(t, tc.status, code, tc.path)
		require.Equal(t, tc.body, body, tc.path)
	}

	// Without a query handler its routes are 404 and need no token.
	s2 := startServer(t, authOnConfig(t), Routes{Push: echoRoutes().Push}, false)
	code, _, _ := do(t, s2.client(t, "h2"), "GET", s2.url+"/loki/api/v1/query", nil, nil)
	require.Equal(t, 404, code)
	code, _, _ = do(t, s2.client(t, "h2"), "GET", s2.url+"/metrics", nil, nil)
	require.Equal(t, 404, code)
}

func TestProtocols(t *testing.T) {
	for _, withTLS := range []bool{true, false} {
		s := startServer(t, DefaultConfig(), echoRoutes(), withTLS)
		for _, proto := range []string{"h2", "http/1.1"} {
			code, body, resp := do(t, s.client(t, proto), "GET", s.url+"/loki/api/v1/labels", nil, nil)
			require.Equal(t, 200, code, "%s tls=%v", proto, withTLS)
			require.Equal(t, "query fake /loki/api/v1/labels", body)
			want := 2
			if proto == "http/1.1" {
				want = 1
			}
			require.Equal(t, want, resp.ProtoMajor, "%s tls=%v", proto, withTLS)
			require.Equal(t, withTLS, resp.TLS != nil)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	cfg := DefaultConfig()
	dir := t.TempDir()
	clientCert, clientKey, _ := selfSigned(t, dir)
	cfg.TLS.ClientCAFile = clientCert
	cfg.TLS.MinVersion = "1.3"
	s := startServer(t, cfg, echoRoutes(), true)

	// Without a client certificate the handshake fails.
	_, err := s.client(t, "h2").Get(s.url + "/ready")
	require.Error(t, err)

	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	require.NoError(t, err)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool, Certificates: []tls.Certificate{pair}}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	code, _, resp := do(t, &http.Client{Transport: tr}, "GET", s.url+"/ready", nil, nil)
	require.Equal(t, 200, code)
	require.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version)
}

// TestWebSocketTail checks that the tail upgrade passes through the
// gateway (status recorder included) with the token's tenant.
func TestWebSocketTail(t *testing.T) {
	routes := Routes{Query: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := TenantFrom(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		_ = conn.Write(ctx, websocket.MessageText, []byte("tenant "+string(id)))
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if err := conn.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	})}
	s := startServer(t, authOnConfig(t), routes, true)
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claimsFor("tenant-tail"))
	url := "wss" + strings.TrimPrefix(s.url, "https") + "/loki/api/v1/tail?query=%7Bjob%3D%22x%22%7D"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: s.client(t, "http/1.1")})
	require.Error(t, err, "dial without a token")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient: s.client(t, "http/1.1"),
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}, "X-Scope-OrgID": {"tenant-victim"}},
	})
	require.NoError(t, err)
	defer conn.CloseNow()
	_, msg, err := conn.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "tenant tenant-tail", string(msg))
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("ping")))
	_, msg, err = conn.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "ping", string(msg))
	require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
}

func TestBodyLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRequestBodyBytes = 1000
	s := startServer(t, cfg, echoRoutes(), true)
	c := s.client(t, "h2")

	code, _, _ := do(t, c, "POST", s.url+"/loki/api/v1/push", strings.NewReader(strings.Repeat("x", 1000)), nil)
	require.Equal(t, 200, code, "at the limit")

	// Known length: the gateway answers before the handler runs.
	code, body, _ := do(t, c, "POST", s.url+"/loki/api/v1/push", strings.NewReader(strings.Repeat("x", 1001)), nil)
	require.Equal(t, 413, code)
	require.Equal(t, "request body too large: 1001 bytes, the limit is 1000\n", body)

	// Unknown length: the handler's read fails with *http.MaxBytesError
	// (the echo handler turns that into 413).
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(strings.Repeat("y", 2000)))
		_ = pw.Close()
	}()
	code, body, _ = do(t, c, "POST", s.url+"/loki/api/v1/push", pr, nil)
	require.Equal(t, 413, code)
	require.Equal(t, "http: request body too large\n", body)
	require.Equal(t, 2.0, s.count("push", "413"))
}

func TestMaxBytesErrorReachesHandler(t *testing.T) {
	var got error
	h := Handler(Config{MaxRequestBodyBytes: 4}, nil, Routes{Push: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got = io.ReadAll(r.Body)
	})}, discardLogger(), nil)
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte("12345")); _ = pw.Close() }()
	req, err := http.NewRequest("POST", "/loki/api/v1/push", pr)
	require.NoError(t, err)
	h.ServeHTTP(discardWriter{h: http.Header{}}, req)
	_, ok := errors.AsType[*http.MaxBytesError](got)
	require.True(t, ok, "got %v", got)
}

// TestGracefulShutdown cancels Serve's context while a request is in
// flight; the request completes and Serve returns nil afterwards.
func TestGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	routes := Routes{Push: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	s := startServer(t, DefaultConfig(), routes, true)
	c := s.client(t, "h2")
	type result struct {
		code int
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := c.Post(s.url+"/loki/api/v1/push", "text/plain", strings.NewReader("x"))
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	s.stop()
	select {
	case err := <-s.done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case r := <-resc:
		t.Fatalf("request finished before release: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	r := <-resc
	require.NoError(t, r.err)
	require.Equal(t, 200, r.code)
	require.Equal(t, "done", r.body)
	require.NoError(t, <-s.done)
	s.done <- nil // for the cleanup
}

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w discardWriter) WriteHeader(int)             {}
