// Package querier is the querier function: it answers one shard of a query
// — one tenant, one UTC day — from that day's index and data files in the
// bucket, plus the ingesters' recent data, and returns the engine's
// mergeable partial result (or label names, values, series, index stats,
// volumes) for the query frontend to merge. The Request/Response contract
// is in api.go.
//
// # Using it
//
//	q := querier.New(cfg, bkt, querier.NewHTTPRecent(ingesterURLs, nil, logger), logger, reg)
//	resp, err := q.Query(ctx, querier.Request{Kind: querier.KindQuery, ...})
//	http.Handle("/", q) // POST JSON Request -> JSON Response
//
// A Querier holds only the index cache between invocations and is safe
// for concurrent use; the Knative and Lambda adapters wrap the same value
// (ServeHTTP, or Query directly). Errors map to statuses with HTTPStatus:
// 400 for parse errors, bad requests and limits (as Loki), 499 canceled,
// 504 past the deadline, 500 otherwise.
//
// # How a shard is read
//
//  1. List <tenant>/<day>/index/ and decode every index object, in
//     parallel; decoded indexes are kept in an LRU by key (objects are
//     immutable and never renamed, so the cache needs no invalidation).
//     The data files' sizes and Parquet footers come from the indexes:
//     opening a data file costs no request.
//  2. For each stream selector the engine asks for (engine.Source), plan
//     each file with index.Select: streams by matchers, blocks (a stream's
//     rows in one row group) by time and by the token filters of the
//     query's |= literals: the gram filters of index version 4 prune any
//     literal with 12 bytes of an id, substring-safe (format/index). For
//     version 3 token indexes a literal that is a bare hex id of 16 or
//     more digits is looked up as a whole token (Config.DelimitedIDs).
//  3. Read the selected blocks of every file concurrently (one goroutine
//     per file decoding into batches; the GETs in flight are bounded by
//     Config.MaxParallelReads). The datafile reader merges the needed
//     column chunks into few ranged GETs.
//  4. Merge files and the ingesters' answer with a k-way merge ordered by
//     (stream labels, time, line), yielding each (stream, time, line) once:
//     the same entry stored by three replicas, in an uncompacted and a
//     compacted file, and still held by ingesters appears once. Every file
//     sorts its streams by labels, so the merge streams the day without
//     holding it; each stream gets one labels slice for all its entries.
//
// A log query with a limit is read in time windows of the shard, newest
// first (oldest first forward), sized from the indexes' block rows and
// from the share of lines that matched in the windows before; it stops
// once the windows read hold the limit, as no line of an older (newer)
// window could be in the answer (earlystop.go; Config.NoEarlyStop turns
// it off).
//
// The ingesters are asked (Recent) in parallel with step 1 for the
// selector's matchers and |= literals over the shard; a log query whose
// pipeline is only such filters also lets them cut at the limit.
// HTTPRecent asks every ingester and tolerates MaxFailures of them (one by
// default: with replication factor 3 and write quorum 2 an acknowledged
// entry is on at least two); a tolerated failure is logged and counted in
// Stats.IngesterFailures, more fail the shard with ErrIngesters. Labels,
// label values and series ask the ingesters only when the request has a
// selector (their endpoint needs one). Stats and volume are answered from
// the index alone and count replicas not yet compacted as often as they
// are stored.
//
// Each invocation logs one line (duration, bytes and GETs, cache hits,
// blocks, lines) and returns the same figures in Response.Stats.
//
// # Measured
//
// On a compacted day of 64 MiB of loggen lines (240 streams, one data file
// of 11.4 MiB and its 1.1 MiB index, default configs), on a shared 2-core
// machine, so speeds are per CPU second (BenchmarkNeedle,
// BenchmarkScanLiteral, BenchmarkColdFirstAnswer):
//
//	needle trace id, warm (index cached)   8.6% of stored bytes, 5 GETs
//	needle trace id, cold                  17.9% (the index is 9.3%), 6 GETs
//	full scan, |= literal, directory       540 MB of raw lines per CPU second
//	full scan, |= literal, MinIO           490 MB/cpu-s
//	cold querier, 100 newest lines of      30 ms from a directory,
//	  one namespace's error streams        44 ms from MinIO (20.6% read)
//
// The needle misses the 2% goal: the token filters let 6 of 283 blocks
// through (the needle's and about 2% false positives), and reading a block
// costs its whole row group's line column chunk (about 1.5% of the file).
// Fewer false positives in format/index, or page-level reads of a block's
// rows in format/datafile, close the gap: with format/index changes in
// progress at the time of writing the same benchmark read 3.4% warm and
// 6.2% cold, in 2 and 3 GETs. The full scan runs at the speed of the
// data file reader (zstd and Parquet decoding); the merge, the copy into
// batches and the engine's line filter add little.
package querier
