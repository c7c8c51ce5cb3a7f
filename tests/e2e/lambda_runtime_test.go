package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// lambdaRuntime is the AWS Lambda Runtime API (2018-06-01) as the Lambda
// service offers it to a custom runtime (provided.al2023): the function's
// process polls /invocation/next for an event and posts the answer back.
// With it, a kmlog binary started with AWS_LAMBDA_RUNTIME_API pointing here
// runs exactly as it would in Lambda: aws-lambda-go's runtime loop, the
// functions/lambda adapter and cmd/kmlog's wiring, nothing replaced.
type lambdaRuntime struct {
	Addr string

	srv    *http.Server
	events chan lambdaInvocation
	mu     sync.Mutex
	wait   map[string]chan lambdaResult
	seq    int
}

type lambdaInvocation struct {
	id      string
	payload []byte
}

type lambdaResult struct {
	body    []byte
	isError bool
}

func startLambdaRuntime(t testing.TB) *lambdaRuntime {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &lambdaRuntime{Addr: ln.Addr().String(), events: make(chan lambdaInvocation), wait: map[string]chan lambdaResult{}}
	mux := http.NewServeMux()
	const base = "/2018-06-01/runtime"
	mux.HandleFunc("GET "+base+"/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-rt.events:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(29*time.Second).UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:kmlog-dev-frontend")
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	answer := func(isError bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			rt.mu.Lock()
			ch := rt.wait[r.PathValue("id")]
			rt.mu.Unlock()
			if ch == nil {
				http.Error(w, "unknown request id", http.StatusBadRequest)
				return
			}
			ch <- lambdaResult{body: body, isError: isError}
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST "+base+"/invocation/{id}/response", answer(false))
	mux.HandleFunc("POST "+base+"/invocation/{id}/error", answer(true))
	mux.HandleFunc("POST "+base+"/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		t.Errorf("lambda init error: %s", body)
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = &http.Server{Handler: mux}
	go func() { _ = rt.srv.Serve(ln) }()
	t.Cleanup(func() { _ = rt.srv.Close() })
	return rt
}

// Invoke delivers one event to the function and returns its answer. It
// fails the test when the function answers with an error or not within a
// minute (the first invocation waits for the process to start).
func (rt *lambdaRuntime) Invoke(t testing.TB, event any) []byte {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	rt.mu.Lock()
	rt.seq++
	id := fmt.Sprintf("e2e-%08d", rt.seq)
	ch := make(chan lambdaResult, 1)
	rt.wait[id] = ch
	rt.mu.Unlock()
	timeout := time.After(time.Minute)
	select {
	case rt.events <- lambdaInvocation{id: id, payload: payload}:
	case <-timeout:
		t.Fatal("the function did not ask for the next invocation within a minute")
	}
	select {
	case res := <-ch:
		if res.isError {
			t.Fatalf("invocation %s failed: %s", id, res.body)
		}
		return res.body
	case <-timeout:
		t.Fatalf("invocation %s: no answer within a minute", id)
	}
	return nil
}

// HTTP sends an HTTP API (payload format 2.0) event for a GET of
// pathAndQuery with the given headers, as API Gateway builds it, and
// returns the function's status, headers and body.
func (rt *lambdaRuntime) HTTP(t testing.TB, pathAndQuery string, headers map[string]string) (int, map[string]string, string) {
	t.Helper()
	path, query, _ := strings.Cut(pathAndQuery, "?")
	lower := map[string]string{}
	for k, v := range headers {
		lower[strings.ToLower(k)] = v // API Gateway lower-cases header names
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /loki/api/v1/{proxy+}", RawPath: path, RawQueryString: query,
		Headers: lower,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "ANY /loki/api/v1/{proxy+}", Stage: "$default", RequestID: "req-" + strconv.FormatInt(time.Now().UnixNano(), 36),
			DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: http.MethodGet, Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "e2e",
			},
		},
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(rt.Invoke(t, ev), &resp); err != nil {
		t.Fatalf("decode the function's response: %v", err)
	}
	body := resp.Body
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			t.Fatal(err)
		}
		body = string(b)
	}
	return resp.StatusCode, resp.Headers, body
}
