package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// TestForward runs a gateway that forwards queries to a frontend in
// another server: the frontend gets the token's tenant whatever the client
// claimed, the token itself (to verify again), the path and query intact,
// and WebSocket tails pass through.
func TestForward(t *testing.T) {
	type seen struct{ orgID, auth, uri, host string }
	got := make(chan seen, 10)
	frontend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get(OrgIDHeader), r.Header.Get("Authorization"), r.URL.RequestURI(), r.Host}
		if r.URL.Path == "/loki/api/v1/tail" {
			conn, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer conn.CloseNow()
			_ = conn.Write(r.Context(), websocket.MessageText, []byte("tail "+r.Header.Get(OrgIDHeader)))
			_, _, _ = conn.Read(r.Context())
			return
		}
		_, _ = w.Write([]byte("frontend " + r.Header.Get(OrgIDHeader)))
	}))
	defer frontend.Close()
	base, err := url.Parse(frontend.URL)
	require.NoError(t, err)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	fwd, err := Forward(base, tr, discardLogger())
	require.NoError(t, err)

	routes := echoRoutes()
	routes.Query, routes.ForwardCredentials = fwd, true
	s := startServer(t, authOnConfig(t), routes, false)
	c := s.client(t, "http/1.1")
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claimsFor("tenant-a"))
	hdr := map[string]string{"Authorization": "Bearer " + tok, "X-Scope-OrgID": "tenant-b"}

	for _, path := range []string{
		"/loki/api/v1/query_range?query=%7Bapp%3D%22x%22%7D&limit=5",
		"/loki/api/v1/label/app/values",
		"/loki/api/v1/rules/ns",
		"/prometheus/api/v1/alerts",
		"/loki/api/v1/delete?query=%7Ba%3D%22b%22%7D",
		"/",
	} {
		code, body, _ := do(t, c, "GET", s.url+path, nil, hdr)
		require.Equal(t, 200, code, path)
		require.Equal(t, "frontend tenant-a", body, path)
		// Host is the frontend's own: Knative routes by it.
		require.Equal(t, seen{"tenant-a", "Bearer " + tok, path, base.Host}, <-got)
	}
	// No token: the frontend is never reached.
	code, _, _ := do(t, c, "GET", s.url+"/loki/api/v1/labels", nil, map[string]string{"X-Scope-OrgID": "tenant-b"})
	require.Equal(t, 401, code)
	require.Empty(t, got)
	// Pushes never carry the token on (the echo handler refuses it).
	code, body, _ := do(t, c, "POST", s.url+"/loki/api/v1/push", strings.NewReader("x"), hdr)
	require.Equal(t, 200, code, body)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/loki/api/v1/tail?query=x", &websocket.DialOptions{
		HTTPClient: c, HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
	})
	require.NoError(t, err)
	_, msg, err := conn.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "tail tenant-a", string(msg))
	require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
	<-got

	// A frontend that is down: 502, not a hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead, _ := url.Parse("http://" + ln.Addr().String())
	require.NoError(t, ln.Close())
	fwdDead, err := Forward(dead, nil, discardLogger())
	require.NoError(t, err)
	s2 := startServer(t, authOnConfig(t), Routes{Query: fwdDead}, false)
	code, body, _ = do(t, s2.client(t, "http/1.1"), "GET", s2.url+"/loki/api/v1/labels", nil, hdr)
	require.Equal(t, http.StatusBadGateway, code)
	require.Equal(t, "query frontend unavailable\n", body)

	_, err = Forward(&url.URL{Scheme: "ftp", Host: "x"}, nil, discardLogger())
	require.ErrorIs(t, err, ErrInvalidConfig)
}
