package knative

import (
	"context"
	"net/http"
	"time"
)

// Tick returns the handler of a periodic job (compactor, ruler) run by a
// cron trigger: each POST runs run once, with the scheduled time taken
// from the ce-time header that a Knative PingSource sends (a CloudEvent in
// binary mode), or the time of arrival without one. It answers 204 on
// success and 500 with the error otherwise, so the trigger retries; other
// methods get 405.
func Tick(run func(ctx context.Context, at time.Time) error) http.Handler {
	if run == nil {
		panic("BUG: knative.Tick with a nil run function")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST a tick", http.StatusMethodNotAllowed)
			return
		}
		at := time.Now()
		if ce := r.Header.Get("Ce-Time"); ce != "" {
			t, err := time.Parse(time.RFC3339Nano, ce)
			if err != nil {
				http.Error(w, "parse ce-time: "+err.Error(), http.StatusBadRequest)
				return
			}
			at = t
		}
		if err := run(r.Context(), at.UTC()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
