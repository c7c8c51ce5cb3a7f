package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a log sink the server's goroutines write concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wsTenantHandler accepts a WebSocket without naming any subprotocol and
// reports the tenant and what it saw of the credentials.
func wsTenantHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := TenantFrom(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		msg := "tenant " + string(id) + " protocols=" + r.Header.Get("Sec-WebSocket-Protocol") +
			" authorization=" + r.Header.Get("Authorization")
		_ = conn.Write(r.Context(), websocket.MessageText, []byte(msg))
		_ = conn.Close(websocket.StatusNormalClosure, "")
	})
}

// TestWebSocketBearerProtocol: a browser's tail WebSocket carries its token
// as a subprotocol. The gateway verifies it like an Authorization header
// (the tenant is the token's whatever X-Scope-OrgID says), answers with
// kmlog.bearer, passes neither the token nor the protocols on, never logs
// the token, and refuses bad and malformed tokens — both with the frontend
// in process and behind Forward.
func TestWebSocketBearerProtocol(t *testing.T) {
	upstream := httptest.NewServer(wsTenantHandler())
	t.Cleanup(upstream.Close)
	base, err := url.Parse(upstream.URL)
	require.NoError(t, err)

	for _, mode := range []string{"in process", "forwarded"} {
		t.Run(mode, func(t *testing.T) {
			logs := &lockedBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := authOnConfig(t)
			auth, err := NewAuthenticator(cfg.Auth, nil, logger)
			require.NoError(t, err)
			routes := Routes{Query: wsTenantHandler()}
			if mode == "forwarded" {
				routes.Query, err = Forward(base, nil, logger)
				require.NoError(t, err)
			}
			gw := Handler(cfg, auth, routes, logger, prometheus.NewRegistry())
			srv := httptest.NewServer(gw)
			t.Cleanup(srv.Close)
			wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/loki/api/v1/tail?query=%7Bjob%3D%22x%22%7D"
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dial := func(protocols ...string) (*websocket.Conn, *http.Response, error) {
				return websocket.Dial(ctx, wsURL, &websocket.DialOptions{
					Subprotocols: protocols,
					HTTPHeader:   http.Header{"X-Scope-OrgID": {"tenant-victim"}},
				})
			}

			tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claimsFor("tenant-tail"))
			enc := base64.RawURLEncoding.EncodeToString([]byte(tok))
			conn, resp, err := dial(WebSocketBearerProtocol, WebSocketTokenPrefix+enc)
			require.NoError(t, err)
			defer conn.CloseNow()
			require.Equal(t, WebSocketBearerProtocol, conn.Subprotocol())
			require.Equal(t, WebSocketBearerProtocol, resp.Header.Get("Sec-WebSocket-Protocol"))
			_, msg, err := conn.Read(ctx)
			require.NoError(t, err)
			require.Equal(t, "tenant tenant-tail protocols= authorization=", string(msg))

			// A token signed with another key, an expired one, and one that
			// is not base64url are refused before any upgrade.
			other := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", claimsFor("tenant-tail"))
			expired := claimsFor("tenant-tail")
			expired["exp"] = time.Now().Add(-time.Hour).Unix()
			old := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", expired)
			for name, proto := range map[string]string{
				"wrong key":    WebSocketTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(other)),
				"expired":      WebSocketTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(old)),
				"not base64":   WebSocketTokenPrefix + "!!" + enc,
				"marker alone": "",
			} {
				protos := []string{WebSocketBearerProtocol}
				if proto != "" {
					protos = append(protos, proto)
				}
				_, resp, err := dial(protos...)
				require.Error(t, err, name)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
				require.Empty(t, resp.Header.Get("Sec-WebSocket-Protocol"), name)
			}
			for _, secret := range []string{tok, enc, other} {
				require.NotContains(t, logs.String(), secret)
			}
			require.Contains(t, logs.String(), "authentication failed", "the refusals are logged, without the token")
		})
	}
}

func TestTakeWebSocketToken(t *testing.T) {
	for _, tc := range []struct {
		name, upgrade string
		protocols     []string
		tok, left     string
		offered, err  bool
	}{
		{name: "no protocols", upgrade: "websocket"},
		{name: "not an upgrade", protocols: []string{"kmlog.bearer, kmlog.bearer.YWJj"}},
		{name: "other protocols only", upgrade: "websocket", protocols: []string{"chat, v2"}, left: "chat, v2"},
		{name: "token", upgrade: "WebSocket", protocols: []string{"kmlog.bearer, kmlog.bearer.YWJj"}, tok: "abc", offered: true},
		{name: "padded token, separate headers, others kept", upgrade: "websocket",
			protocols: []string{"chat", "kmlog.bearer.YWI=", "kmlog.bearer"}, tok: "ab", offered: true, left: "chat"},
		{name: "bad base64", upgrade: "websocket", protocols: []string{"kmlog.bearer, kmlog.bearer.a*b"}, offered: true, err: true},
		{name: "empty token", upgrade: "websocket", protocols: []string{"kmlog.bearer, kmlog.bearer."}, offered: true, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/loki/api/v1/tail", nil)
			if tc.upgrade != "" {
				r.Header.Set("Upgrade", tc.upgrade)
			}
			for _, p := range tc.protocols {
				r.Header.Add("Sec-WebSocket-Protocol", p)
			}
			tok, offered, err := takeWebSocketToken(r)
			require.Equal(t, tc.tok, tok)
			require.Equal(t, tc.offered, offered)
			require.Equal(t, tc.err, err != nil, "err %v", err)
			if tc.offered {
				require.Equal(t, tc.left, r.Header.Get("Sec-WebSocket-Protocol"))
			}
			if err != nil {
				require.NotContains(t, err.Error(), "a*b")
			}
		})
	}
}
