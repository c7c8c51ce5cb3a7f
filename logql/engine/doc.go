// Package engine evaluates LogQL over a Source of log entries, with
// Loki's semantics, and splits queries into mergeable partial results.
//
// # Evaluating
//
//	e := engine.New(engine.Opts{})        // Loki's default limits
//	res, err := e.Query(ctx, src, engine.Params{Query: q, Start: s, End: t, Step: time.Minute})
//
// Log queries return the lines with Start <= t < End, at most Limit (100
// by default), the newest first (Backward, Loki's default) or the oldest
// (Forward), grouped in Streams sorted by labels. Ties in time are broken
// by labels and then line text, so that the choice of lines at a limit is
// deterministic. Line filters are hoisted ahead of parsers and label
// filters (never past line_format, decolorize or unpack), which changes no
// answer.
//
// Metric queries are evaluated at each step t = Start, Start+Step, …, End
// (one step for an instant query, Step 0). A range aggregation at t sees
// the samples with t-offset-range < ts <= t-offset (left-open, as Loki);
// rate and bytes_rate divide by the range in seconds; series that still
// carry __error__ stop the query with Loki's PipelineError. Instant
// vectors and matrices are sorted by labels (sort/sort_desc keep their
// order in instant queries). A sum over count_over_time, rate,
// bytes_over_time, bytes_rate or sum_over_time groups the samples while
// extracting them, as Loki does, which bounds memory.
//
// Limits stop a query with Loki's texts: more result series than
// MaxSeries (SeriesLimitError), a log limit above MaxEntries
// (EntriesLimitError). All limit errors wrap ErrLimit.
//
// # Splitting
//
// A query splits by time into shards: Partial evaluates it over the
// entries of [shardFrom, shardThrough) only, but for every output step
// whose window overlaps the shard; Merge folds partials of disjoint shards;
// Finalize computes the answer. Query itself is Finalize of one Partial
// over all time, so both paths share every line of code.
//
// The partial state of a log query is its best Limit lines; of a metric
// query, per range aggregation, per series and per step, a cell (count n,
// value v, time t): sums for count/rate/bytes/sum/avg (sum and count),
// min, max, first and last (value with its time), presence for
// absent_over_time. Vector aggregations, binary operations, label_replace
// and literals run after the merge on exact range values, so they need no
// partial form of their own. quantile_over_time, stddev_over_time,
// stdvar_over_time and rate_counter need all samples of a window at once:
// Shardable reports false and Partial refuses them (ErrNotShardable), and
// so do log queries with an Interval.
//
// Merging is exact where the arithmetic is: counts, byte sums and sums of
// integer values are exact in float64 (below 2^53); sums of fractional
// unwrapped values may differ in the last bits from an unsplit run, as
// float addition is not associative.
//
// # Partial wire format
//
// MarshalBinary writes, with varints (zig-zag for signed) and strings as
// a uvarint length plus bytes:
//
//	magic "KMLQP\x01"
//	header: query string, start, end, step (ns), limit, direction byte
//	stats:  entries scanned, bytes scanned, entries returned,
//	        post-filter lines (varints), exec seconds (float64 LE)
//	kind byte: 0 log, 1 metric
//	log:    uvarint #label sets, each labels
//	        uvarint #entries, each: uvarint label-set index, varint ts,
//	        string line, labels structured metadata, labels parsed
//	metric: uvarint #range aggregations, each: combine byte, uvarint
//	        #series, each: labels, varint first step, uvarint #cells,
//	        each: uvarint n, and when n > 0: float64 v (LE), varint t
//	labels: uvarint count, then name and value strings, sorted by name
//
// UnmarshalBinary never panics, checks every count against the bytes
// left (so it allocates in proportion to its input) and rejects trailing
// bytes, unsorted labels, duplicate series and steps beyond 11000.
package engine
