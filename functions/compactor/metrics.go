package compactor

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	runs           *prometheus.CounterVec
	duration       prometheus.Histogram
	filesIn        prometheus.Counter
	filesOut       prometheus.Counter
	bytesIn        prometheus.Counter
	bytesOut       prometheus.Counter
	entriesIn      prometheus.Counter
	entriesOut     prometheus.Counter
	duplicates     prometheus.Counter
	deleted        prometheus.Counter
	retention      prometheus.Counter
	objectsDeleted prometheus.Counter
	days           prometheus.Counter
	daysRetained   prometheus.Counter
	deleteRequests prometheus.Counter
	lastSuccess    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) metrics {
	f := promauto.With(reg)
	c := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Name: "kmlog_compactor_" + name, Help: help})
	}
	return metrics{
		runs: f.NewCounterVec(prometheus.CounterOpts{Name: "kmlog_compactor_runs_total",
			Help: "Compaction runs, by outcome."}, []string{"status"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Name: "kmlog_compactor_run_duration_seconds",
			Help: "Wall time of a compaction run.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 12)}),
		filesIn:        c("input_files_total", "Data files merged."),
		filesOut:       c("output_files_total", "Data files written."),
		bytesIn:        c("input_bytes_total", "Stored bytes of the data files merged."),
		bytesOut:       c("output_bytes_total", "Stored bytes of the data files written."),
		entriesIn:      c("input_entries_total", "Entries read by merges."),
		entriesOut:     c("output_entries_total", "Entries written by merges."),
		duplicates:     c("duplicates_removed_total", "Replicated or re-uploaded entries dropped."),
		deleted:        c("deleted_entries_total", "Entries removed for delete requests."),
		retention:      c("retention_deleted_entries_total", "Entries removed past their retention."),
		objectsDeleted: c("objects_deleted_total", "Objects deleted: retired files, old manifests, days past retention."),
		days:           c("days_compacted_total", "Tenant days merged."),
		daysRetained:   c("days_retained_total", "Tenant days deleted whole past retention."),
		deleteRequests: c("delete_requests_total", "Delete requests received."),
		lastSuccess: f.NewGauge(prometheus.GaugeOpts{Name: "kmlog_compactor_last_success_timestamp_seconds",
			Help: "When the last compaction run without errors ended."}),
	}
}

func (m metrics) observe(r *Report, err error) {
	status := "ok"
	if err != nil {
		status = "error"
	}
	m.runs.WithLabelValues(status).Inc()
	m.duration.Observe(r.DurationSeconds)
	m.filesIn.Add(float64(r.FilesIn))
	m.filesOut.Add(float64(r.FilesOut))
	m.bytesIn.Add(float64(r.BytesIn))
	m.bytesOut.Add(float64(r.BytesOut))
	m.entriesIn.Add(float64(r.EntriesIn))
	m.entriesOut.Add(float64(r.EntriesOut))
	m.duplicates.Add(float64(r.Duplicates))
	m.deleted.Add(float64(r.DeletedEntries))
	m.retention.Add(float64(r.RetentionEntries))
	m.objectsDeleted.Add(float64(r.ObjectsDeleted))
	m.days.Add(float64(r.DaysCompacted))
	m.daysRetained.Add(float64(r.DaysRetained))
	if err == nil {
		m.lastSuccess.SetToCurrentTime()
	}
}
