package querier

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes a Querier. Every field has a default (DefaultConfig).
type Config struct {
	// IndexCacheBytes bounds the memory of decoded index objects kept
	// between invocations (counted as their encoded size). Index objects
	// are immutable, so cached ones never go stale. 0 turns the cache off.
	IndexCacheBytes int64 `yaml:"index_cache_bytes"`
	// MaxParallelReads bounds the GETs one invocation has in flight (index
	// objects and data file ranges).
	MaxParallelReads int `yaml:"max_parallel_reads"`
	// RecentTimeout bounds the wait for the ingesters' recent data.
	RecentTimeout time.Duration `yaml:"recent_timeout"`
	// MaxSeries caps the series of a metric query (Loki's
	// max_query_series). The engine checks it when a result is finalised,
	// which for shards happens in the frontend; the querier applies it to
	// whole queries only.
	MaxSeries int `yaml:"max_series"`
	// MaxInternalSeries caps the series one range aggregation holds in a
	// shard before its outer aggregation reduces them: the querier's
	// memory bound for metric queries.
	MaxInternalSeries int `yaml:"max_internal_series"`
	// MaxEntries caps the limit of a log query (Loki's
	// max_entries_limit_per_query).
	MaxEntries int `yaml:"max_entries"`
	// MaxLabelResults caps the values, label sets or volumes of a labels,
	// label_values, series or volume answer; past it the request fails
	// with a limit error rather than run out of memory. 0 means no cap.
	MaxLabelResults int `yaml:"max_label_results"`
	// DelimitedIDs treats a line-filter literal that looks like a trace or
	// span id (16 or more hex digits and nothing else) as a whole token
	// when consulting the token filters, as if the query had written
	// |= " <id> ". Ids in log lines stand between delimiters (trace_id=…,
	// "…", […]), so this turns a needle query from a full scan into a few
	// block reads; the price is that a line holding the id glued inside a
	// longer token (x4bf9…) is missed. Set it false for exact substring
	// semantics at any cost.
	DelimitedIDs bool `yaml:"delimited_ids"`
	// NoEarlyStop reads a limited log query's shard in one pass instead
	// of in time windows, newest first (oldest first forward), that stop
	// once they hold the limit. For measurements.
	NoEarlyStop bool `yaml:"no_early_stop"`
}

// DefaultConfig returns the defaults: a 256 MiB index cache, 16 parallel
// reads, a 10 s recent-data timeout, Loki's limits (500 series, 5000
// entries), 100000 internal series and label results, and delimited ids.
func DefaultConfig() Config {
	return Config{
		IndexCacheBytes:   256 << 20,
		MaxParallelReads:  16,
		RecentTimeout:     10 * time.Second,
		MaxSeries:         500,
		MaxInternalSeries: 100000,
		MaxEntries:        5000,
		MaxLabelResults:   100000,
		DelimitedIDs:      true,
	}
}

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("invalid querier config")

// Validate reports a Config that cannot be used.
func (c Config) Validate() error {
	switch {
	case c.IndexCacheBytes < 0:
		return fmt.Errorf("%w: index_cache_bytes %d is negative", ErrConfig, c.IndexCacheBytes)
	case c.MaxParallelReads < 1:
		return fmt.Errorf("%w: max_parallel_reads %d, want at least 1", ErrConfig, c.MaxParallelReads)
	case c.RecentTimeout <= 0:
		return fmt.Errorf("%w: recent_timeout %s, want a positive duration", ErrConfig, c.RecentTimeout)
	case c.MaxSeries < 1:
		return fmt.Errorf("%w: max_series %d, want at least 1", ErrConfig, c.MaxSeries)
	case c.MaxInternalSeries < 1:
		return fmt.Errorf("%w: max_internal_series %d, want at least 1", ErrConfig, c.MaxInternalSeries)
	case c.MaxEntries < 1:
		return fmt.Errorf("%w: max_entries %d, want at least 1", ErrConfig, c.MaxEntries)
	case c.MaxLabelResults < 0:
		return fmt.Errorf("%w: max_label_results %d is negative", ErrConfig, c.MaxLabelResults)
	}
	return nil
}
