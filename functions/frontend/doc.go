// Package frontend is the query frontend function: it serves Loki's query
// HTTP API for many tenants (the tenant comes from X-Scope-OrgID, set by
// the gateway), splits each request into time shards, runs the shards on
// querier functions through an Invoker, caches the answers of shards that
// can no longer change, and merges.
//
// # Splitting
//
// Shards are cut at multiples of the tenant's split_queries_by_interval
// since the epoch (24h by default: UTC days), so each lies in one day and
// one querier reads one day's index. How each kind of request is split:
//
//   - Log queries: one request per shard with the shard's own range
//     (Start/End clipped to it), run newest first (oldest first when
//     forward) at most max_query_parallelism at a time; the frontend
//     stops launching shards once the finished prefix holds `limit` lines,
//     since every later shard is strictly older (newer). Shard answers are
//     finalised one by one and merged as the engine orders lines (time,
//     then labels, then line). Because a shard's request does not depend
//     on the query's range, whole past days are cache hits for any range.
//   - Shardable metric queries: one request per shard of the samples' time
//     range [Start-range-offset, End], each with the whole query's
//     Start/End/Step (a partial covers every step whose window overlaps its
//     shard); partials are merged with engine.Merge and finalised here.
//     Cache entries are therefore reused by the same query with the same
//     start, end and step (a refresh of a fixed range, another frontend).
//   - Queries that cannot be split (quantile_over_time, stddev/stdvar,
//     rate_counter, log queries with an interval) are ONE request with an
//     empty Day and [ShardFrom, ShardThrough) spanning every day the query
//     reads; the querier answers it with the final result as a Loki JSON
//     body (categorize-labels encoding) in Response.Partial.
//   - Queries without a selector (vector(1)+vector(1), Grafana's health
//     check) are evaluated here.
//   - labels, label values, series, index/stats, index/volume: one request
//     per shard; answers are merged as unions (sorted) or sums; volumes
//     are summed per label set and cut to `limit`, largest first.
//     index/volume_range is the metric query
//     sum by (<labels>) (bytes_over_time(<selector>[<step>])).
//
// Shards ending less than query_ingesters_within before now carry
// Recent, asking the querier for the ingesters' unflushed data too.
//
// # Results cache
//
// A shard whose end is older than max_cache_freshness_per_query is
// cached: in memory (ristretto, Config.CacheSize bytes) and in the bucket
// at <tenant>/cache/<sha256 of the request> (the JSON Response), written
// once and read on a memory miss, so a frontend that scaled to zero starts
// warm. The key hashes the whole request — tenant, kind, canonical query
// (syntax.CanonicalString), shard, start, end, step, interval, limit,
// direction, label name, volume options — and a format version; entries
// never need invalidation. Hits and misses are counted in data.stats
// (cache.result) and in kmlog_frontend_cache_{hits,misses}_total.
//
// # Limits and errors
//
// Limits are Loki's per-tenant limits (max_query_length,
// max_entries_limit_per_query, max_query_series, query_timeout,
// max_query_parallelism, split_queries_by_interval, ...), looked up per
// request. Errors are plain text with Loki's texts and statuses (see
// Handler).
package frontend
