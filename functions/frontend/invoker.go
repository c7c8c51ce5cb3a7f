package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kubemate/kmlog/functions/querier"
)

// Invoker runs one querier shard: in-process, over HTTP to a Knative
// Service, or as a Lambda invocation. Implementations are safe for
// concurrent use; the frontend calls Invoke from many goroutines at once
// and does not modify the returned Response.
type Invoker interface {
	Invoke(ctx context.Context, req querier.Request) (querier.Response, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, req querier.Request) (querier.Response, error)

// Invoke implements Invoker.
func (f InvokerFunc) Invoke(ctx context.Context, req querier.Request) (querier.Response, error) {
	return f(ctx, req)
}

// HTTPInvoker posts the Request as JSON to a querier's handler at URL and
// reads the JSON Response. A non-2xx answer becomes an error carrying the
// body's text and the status (see StatusError).
type HTTPInvoker struct {
	URL    string
	Client *http.Client // nil means http.DefaultClient
}

// maxResponseBytes bounds a querier answer read into memory.
const maxResponseBytes = 1 << 30

// Invoke implements Invoker.
func (h HTTPInvoker) Invoke(ctx context.Context, req querier.Request) (querier.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return querier.Response{}, fmt.Errorf("encode querier request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return querier.Response{}, fmt.Errorf("build querier request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(hr)
	if err != nil {
		return querier.Response{}, fmt.Errorf("invoke querier %s: %w", h.URL, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return querier.Response{}, fmt.Errorf("read querier answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		return querier.Response{}, &StatusError{Code: res.StatusCode, Msg: strings.TrimSpace(string(data))}
	}
	var out querier.Response
	if err := json.Unmarshal(data, &out); err != nil {
		return querier.Response{}, fmt.Errorf("decode querier answer: %w", err)
	}
	return out, nil
}

// StatusError is an error with the HTTP status it is answered with. The
// frontend returns it for the client's mistakes and passes through the
// 4xx answers of queriers (a limit hit inside a shard).
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }
