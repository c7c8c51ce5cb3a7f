package distributor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// OrgIDHeader carries the tenant. Below the gateway it is trusted: the
// gateway set it (from the JWT when auth is on).
const OrgIDHeader = "X-Scope-OrgID"

// OTLPPath is where OTLP clients (the OpenTelemetry Collector, Alloy)
// send logs.
const OTLPPath = "/otlp/v1/logs"

// ServeHTTP handles POST /loki/api/v1/push, and OTLP logs on OTLPPath
// (mapped as Loki 3 maps them, see push.DecodeOTLPRequest), with Loki's
// statuses.
func (d *Distributor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, err := tenant.Parse(r.Header.Get(OrgIDHeader))
	if err != nil {
		http.Error(w, "no org id: "+err.Error(), http.StatusBadRequest)
		return
	}
	decode := push.DecodeRequest
	if r.URL.Path == OTLPPath {
		decode = push.DecodeOTLPRequest
	}
	req, err := decode(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), d.cfg.MaxRecvMsgSize)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := d.Push(r.Context(), t, req); err != nil {
		if _, ok := errors.AsType[*ValidationError](err); !ok {
			d.logger.Debug("push rejected", "tenant", t, "err", err)
		}
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// StatusOf maps a push error to its HTTP status.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, push.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, push.ErrUnsupportedEncoding):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrNoStreams):
		return http.StatusUnprocessableEntity
	case errors.Is(err, context.Canceled):
		return 499 // the client went away
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	if _, ok := errors.AsType[*push.DecodeError](err); ok {
		return http.StatusBadRequest
	}
	if _, ok := errors.AsType[*ValidationError](err); ok {
		return http.StatusBadRequest
	}
	if _, ok := errors.AsType[*RateLimitedError](err); ok {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

func writeError(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), StatusOf(err))
}

// HTTPClients reaches ingesters over HTTP at http://<member>/ingester/push.
type HTTPClients struct {
	Client *http.Client
	Scheme string // "http" when empty

	mu    sync.Mutex
	cache map[string]*httpIngester
}

// Ingester returns the client for member.
func (c *HTTPClients) Ingester(member string) (Ingester, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = map[string]*httpIngester{}
	}
	ing, ok := c.cache[member]
	if !ok {
		scheme := c.Scheme
		if scheme == "" {
			scheme = "http"
		}
		client := c.Client
		if client == nil {
			client = http.DefaultClient
		}
		ing = &httpIngester{client: client, url: scheme + "://" + member + IngesterPushPath}
		c.cache[member] = ing
	}
	return ing, nil
}

// IngesterPushPath is the ingester's internal push endpoint.
const IngesterPushPath = "/ingester/push"

// StoredRestHeader marks an ingester's 4xx answer to a push whose valid
// part it stored (ingestgw/ingester sets it). A 4xx without it stored
// nothing: a body the ingester could not decode or found too large, a
// wrong path, a proxy's answer. Such a replica has failed.
const StoredRestHeader = "X-Kmlog-Stored-Rest"

type httpIngester struct {
	client *http.Client
	url    string
}

// httpStatusError is an ingester's non-2xx answer.
type httpStatusError struct {
	code int
	msg  string
}

func (e *httpStatusError) Error() string   { return e.msg }
func (e *httpStatusError) StatusCode() int { return e.code }

func (h *httpIngester) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	body := push.EncodeProto(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", push.ContentTypeProto)
	hr.Header.Set(OrgIDHeader, string(t))
	resp, err := h.client.Do(hr)
	if err != nil {
		return fmt.Errorf("push to ingester: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if resp.StatusCode/100 == 4 && resp.Header.Get(StoredRestHeader) == "" {
		return fmt.Errorf("push to ingester: nothing stored: status %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return &httpStatusError{code: resp.StatusCode, msg: strings.TrimSpace(string(msg))}
}
