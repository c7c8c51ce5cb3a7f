package querier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

// maxRequestBytes bounds the JSON body of one Request.
const maxRequestBytes = 1 << 20

// StatusClientClosedRequest is the status (nginx's, as Loki uses it) for
// a request its caller gave up on.
const StatusClientClosedRequest = 499

// ServeHTTP answers POST with a JSON Request body with the JSON Response,
// so the same value runs behind the Knative and Lambda adapters. Errors
// are plain text with the status of HTTPStatus.
func (q *Querier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST with a JSON querier request", http.StatusMethodNotAllowed)
		return
	}
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err := dec.Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("decode request: %v", err), http.StatusBadRequest)
		return
	}
	resp, err := q.Query(r.Context(), req)
	if err != nil {
		http.Error(w, err.Error(), HTTPStatus(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// HTTPStatus maps a Query error to the status Loki answers with: 400 for
// bad queries, bad requests and limits (Loki treats ErrLimit as the
// client's fault), 499 when the caller canceled, 504 past the deadline,
// 500 otherwise.
func HTTPStatus(err error) int {
	switch statusOf(err) {
	case "bad_request", "limit":
		return http.StatusBadRequest
	case "canceled":
		return StatusClientClosedRequest
	case "timeout":
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// statusOf classifies an error for metrics, logs and HTTPStatus.
func statusOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, engine.ErrLimit):
		return "limit"
	case errors.Is(err, syntax.ErrParse), errors.Is(err, ErrBadRequest), errors.Is(err, engine.ErrBadQuery),
		errors.Is(err, engine.ErrNotShardable), errors.Is(err, engine.ErrPipeline):
		return "bad_request"
	}
	return "internal"
}
