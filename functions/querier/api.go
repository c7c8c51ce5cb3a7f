// The Request and Response types below are the contract between the
// frontend and the querier, whatever carries them (a function call, HTTP
// JSON to a Knative Service, a Lambda invocation). Fields may be added;
// none may be renamed or removed without changing both sides.

package querier

import (
	"github.com/kubemate/kmlog/format/tenant"
)

// Kind is what a Request asks for.
type Kind string

// The kinds of request.
const (
	KindQuery       Kind = "query"        // a LogQL log or metric query: Response.Partial
	KindLabels      Kind = "labels"       // label names: Response.Values
	KindLabelValues Kind = "label_values" // values of Request.Name: Response.Values
	KindSeries      Kind = "series"       // stream label sets: Response.Series
	KindStats       Kind = "stats"        // index/stats: Response.IndexStats
	KindVolume      Kind = "volume"       // index/volume: Response.Volumes
)

// Request is one shard of a query. Times are Unix nanoseconds.
type Request struct {
	Kind   Kind      `json:"kind"`
	Tenant tenant.ID `json:"tenant"`
	// Day is the UTC day of the shard, YYYY-MM-DD. The querier reads only
	// entries with ShardFrom <= ts < ShardThrough, which lie in Day.
	// An empty Day on a KindQuery asks for a whole query: one that the
	// engine cannot split runs over every day of [ShardFrom, ShardThrough)
	// (at most MaxWholeDays), and Partial holds the final result as a Loki
	// JSON body in the categorize-labels shape instead of a partial.
	Day          string `json:"day"`
	ShardFrom    int64  `json:"shard_from"`
	ShardThrough int64  `json:"shard_through"`

	// Query is the LogQL text (KindQuery), or a selector / matchers for
	// labels, label_values, series, stats and volume (may be empty).
	Query string `json:"query,omitempty"`
	// The whole query's parameters, as engine.Params: the partial result
	// covers every step whose window overlaps the shard.
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Step      int64  `json:"step,omitempty"`
	Interval  int64  `json:"interval,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	Direction string `json:"direction,omitempty"` // "forward" or "backward"

	// Name is the label of a KindLabelValues request.
	Name string `json:"name,omitempty"`
	// TargetLabels and AggregateBy shape a KindVolume request as Loki's
	// index/volume does.
	TargetLabels []string `json:"target_labels,omitempty"`
	AggregateBy  string   `json:"aggregate_by,omitempty"` // "series" or "labels"

	// Recent asks the querier to include the ingesters' data not yet in
	// the bucket (the frontend sets it for shards that may have any).
	Recent bool `json:"recent,omitempty"`

	// TenantLabel adds __tenant_id__=<Tenant> to every stream, for one
	// tenant's part of a multi-tenant query (Loki's label for it).
	TenantLabel bool `json:"tenant_label,omitempty"`
}

// Response is the answer to one shard.
type Response struct {
	// Partial is engine.Partial.MarshalBinary of a KindQuery answer.
	Partial    []byte              `json:"partial,omitempty"`
	Values     []string            `json:"values,omitempty"`
	Series     []map[string]string `json:"series,omitempty"`
	IndexStats *IndexStats         `json:"index_stats,omitempty"`
	Volumes    []Volume            `json:"volumes,omitempty"`
	Stats      Stats               `json:"stats"`
}

// IndexStats is Loki's index/stats answer.
type IndexStats struct {
	Streams uint64 `json:"streams"`
	Chunks  uint64 `json:"chunks"`
	Entries uint64 `json:"entries"`
	Bytes   uint64 `json:"bytes"`
}

// Volume is one labelled volume of an index/volume answer (bytes).
type Volume struct {
	Labels map[string]string `json:"labels"`
	Bytes  uint64            `json:"bytes"`
}

// Stats is what a shard cost; every invocation logs it once and returns it.
type Stats struct {
	IndexObjects    int64 `json:"index_objects"`    // index objects read
	DataObjects     int64 `json:"data_objects"`     // data files touched
	GetRequests     int64 `json:"get_requests"`     // GETs and ranged GETs on the bucket
	BytesRead       int64 `json:"bytes_read"`       // bytes read from the bucket
	BytesStored     int64 `json:"bytes_stored"`     // size of the data files of the day
	CacheHits       int64 `json:"cache_hits"`       // immutable objects served from memory
	CacheMisses     int64 `json:"cache_misses"`     //
	BlocksTotal     int64 `json:"blocks_total"`     // stream blocks of matching streams
	BlocksSkipped   int64 `json:"blocks_skipped"`   // pruned by time or token filter
	LinesScanned    int64 `json:"lines_scanned"`    // entries handed to the engine
	BytesScanned    int64 `json:"bytes_scanned"`    // their line bytes
	IngesterEntries int64 `json:"ingester_entries"` // entries from ingesters
	// IngesterFailures counts ingesters that failed while replicas answered.
	IngesterFailures int64   `json:"ingester_failures,omitempty"`
	DurationSeconds  float64 `json:"duration_seconds"` // wall time of the shard
}
