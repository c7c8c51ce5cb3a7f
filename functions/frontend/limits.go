package frontend

import (
	"errors"
	"fmt"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
)

// Limits are the per-tenant query limits, named as Loki names them in its
// limits_config so that an overrides file reads the same.
type Limits struct {
	// MaxQueryLength caps End-Start of a query (Loki: max_query_length).
	MaxQueryLength time.Duration `yaml:"max_query_length"`
	// MaxEntriesLimitPerQuery caps the limit of a log query.
	MaxEntriesLimitPerQuery int `yaml:"max_entries_limit_per_query"`
	// MaxQuerySeries caps the series of a metric result.
	MaxQuerySeries int `yaml:"max_query_series"`
	// QueryTimeout bounds one query, fan-out and merge included.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxQueryParallelism caps the shards of one tenant that run at once,
	// across all of that tenant's queries in this frontend.
	MaxQueryParallelism int `yaml:"max_query_parallelism"`
	// SplitQueriesByInterval is the shard width. Shards are aligned to
	// multiples of it since the Unix epoch (UTC midnight for 24h); it must
	// divide 24h, so a shard never spans two days.
	SplitQueriesByInterval time.Duration `yaml:"split_queries_by_interval"`
	// MaxCacheFreshness: shards that end less than this before now are
	// not cached, since data may still arrive for them (Loki:
	// max_cache_freshness_per_query). kmlog's default covers the
	// ingesters' out-of-order window (1h) plus the time an entry may stay
	// in an ingester before it is flushed (QueryIngestersWithin, 3h).
	MaxCacheFreshness time.Duration `yaml:"max_cache_freshness_per_query"`
	// QueryIngestersWithin: shards that end less than this before now
	// also ask the ingesters for data not yet flushed (Request.Recent).
	QueryIngestersWithin time.Duration `yaml:"query_ingesters_within"`
	// MultiTenantQueriesEnabled lets a query name several tenants
	// (X-Scope-OrgID "a|b"), as Loki's multi_tenant_queries_enabled; each
	// tenant named must have it. Off by default, as in Loki.
	MultiTenantQueriesEnabled bool `yaml:"multi_tenant_queries_enabled"`
}

// DefaultLimits returns Loki's defaults (and kmlog's for the cache and
// ingester windows).
func DefaultLimits() Limits {
	return Limits{
		MaxQueryLength:          721 * time.Hour,
		MaxEntriesLimitPerQuery: 5000,
		MaxQuerySeries:          500,
		QueryTimeout:            time.Minute,
		MaxQueryParallelism:     32,
		SplitQueriesByInterval:  24 * time.Hour,
		MaxCacheFreshness:       4 * time.Hour,
		QueryIngestersWithin:    3 * time.Hour,
	}
}

// ErrBadLimits is wrapped by Limits.Validate errors.
var ErrBadLimits = errors.New("invalid limits")

// Validate checks l. Zero MaxQueryLength means no limit.
func (l Limits) Validate() error {
	switch {
	case l.MaxQueryLength < 0:
		return fmt.Errorf("%w: max_query_length %s is negative", ErrBadLimits, l.MaxQueryLength)
	case l.MaxEntriesLimitPerQuery <= 0:
		return fmt.Errorf("%w: max_entries_limit_per_query must be positive", ErrBadLimits)
	case l.MaxQuerySeries <= 0:
		return fmt.Errorf("%w: max_query_series must be positive", ErrBadLimits)
	case l.QueryTimeout <= 0:
		return fmt.Errorf("%w: query_timeout must be positive", ErrBadLimits)
	case l.MaxQueryParallelism <= 0:
		return fmt.Errorf("%w: max_query_parallelism must be positive", ErrBadLimits)
	case l.SplitQueriesByInterval <= 0 || (24*time.Hour)%l.SplitQueriesByInterval != 0:
		return fmt.Errorf("%w: split_queries_by_interval %s must divide 24h", ErrBadLimits, l.SplitQueriesByInterval)
	case l.MaxCacheFreshness < 0:
		return fmt.Errorf("%w: max_cache_freshness_per_query is negative", ErrBadLimits)
	case l.QueryIngestersWithin < 0:
		return fmt.Errorf("%w: query_ingesters_within is negative", ErrBadLimits)
	}
	return nil
}

// LimitsFunc returns the limits of a tenant (cmd wires it to an overrides
// file). It is called once per request and must be safe for concurrent
// use.
type LimitsFunc func(tenant.ID) Limits
