package ingester

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/syntax"
)

// Paths of the ingester's internal HTTP API.
const (
	PushPath  = "/ingester/push"  // POST: a push from the distributor
	QueryPath = "/ingester/query" // GET: recent entries for a log selector; with series=1, stream label sets
	FlushPath = "/flush"          // POST: flush every head now (as Loki's /flush)
)

const orgIDHeader = "X-Scope-OrgID"

// storedRestHeader marks a 4xx push answer whose valid part was stored;
// the distributor (distributor.StoredRestHeader) counts only those as a
// replica's success.
const storedRestHeader = "X-Kmlog-Stored-Rest"

// Handler serves the ingester's internal HTTP API.
func (ing *Ingester) Handler(maxBody int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PushPath, func(w http.ResponseWriter, r *http.Request) {
		t, err := tenant.Parse(r.Header.Get(orgIDHeader))
		if err != nil {
			http.Error(w, "no org id: "+err.Error(), http.StatusBadRequest)
			return
		}
		req, err := push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), maxBody)
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, push.ErrTooLarge) {
				code = http.StatusRequestEntityTooLarge
			}
			http.Error(w, err.Error(), code)
			return
		}
		if err := ing.Push(r.Context(), t, req); err != nil {
			if se, ok := errors.AsType[*StatusError](err); ok {
				if se.Code/100 == 4 {
					// The rest was stored; see distributor.StoredRestHeader.
					w.Header().Set(storedRestHeader, "1")
				}
				http.Error(w, se.Msg, se.Code)
				return
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+QueryPath, func(w http.ResponseWriter, r *http.Request) {
		t, err := tenant.Parse(r.Header.Get(orgIDHeader))
		if err != nil {
			http.Error(w, "no org id: "+err.Error(), http.StatusBadRequest)
			return
		}
		var res *push.Request
		if r.URL.Query().Get("series") != "" {
			res, err = ing.seriesFromParams(r, t)
		} else {
			var q Query
			if q, err = ParseQueryParams(r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			res, err = ing.Query(r.Context(), t, q)
		}
		if se, ok := errors.AsType[*StatusError](err); ok {
			http.Error(w, se.Msg, se.Code)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", push.ContentTypeProto)
		_, _ = w.Write(push.EncodeProto(res))
	})
	mux.HandleFunc("POST "+FlushPath, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		heads := ing.FlushHeads(ctx)
		if flushError(heads) == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// One line per head, so an operator sees which tenant's head is
		// stuck and why, and that the others went through.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, h := range heads {
			fmt.Fprintf(w, "tenant=%q day=%s entries=%d bytes=%d state=%s", h.Tenant, h.DayText, h.Entries, h.Bytes, h.State)
			if h.Key != "" {
				fmt.Fprintf(w, " key=%s", h.Key)
			}
			if h.Err != "" {
				fmt.Fprintf(w, " failed_attempts=%d error=%q", h.Attempts, h.Err)
			}
			fmt.Fprintln(w)
		}
	})
	return mux
}

// seriesFromParams answers ?series=1: the label sets of the streams that
// match query (a selector; empty means every stream) in [start, end).
func (ing *Ingester) seriesFromParams(r *http.Request, t tenant.ID) (*push.Request, error) {
	v := r.URL.Query()
	var ms []*labels.Matcher
	if sel := v.Get("query"); sel != "" {
		var err error
		if ms, err = syntax.ParseMatchers(sel); err != nil {
			return nil, &StatusError{Code: http.StatusBadRequest, Msg: err.Error()}
		}
	}
	from, through := int64(0), int64(1<<63-1)
	var err error
	if s := v.Get("start"); s != "" {
		if from, err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, &StatusError{Code: http.StatusBadRequest, Msg: fmt.Sprintf("bad start %q: want Unix nanoseconds", s)}
		}
	}
	if s := v.Get("end"); s != "" {
		if through, err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, &StatusError{Code: http.StatusBadRequest, Msg: fmt.Sprintf("bad end %q: want Unix nanoseconds", s)}
		}
	}
	return ing.Series(r.Context(), t, ms, from, through)
}

// ParseQueryParams reads the recent-data query: query (a LogQL log
// selector; its stream matchers and leading |= literals are pushed down),
// start and end (Unix nanoseconds), limit and direction.
func ParseQueryParams(r *http.Request) (Query, error) {
	v := r.URL.Query()
	sel, err := syntax.ParseLogSelector(v.Get("query"))
	if err != nil {
		return Query{}, err
	}
	q := Query{Matchers: sel.Matchers, Contains: syntax.LineFilterLiterals(sel), Through: 1<<63 - 1}
	if s := v.Get("start"); s != "" {
		if q.From, err = strconv.ParseInt(s, 10, 64); err != nil {
			return Query{}, fmt.Errorf("bad start %q: want Unix nanoseconds", s)
		}
	}
	if s := v.Get("end"); s != "" {
		if q.Through, err = strconv.ParseInt(s, 10, 64); err != nil {
			return Query{}, fmt.Errorf("bad end %q: want Unix nanoseconds", s)
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			return Query{}, fmt.Errorf("bad limit %q", s)
		}
	}
	switch d := v.Get("direction"); d {
	case "", "backward", "BACKWARD":
		q.Backward = true
	case "forward", "FORWARD":
	default:
		return Query{}, fmt.Errorf("bad direction %q: want forward or backward", d)
	}
	return q, nil
}
