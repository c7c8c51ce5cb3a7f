package gateway

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// Browsers cannot set Authorization on a WebSocket, but they can offer
// subprotocols. A client with a bearer token offers two:
//
//	new WebSocket(url, ["kmlog.bearer", "kmlog.bearer." + base64url(token)])
//
// The gateway takes the token from the second (verified exactly as an
// Authorization header would be), removes both from the request it passes
// on, so the token never reaches a handler, a log or the frontend as a
// protocol, and answers with the first: a browser fails a handshake whose
// answer names none of the protocols it offered.
const (
	// WebSocketBearerProtocol is the subprotocol the gateway echoes.
	WebSocketBearerProtocol = "kmlog.bearer"
	// WebSocketTokenPrefix starts the subprotocol that carries the token,
	// base64url-encoded without padding.
	WebSocketTokenPrefix = WebSocketBearerProtocol + "."
)

const secWebSocketProtocol = "Sec-Websocket-Protocol" // canonical form

// takeWebSocketToken removes the bearer subprotocols from a WebSocket
// upgrade request. offered reports whether the client offered them (then
// the answer must name WebSocketBearerProtocol); tok is the decoded token,
// and err is set when the token subprotocol does not decode.
func takeWebSocketToken(r *http.Request) (tok string, offered bool, err error) {
	vals, ok := r.Header[secWebSocketProtocol]
	if !ok || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return "", false, nil
	}
	var keep []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			switch {
			case p == WebSocketBearerProtocol:
				offered = true
			case strings.HasPrefix(p, WebSocketTokenPrefix):
				offered = true
				b, derr := base64.RawURLEncoding.DecodeString(strings.TrimRight(p[len(WebSocketTokenPrefix):], "="))
				if derr != nil || len(b) == 0 {
					// The decoder's error quotes the input; say nothing of it.
					err = fmt.Errorf("%w: the %s subprotocol is not base64url", ErrInvalidToken, WebSocketTokenPrefix+"*")
					continue
				}
				tok = string(b)
			case p != "":
				keep = append(keep, p)
			}
		}
	}
	if !offered {
		return "", false, nil
	}
	if len(keep) == 0 {
		delete(r.Header, secWebSocketProtocol)
	} else {
		r.Header[secWebSocketProtocol] = []string{strings.Join(keep, ", ")}
	}
	return tok, true, err
}

// webSocketAuth applies takeWebSocketToken to r. With auth on and no
// Authorization header, the token becomes the request's bearer token, so
// setTenant verifies it like any other. The answer is prepared to name
// WebSocketBearerProtocol: in process the WebSocket library writes the
// writer's headers with its 101, and the reverse proxy adds the
// frontend's to them. It answers r itself and returns false when the
// token subprotocol is malformed.
func (g *gateway) webSocketAuth(w http.ResponseWriter, r *http.Request) bool {
	tok, offered, err := takeWebSocketToken(r)
	if !offered {
		return true
	}
	w.Header().Set(secWebSocketProtocol, WebSocketBearerProtocol)
	if g.auth == nil || r.Header.Get("Authorization") != "" {
		return true
	}
	if err != nil {
		g.reject(w, r, err)
		return false
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return true
}
