package ship

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are shared by every Client on one registry; each Client uses its
// own "client" label.
type metrics struct {
	sentBytes   *prometheus.CounterVec
	sentEntries *prometheus.CounterVec
	requests    *prometheus.CounterVec
	retries     *prometheus.CounterVec
	exhausted   *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	dropped     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_ship_sent_bytes_total", Help: "Compressed push body bytes accepted by the endpoint.",
		}, []string{"client"}),
		sentEntries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_ship_sent_entries_total", Help: "Entries accepted by the endpoint.",
		}, []string{"client"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_ship_requests_total", Help: "Push requests by HTTP status (\"error\" for network errors).",
		}, []string{"client", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_ship_retries_total", Help: "Push attempts retried after a 429, 5xx or network error.",
		}, []string{"client"}),
		exhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_ship_retries_exhausted_total", Help: "Batches still failing after max_retries (they keep being retried).",
		}, []string{"client"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kmlog_agent_ship_request_duration_seconds", Help: "Duration of push requests.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"client"}),
		// Shared with agent/pipeline: same name, help and labels.
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_agent_dropped_entries_total",
			Help: "Log entries dropped by a pipeline stage, by reason.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.sentBytes, err = register(reg, m.sentBytes)
	if err == nil {
		m.sentEntries, err = register(reg, m.sentEntries)
	}
	if err == nil {
		m.requests, err = register(reg, m.requests)
	}
	if err == nil {
		m.retries, err = register(reg, m.retries)
	}
	if err == nil {
		m.exhausted, err = register(reg, m.exhausted)
	}
	if err == nil {
		m.duration, err = register(reg, m.duration)
	}
	if err == nil {
		m.dropped, err = register(reg, m.dropped)
	}
	return m, err
}

// register registers c, or returns the collector already registered under
// its name (another Client, or the pipeline's drop counter).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register metrics: %w", err)
	}
	return c, nil
}
