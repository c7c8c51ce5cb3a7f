package wal

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	records        prometheus.Counter
	bytes          prometheus.Counter
	groupRecords   prometheus.Histogram
	fsyncs         prometheus.Counter
	fsyncDuration  prometheus.Histogram
	writeErrors    prometheus.Counter
	tornTails      prometheus.Counter
	segments       prometheus.Gauge
	currentSegment prometheus.Gauge
	replayed       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		records: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_ingester_wal_records_appended_total",
			Help: "Records appended to the WAL and acknowledged.",
		}),
		bytes: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_ingester_wal_bytes_appended_total",
			Help: "Bytes written to WAL segments, frame headers included.",
		}),
		groupRecords: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "kmlog_ingester_wal_group_records",
			Help:    "Records per group commit (one write, at most one fsync).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		fsyncs: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_ingester_wal_fsyncs_total",
			Help: "fsync calls on WAL segments.",
		}),
		fsyncDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "kmlog_ingester_wal_fsync_duration_seconds",
			Help:    "Duration of fsync calls on WAL segments.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		writeErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_ingester_wal_write_errors_total",
			Help: "Failed WAL writes or fsyncs; their appends were not acknowledged.",
		}),
		tornTails: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_ingester_wal_torn_tails_truncated_total",
			Help: "Torn tails cut off the newest segment when opening the WAL.",
		}),
		segments: f.NewGauge(prometheus.GaugeOpts{
			Name: "kmlog_ingester_wal_segments",
			Help: "WAL segment files on disk.",
		}),
		currentSegment: f.NewGauge(prometheus.GaugeOpts{
			Name: "kmlog_ingester_wal_segment_current",
			Help: "Number of the segment being appended to.",
		}),
		replayed: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_ingester_wal_records_replayed_total",
			Help: "Records read back by Replay.",
		}),
	}
}
