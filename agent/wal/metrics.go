package wal

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	appendedBytes   prometheus.Counter
	appendedEntries prometheus.Counter
	diskBytes       prometheus.Gauge
	segments        prometheus.Gauge
	full            prometheus.Counter
	blockedSeconds  prometheus.Counter
	dropped         prometheus.Counter
	corruptBytes    prometheus.Counter
	fsync           prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		appendedBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_appended_bytes_total", Help: "Bytes of records appended to the agent WAL.",
		}),
		appendedEntries: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_appended_entries_total", Help: "Entries appended to the agent WAL.",
		}),
		diskBytes: f.NewGauge(prometheus.GaugeOpts{
			Name: "kmlog_agent_wal_disk_bytes", Help: "Bytes of WAL segments on disk.",
		}),
		segments: f.NewGauge(prometheus.GaugeOpts{
			Name: "kmlog_agent_wal_segments", Help: "WAL segments on disk.",
		}),
		full: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_full_total", Help: "Appends that found the WAL at max_size_bytes.",
		}),
		blockedSeconds: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_blocked_seconds_total", Help: "Time Appends waited for WAL space (full_policy block).",
		}),
		dropped: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_dropped_entries_total", Help: "Entries deleted unsent because the WAL was full (full_policy drop_oldest).",
		}),
		corruptBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_agent_wal_corrupt_bytes_total", Help: "Bytes cut from WAL segments because they were torn or corrupt.",
		}),
		fsync: f.NewHistogram(prometheus.HistogramOpts{
			Name: "kmlog_agent_wal_fsync_duration_seconds", Help: "Duration of WAL fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}
