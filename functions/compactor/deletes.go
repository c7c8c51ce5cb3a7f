package compactor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

// tenantDeletes are a tenant's delete requests during one run.
type tenantDeletes struct {
	byID      map[objkey.ULID]manifest.DeleteRequest
	done      map[objkey.ULID]bool
	cancelled map[objkey.ULID]bool
	markers   map[objkey.ULID]int // markers still in the bucket, from the run's listings
	touched   map[objkey.ULID]bool
}

// deleteRequests reads a tenant's delete requests.
func (c *Compactor) deleteRequests(ctx context.Context, t tenant.ID) (*tenantDeletes, error) {
	td, err := loadDeletes(ctx, c.bkt, t)
	if err != nil {
		return nil, err
	}
	// Count each request's markers.
	for id, r := range td.byID {
		if td.done[id] || td.cancelled[id] {
			continue
		}
		for d := objkey.DayOf(r.Start); d <= objkey.DayOf(r.End); d++ {
			if _, err := c.bkt.Stat(ctx, objkey.DeleteMarker(t, d, id)); err == nil {
				td.markers[id]++
			} else if !errors.Is(err, bucket.ErrNotExist) {
				return nil, fmt.Errorf("stat delete marker: %w", err)
			}
			if d-objkey.DayOf(r.Start) > 4000 {
				break
			}
		}
	}
	return td, nil
}

func loadDeletes(ctx context.Context, bkt bucket.Bucket, t tenant.ID) (*tenantDeletes, error) {
	td := &tenantDeletes{byID: map[objkey.ULID]manifest.DeleteRequest{}, done: map[objkey.ULID]bool{},
		cancelled: map[objkey.ULID]bool{}, markers: map[objkey.ULID]int{}, touched: map[objkey.ULID]bool{}}
	prefix := objkey.DeletesPrefix(t)
	var recs []string
	err := bkt.List(ctx, prefix, func(oi bucket.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, prefix)
		base, ext, _ := strings.Cut(name, ".")
		id, err := objkey.ParseULID(base)
		if err != nil {
			return nil
		}
		switch ext {
		case "json":
			recs = append(recs, oi.Key)
		case "done":
			td.done[id] = true
		case "cancel":
			td.cancelled[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list delete requests: %w", err)
	}
	for _, k := range recs {
		b, err := bucket.ReadAll(ctx, bkt, k)
		if errors.Is(err, bucket.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read delete request: %w", err)
		}
		r, err := manifest.DecodeDelete(b)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		td.byID[r.ID] = r
	}
	return td, nil
}

// applicable returns the delete requests to remove from a day's files:
// marked in the day, not yet applied by its newest generation, not
// cancelled, and past the cancel period.
func (td *tenantDeletes) applicable(l *manifest.Listing, m *manifest.Manifest, now time.Time, cancelPeriod time.Duration) []objkey.ULID {
	var out []objkey.ULID
	for _, id := range manifest.PendingDeletes(l, m) {
		r, ok := td.byID[id]
		if !ok || td.cancelled[id] || time.Unix(0, r.Created).Add(cancelPeriod).After(now) {
			continue
		}
		out = append(out, id)
	}
	slices.SortFunc(out, objkey.ULID.Compare)
	return out
}

func (td *tenantDeletes) markerGone(id objkey.ULID) {
	if td == nil {
		return
	}
	td.markers[id]--
	td.touched[id] = true
}

// finishDeletes marks processed the requests whose last marker went in
// this run.
func (c *Compactor) finishDeletes(ctx context.Context, t tenant.ID, td *tenantDeletes) error {
	for id := range td.byID {
		if td.markers[id] > 0 || td.done[id] || td.cancelled[id] {
			continue
		}
		if err := bucket.PutBytes(ctx, c.bkt, objkey.DeleteDone(t, id), []byte("{}")); err != nil {
			return fmt.Errorf("mark delete request processed: %w", err)
		}
		c.logger.Info("delete request processed", "tenant", string(t), "request_id", id.String())
	}
	return nil
}

// DeleteHandler serves Loki's delete API for the tenant in X-Scope-OrgID
// (set by the gateway):
//
//	POST   /loki/api/v1/delete?query=...&start=...&end=...   204, X-Delete-Request-ID
//	GET    /loki/api/v1/delete                               the tenant's requests
//	DELETE /loki/api/v1/delete?request_id=...[&force=true]   cancel, 204
//
// Lines a request selects are hidden from queries at once (the querier
// reads the request's day markers) and removed from files by a
// compaction run once the request is older than the cancel period.
func (c *Compactor) DeleteHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := tenant.Parse(r.Header.Get("X-Scope-OrgID"))
		if err != nil {
			http.Error(w, "no org id: "+err.Error(), http.StatusUnauthorized)
			return
		}
		switch r.Method {
		case http.MethodPost, http.MethodPut:
			c.addDelete(w, r, t)
		case http.MethodGet:
			c.listDeletes(w, r, t)
		case http.MethodDelete:
			c.cancelDelete(w, r, t)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// parseDeleteTime reads Loki's delete API times: RFC3339 or 10-digit Unix
// seconds (with an optional fraction); "" is now. It returns Unix ms.
func parseDeleteTime(s string, now time.Time) (int64, error) {
	if s == "" {
		return now.UnixMilli(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UnixMilli(), nil
	}
	if len(s) != 10 && !(len(s) > 11 && s[10] == '.') {
		return 0, errors.New("not unix seconds")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return int64(f * 1000), nil
}

func (c *Compactor) addDelete(w http.ResponseWriter, r *http.Request, t tenant.ID) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := c.now()
	q := r.Form.Get("query")
	if q == "" {
		http.Error(w, "query not set", http.StatusBadRequest)
		return
	}
	if _, err := engine.ParseDeleteQuery(q); err != nil {
		http.Error(w, "invalid query expression", http.StatusBadRequest)
		return
	}
	if r.Form.Get("start") == "" {
		http.Error(w, "start time not set", http.StatusBadRequest)
		return
	}
	startMs, err := parseDeleteTime(r.Form.Get("start"), now)
	if err != nil {
		http.Error(w, "invalid start time: require unix seconds or RFC3339 format", http.StatusBadRequest)
		return
	}
	endMs, err := parseDeleteTime(r.Form.Get("end"), now)
	if err != nil {
		http.Error(w, "invalid end time: require unix seconds or RFC3339 format", http.StatusBadRequest)
		return
	}
	if endMs > now.UnixMilli() {
		http.Error(w, "deletes in the future are not allowed", http.StatusBadRequest)
		return
	}
	if startMs >= endMs {
		http.Error(w, "start time can't be greater than or equal to end time", http.StatusBadRequest)
		return
	}
	id, err := objkey.NewULID(now, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req := manifest.DeleteRequest{ID: id, Query: q, Start: startMs * 1e6, End: endMs*1e6 + 999_999, Created: now.UnixNano()}
	body := manifest.EncodeDelete(req)
	days, err := c.deleteDays(ctx, t, req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// Markers first: the request hides lines once a marker is in its day;
	// the record last, so a request that is listed is in force.
	for _, d := range days {
		if err := c.bkt.Put(ctx, objkey.DeleteMarker(t, d, id), bytes.NewReader(body), int64(len(body))); err != nil {
			http.Error(w, fmt.Sprintf("store delete marker: %v", err), http.StatusInternalServerError)
			return
		}
	}
	if err := c.bkt.Put(ctx, objkey.DeleteRequest(t, id), bytes.NewReader(body), int64(len(body))); err != nil {
		http.Error(w, fmt.Sprintf("store delete request: %v", err), http.StatusInternalServerError)
		return
	}
	c.m.deleteRequests.Inc()
	c.logger.Info("delete request added", "tenant", string(t), "request_id", id.String(), "query", q,
		"start", time.UnixMilli(startMs).UTC(), "end", time.UnixMilli(endMs).UTC(), "days", len(days))
	w.Header().Set("X-Delete-Request-ID", id.String())
	w.WriteHeader(http.StatusNoContent)
}

// deleteDays are the days a request marks: every day of its range, or for
// a range over 31 days the days of the range that hold objects.
func (c *Compactor) deleteDays(ctx context.Context, t tenant.ID, r manifest.DeleteRequest) ([]objkey.Day, error) {
	first, last := objkey.DayOf(r.Start), objkey.DayOf(r.End)
	var days []objkey.Day
	if last-first <= 31 {
		for d := first; d <= last; d++ {
			days = append(days, d)
		}
		return days, nil
	}
	seen := map[objkey.Day]bool{}
	err := c.bkt.List(ctx, objkey.TenantPrefix(t), func(oi bucket.ObjectInfo) error {
		if o, err := objkey.ParseDayObject(oi.Key); err == nil && o.Day >= first && o.Day <= last && !seen[o.Day] {
			seen[o.Day] = true
			days = append(days, o.Day)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list days: %w", err)
	}
	// And the recent days, where late entries may still arrive.
	for d := max(first, objkey.DayOfTime(c.now())-7); d <= last; d++ {
		if !seen[d] {
			days = append(days, d)
		}
	}
	return days, nil
}

// lokiTime writes Unix ms as Loki's model.Time does in JSON: seconds
// with up to three decimals, unquoted.
func lokiTime(ms int64) json.Number {
	return json.Number(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64))
}

type lokiDeleteRequest struct {
	RequestID string      `json:"request_id"`
	StartTime json.Number `json:"start_time"`
	EndTime   json.Number `json:"end_time"`
	Query     string      `json:"query"`
	Status    string      `json:"status"`
	CreatedAt json.Number `json:"created_at"`
	UserID    string      `json:"user_id"`
}

func (c *Compactor) listDeletes(w http.ResponseWriter, r *http.Request, t tenant.ID) {
	td, err := loadDeletes(r.Context(), c.bkt, t)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out := []lokiDeleteRequest{}
	for id, req := range td.byID {
		if td.cancelled[id] {
			continue
		}
		status := "received"
		if td.done[id] {
			status = "processed"
		}
		out = append(out, lokiDeleteRequest{RequestID: id.String(), StartTime: lokiTime(req.Start / 1e6),
			EndTime: lokiTime(req.End / 1e6), Query: req.Query, Status: status, CreatedAt: lokiTime(req.Created / 1e6)})
	}
	slices.SortFunc(out, func(a, b lokiDeleteRequest) int { return strings.Compare(a.RequestID, b.RequestID) })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (c *Compactor) cancelDelete(w http.ResponseWriter, r *http.Request, t tenant.ID) {
	ctx := r.Context()
	q := r.URL.Query()
	id, err := objkey.ParseULID(q.Get("request_id"))
	if err != nil {
		http.Error(w, "could not find delete request with given id", http.StatusNotFound)
		return
	}
	td, err := loadDeletes(ctx, c.bkt, t)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req, ok := td.byID[id]
	if !ok || td.cancelled[id] {
		http.Error(w, "could not find delete request with given id", http.StatusNotFound)
		return
	}
	if td.done[id] {
		http.Error(w, "deletion of request which is in process or already processed is not allowed", http.StatusBadRequest)
		return
	}
	if time.Unix(0, req.Created).Add(c.cfg.DeleteRequestCancelPeriod).Before(c.now()) && q.Get("force") != "true" {
		http.Error(w, fmt.Sprintf("Cancellation of partially completed delete request or delete request past the deadline of %s since its creation is not allowed. To force, use the ?force query parameter", c.cfg.DeleteRequestCancelPeriod), http.StatusBadRequest)
		return
	}
	// The cancel mark first (compactors stop applying it), then the
	// markers (queries show the lines again).
	if err := bucket.PutBytes(ctx, c.bkt, objkey.DeleteCancel(t, id), []byte("{}")); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	days, err := c.deleteDays(ctx, t, req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, d := range days {
		if err := c.bkt.Delete(ctx, objkey.DeleteMarker(t, d, id)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	c.logger.Info("delete request cancelled", "tenant", string(t), "request_id", id.String())
	w.WriteHeader(http.StatusNoContent)
}
