package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// echo answers with what it saw of the request, as JSON.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	cookies := map[string]string{}
	for _, c := range r.Cookies() {
		cookies[c.Name] = c.Value
	}
	_, hasDeadline := r.Context().Deadline()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method":         r.Method,
		"host":           r.Host,
		"path":           r.URL.Path,
		"raw_query":      r.URL.RawQuery,
		"query":          r.URL.Query(),
		"request_uri":    r.RequestURI,
		"headers":        r.Header,
		"cookies":        cookies,
		"body_base64":    base64.StdEncoding.EncodeToString(body),
		"content_length": r.ContentLength,
		"remote_addr":    r.RemoteAddr,
		"proto":          r.Proto,
		"has_deadline":   hasDeadline,
	})
}

func readEvent(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// TestEventsThroughHandler runs API Gateway HTTP API and function URL
// events (payload format 2.0) through an echoing handler and back.
func TestEventsThroughHandler(t *testing.T) {
	for _, name := range []string{
		"httpapi-query-range.json",
		"httpapi-http2-label-values.json",
		"url-push-binary.json",
		"url-shard-json.json",
		"url-bad-base64.json",
	} {
		t.Run(name, func(t *testing.T) {
			ev := readEvent(t, name)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // Lambda's deadline
			defer cancel()
			resp, err := HTTPHandler(http.HandlerFunc(echo))(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]any{
				"statusCode":      resp.StatusCode,
				"headers":         resp.Headers,
				"cookies":         resp.Cookies,
				"isBase64Encoded": resp.IsBase64Encoded,
			}
			var seen any
			if err := json.Unmarshal([]byte(resp.Body), &seen); err == nil {
				out["echo"] = seen
			} else {
				out["body"] = resp.Body
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(name, ".json")+".golden.json", append(got, '\n'))
		})
	}
}

// TestBinaryBodyExact checks that a base64 request body reaches the
// handler byte for byte, and a binary answer leaves base64-encoded.
func TestBinaryBodyExact(t *testing.T) {
	ev := readEvent(t, "url-push-binary.json")
	want, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !bytes.Equal(b, want) {
			t.Errorf("handler got body %x, want %x", b, want)
		}
		if r.ContentLength != int64(len(want)) {
			t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(want))
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b) // echo the bytes back
	})
	resp, err := HTTPHandler(h)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.IsBase64Encoded || resp.Body != ev.Body {
		t.Errorf("response body %q (base64 %v), want %q base64", resp.Body, resp.IsBase64Encoded, ev.Body)
	}
}

func TestResponses(t *testing.T) {
	gz := []byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    events.APIGatewayV2HTTPResponse
	}{
		{
			name: "json text",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				io.WriteString(w, `{"status":"success"}`)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: `{"status":"success"}`},
		},
		{
			name: "cookies and repeated headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
				http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", HttpOnly: true})
				w.Header().Add("Vary", "Accept-Encoding")
				w.Header().Add("Vary", "X-Scope-OrgID")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, "ok")
			},
			want: events.APIGatewayV2HTTPResponse{
				StatusCode: 202,
				Headers:    map[string]string{"Content-Type": "text/plain", "Vary": "Accept-Encoding,X-Scope-OrgID"},
				Cookies:    []string{"a=1; Path=/", "b=2; HttpOnly"},
				Body:       "ok",
			},
		},
		{
			name: "gzip is binary whatever the type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gz)
			},
			want: events.APIGatewayV2HTTPResponse{
				StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"},
				Body: base64.StdEncoding.EncodeToString(gz), IsBase64Encoded: true,
			},
		},
		{
			name: "text type with invalid UTF-8 is binary",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Write([]byte{'a', 0xff})
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: "Yf8=", IsBase64Encoded: true},
		},
		{
			name: "type detected when unset",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("\x89PNG\r\n\x1a\n"))
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "image/png"}, Body: "iVBORw0KGgo=", IsBase64Encoded: true},
		},
		{
			name:    "no body",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			want:    events.APIGatewayV2HTTPResponse{StatusCode: 204, Headers: map[string]string{}},
		},
		{
			name: "error status",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "too many requests", http.StatusTooManyRequests)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 429, Headers: map[string]string{
				"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff",
			}, Body: "too many requests\n"},
		},
		{
			name: "1xx is not relayed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusContinue)
				w.WriteHeader(http.StatusCreated)
			},
			want: events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HTTPHandler(tc.handler)(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/x"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponseTooLarge(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(bytes.Repeat([]byte("a"), MaxResponseBytes+1))
	})
	resp, err := HTTPHandler(h)(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/loki/api/v1/query_range"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || !strings.Contains(resp.Body, "exceeds the Lambda payload limit") {
		t.Errorf("got %d %.100q", resp.StatusCode, resp.Body)
	}
}

func TestDeadlineReachesHandler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	want, _ := ctx.Deadline()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got, ok := r.Context().Deadline(); !ok || !got.Equal(want) {
			t.Errorf("handler deadline %v %v, want %v", got, ok, want)
		}
	})
	if _, err := HTTPHandler(h)(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/"}); err != nil {
		t.Fatal(err)
	}
	// A handler that gives up on an expired context without writing makes
	// the invocation fail, as a Lambda timeout would.
	expired, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err := HTTPHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))(expired, events.APIGatewayV2HTTPRequest{RawPath: "/q"})
	if err == nil || !strings.Contains(err.Error(), "serve GET /q") {
		t.Errorf("err = %v", err)
	}
}

func TestQueryFromParametersOnly(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{
		RawPath:               "/loki/api/v1/labels",
		QueryStringParameters: map[string]string{"start": "1", "query": `{a="b c"}`},
	}
	req, err := NewRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.Query().Get("query"); got != `{a="b c"}` {
		t.Errorf("query = %q", got)
	}
	if req.Method != "GET" {
		t.Errorf("method %q", req.Method)
	}
}

func FuzzHTTPHandler(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		if !strings.Contains(p, "golden") {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
	}
	f.Add([]byte(`{"rawPath":"//%zz","rawQueryString":"%%"}`))
	f.Add([]byte(`{"rawPath":"http://x/","requestContext":{"http":{"method":"GE T","protocol":"HTTP/9"}}}`))
	h := HTTPHandler(http.HandlerFunc(echo))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev events.APIGatewayV2HTTPRequest
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 && resp.StatusCode != 400 {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == 200 {
			var seen map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &seen); err != nil {
				t.Fatalf("echo body %q: %v", resp.Body, err)
			}
			if fmt.Sprint(seen["body_base64"]) == "" && ev.Body != "" && !ev.IsBase64Encoded {
				t.Fatalf("body %q lost", ev.Body)
			}
		}
	})
}
