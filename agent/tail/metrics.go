package tail

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the counters shared by every Tailer of an agent.
type Metrics struct {
	ReadBytes      prometheus.Counter
	ReadLines      prometheus.Counter
	TruncatedLines prometheus.Counter
	Rotations      *prometheus.CounterVec // kind: rename, truncate
}

// NewMetrics registers the tail metrics with reg (nil registers nothing).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		ReadBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_read_bytes_total",
			Help: "Bytes read from tailed files.",
		}),
		ReadLines: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_read_lines_total",
			Help: "Lines read from tailed files.",
		}),
		TruncatedLines: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_truncated_lines_total",
			Help: "Lines longer than max_line_size, cut to that size.",
		}),
		Rotations: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_file_rotations_total",
			Help: "Rotations seen by the tailers, by kind (rename, truncate).",
		}, []string{"kind"}),
	}
}
