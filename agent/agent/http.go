package agent

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /ready (200 once running), /metrics, and /targets: the
// files being tailed as JSON, sorted by path. With
// server.http_path_prefix the routes live under it.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if a.opts.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.opts.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /targets", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.Targets())
	})
	if p := strings.TrimSuffix(a.cfg.Server.HTTPPathPrefix, "/"); p != "" {
		return http.StripPrefix(p, mux)
	}
	return mux
}

// FileStatus is one tailed file, as /targets shows it.
type FileStatus struct {
	Path   string `json:"path"`
	Job    string `json:"job"`
	Labels string `json:"labels"`
	State  string `json:"state"`
	// ReadOffset is the offset just past the last line read; Committed
	// is the committed position's offset.
	ReadOffset int64 `json:"read_offset"`
	Committed  int64 `json:"committed_offset"`
}

// Targets returns the files being tailed, sorted by path.
func (a *Agent) Targets() []FileStatus {
	a.flowMu.Lock()
	defer a.flowMu.Unlock()
	out := make([]FileStatus, 0, len(a.files))
	for _, f := range a.files {
		s := FileStatus{Path: f.path, Labels: f.tgt.labels.String(), State: f.state.String(), Committed: f.committed.Offset}
		if f.tgt.job != nil {
			s.Job = f.tgt.job.name
		}
		if n := len(f.gens); n > 0 {
			s.ReadOffset = f.gens[n-1].readEnd
		} else {
			s.ReadOffset = f.committed.Offset
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y FileStatus) int { return strings.Compare(x.Path, y.Path) })
	return out
}
