package knative

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTick(t *testing.T) {
	var got time.Time
	var fail error
	h := Tick(func(_ context.Context, at time.Time) error { got = at; return fail })
	for _, tc := range []struct {
		name   string
		method string
		ceTime string
		fail   error
		code   int
		at     time.Time
	}{
		{"pingsource tick", "POST", "2026-03-10T13:07:00.000Z", nil, 204, time.Date(2026, 3, 10, 13, 7, 0, 0, time.UTC)},
		{"offset time", "POST", "2026-03-10T21:07:00+08:00", nil, 204, time.Date(2026, 3, 10, 13, 7, 0, 0, time.UTC)},
		{"run fails", "POST", "2026-03-10T13:07:00Z", errors.New("lease held"), 500, time.Date(2026, 3, 10, 13, 7, 0, 0, time.UTC)},
		{"bad time", "POST", "yesterday", nil, 400, time.Time{}},
		{"GET", "GET", "", nil, 405, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fail = time.Time{}, tc.fail
			req := httptest.NewRequest(tc.method, "/", strings.NewReader(`{"job":"compact"}`))
			if tc.ceTime != "" {
				req.Header.Set("Ce-Time", tc.ceTime)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || !got.Equal(tc.at) {
				t.Errorf("got %d at %v, want %d at %v (%s)", rec.Code, got, tc.code, tc.at, rec.Body.String())
			}
			if !got.IsZero() && got.Location() != time.UTC {
				t.Errorf("at %v not in UTC", got)
			}
		})
	}
	// Without ce-time the tick runs at its arrival.
	before := time.Now().Add(-time.Second)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	if got.Before(before) {
		t.Errorf("at = %v", got)
	}
}
