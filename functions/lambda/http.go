package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// MaxResponseBytes is the largest response body HTTPHandler returns, after
// base64 encoding; Lambda's limit for a synchronous response is 6 MB
// including the JSON envelope, for which this leaves 64 KiB.
const MaxResponseBytes = 6<<20 - 64<<10

// HTTPFunc is the Lambda handler shape for HTTP API and function URL
// events.
type HTTPFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// HTTPHandler returns a Lambda handler that serves each event with h. It
// returns an error only when ctx ends before h writes anything; a malformed
// event is answered with 400.
func HTTPHandler(h http.Handler) HTTPFunc {
	if h == nil {
		panic("BUG: lambda.HTTPHandler with a nil handler")
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		req, err := NewRequest(ctx, ev)
		if err != nil {
			return textResponse(http.StatusBadRequest, err.Error()), nil
		}
		w := &responseBuffer{header: http.Header{}}
		h.ServeHTTP(w, req)
		if w.status == 0 && w.body.Len() == 0 && ctx.Err() != nil {
			return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("serve %s %s: %w", req.Method, req.URL.Path, ctx.Err())
		}
		return w.response(), nil
	}
}

// NewRequest converts a payload format 2.0 event to the request it stands
// for, with ctx as its context.
func NewRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	query := ev.RawQueryString
	if query == "" && len(ev.QueryStringParameters) > 0 {
		// A hand-built event without rawQueryString: AWS joins repeated
		// parameters with commas, which is all that is left to go by.
		v := url.Values{}
		for k, s := range ev.QueryStringParameters {
			v.Set(k, s)
		}
		query = v.Encode()
	}
	uri := path
	if query != "" {
		uri += "?" + query
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("parse request path %q: %w", uri, err)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("decode base64 body: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.URL = u
	req.RequestURI = uri
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = req.Header.Get("Host")
	if req.Host == "" {
		req.Host = ev.RequestContext.DomainName
	}
	req.Header.Del("Host") // net/http keeps it in req.Host only
	if p := ev.RequestContext.HTTP.Protocol; p != "" {
		if major, minor, ok := http.ParseHTTPVersion(p); ok {
			req.Proto, req.ProtoMajor, req.ProtoMinor = p, major, minor
		}
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		req.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return req, nil
}

// responseBuffer is the http.ResponseWriter HTTPHandler serves into:
// Lambda wants the whole response at once.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(status int) {
	if w.status == 0 && status >= 200 { // 1xx responses cannot be relayed
		w.status = status
	}
}

func (w *responseBuffer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.header.Get("Content-Type") == "" && w.header.Get("Content-Encoding") == "" && w.body.Len() == 0 {
		w.header.Set("Content-Type", http.DetectContentType(p))
	}
	return w.body.Write(p)
}

// Flush does nothing: the response leaves when the handler returns.
func (w *responseBuffer) Flush() {}

func (w *responseBuffer) response() events.APIGatewayV2HTTPResponse {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			resp.Cookies = slices.Clone(vs)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	body := w.body.Bytes()
	if isText(w.header) && utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	if len(resp.Body) > MaxResponseBytes {
		return textResponse(http.StatusInternalServerError, fmt.Sprintf(
			"response of %d bytes exceeds the Lambda payload limit of %d bytes; narrow the query or lower its limit",
			len(resp.Body), MaxResponseBytes))
	}
	return resp
}

// isText reports whether a body with these headers can travel as a JSON
// string unencoded.
func isText(h http.Header) bool {
	if ce := h.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return false
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		return true // empty body
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		strings.HasSuffix(mt, "/json"), strings.HasSuffix(mt, "/xml"):
		return true
	}
	switch mt {
	case "application/javascript", "application/x-www-form-urlencoded",
		"application/x-ndjson", "application/yaml", "application/x-yaml":
		return true
	}
	return false
}

func textResponse(status int, msg string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		Body:       msg + "\n",
	}
}
