package frontend

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	requests    *prometheus.HistogramVec // by route and status code
	shards      prometheus.Counter
	invocations prometheus.Counter
	cacheHits   *prometheus.CounterVec // by tier
	cacheMisses prometheus.Counter
	cacheStores prometheus.Counter
	earlyStops  prometheus.Counter
	tails       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		requests: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kmlog_frontend_request_duration_seconds",
			Help:    "Time to answer an HTTP request of the Loki API, by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"route", "status_code"}),
		shards: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_frontend_shards_total",
			Help: "Shard requests planned (answered from the cache or by a querier).",
		}),
		invocations: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_frontend_querier_invocations_total",
			Help: "Querier invocations.",
		}),
		cacheHits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kmlog_frontend_cache_hits_total",
			Help: "Cacheable shards answered from the results cache, by tier (memory, bucket).",
		}, []string{"tier"}),
		cacheMisses: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_frontend_cache_misses_total",
			Help: "Cacheable shards not found in the results cache.",
		}),
		cacheStores: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_frontend_cache_stores_total",
			Help: "Shard answers written to the results cache.",
		}),
		earlyStops: f.NewCounter(prometheus.CounterOpts{
			Name: "kmlog_frontend_early_stops_total",
			Help: "Limited log queries that stopped before running every shard.",
		}),
		tails: f.NewGauge(prometheus.GaugeOpts{
			Name: "kmlog_frontend_tail_connections",
			Help: "Open tail WebSocket connections.",
		}),
	}
}
