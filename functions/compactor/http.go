package compactor

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// RunPath runs a compaction when POSTed to (Handler).
const RunPath = "/compactor/run"

// Handler serves POST /compactor/run (one run; the JSON Report answers,
// 500 with it when a day failed) and Loki's delete API
// (/loki/api/v1/delete, see DeleteHandler).
func (c *Compactor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+RunPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := c.Run(r.Context(), c.now())
		writeReport(w, rep, err)
	}))
	mux.Handle("/loki/api/v1/delete", c.DeleteHandler())
	return mux
}

func writeReport(w http.ResponseWriter, rep Report, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// Tick is the run function of the trigger adapters (functions/knative
// Tick, functions/lambda Scheduled): one run at the trigger's time.
func (c *Compactor) Tick(ctx context.Context, at time.Time) error {
	_, err := c.Run(ctx, c.now())
	return err
}

// Loop runs the compactor every Config.Interval until ctx ends: the
// all-in-one process's trigger. The first run starts after one interval.
func (c *Compactor) Loop(ctx context.Context) {
	if c.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, _ = c.Run(ctx, c.now()) // Run logs its outcome
	}
}
