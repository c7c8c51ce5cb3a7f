// Package compactor is kmlog's compactor function: a scheduled job that
// turns each tenant/day's many flush files (one per flush per ingester,
// each entry stored three times, plus retried uploads) into few large
// sorted files, applies retention, and removes the lines of delete
// requests.
//
// # A run
//
// Run lists the bucket once and visits every tenant's days. A day whose
// every stream is past retention is deleted by prefix (indexes first). In
// other days, files that the newest generation replaced more than Grace
// ago are deleted, as are uploads and compactions that died half way
// (after OrphanAge). A day with live flush files, delete requests to
// apply, or entries past a stream's retention is then merged under a
// lease (lease.go): the live files, at most MaxFanIn at a time, are
// streamed in (stream, time) order, and entries equal in stream,
// timestamp, line and structured metadata are written once. Outputs are
// cut at TargetFileBytes (checked at row group cuts, so an output may
// exceed it by one row group), uploaded (data, then index as .cidx), and
// made visible at once by creating the day's next manifest generation
// with a create-only put (format/manifest specifies the view). A
// compactor killed at any step leaves either the old generation in force
// (its outputs are orphans, deleted later) or the new one (its inputs are
// deleted by a later run); queries never see both or neither.
//
// The frontend's results cache keys carry a digest of each day's index/
// listing (functions/frontend generation.go); the manifest, the .cidx
// objects and the delete markers all live under index/, so every commit,
// retirement and delete request changes the key and a cached answer from
// before is never served after.
//
// # Memory
//
// A merge reads each input one row group at a time: per input, one row
// group's compressed column chunks and its decoded columns (about 2 times
// its raw size, at most the writer's RowGroupBytes: 1 MiB for flushes,
// 4 MiB for outputs), plus one entry. The output writer buffers one row
// group (RowGroupBytes raw, compressed as it goes) and the entries of one
// (stream, timestamp) group across inputs. So the bound is about
//
//	MaxFanIn x 2 x input row group raw bytes + 2 x output RowGroupBytes
//	+ the largest group of entries sharing a stream and a timestamp
//
// which is 64 x 2 MiB + 8 MiB, about 140 MiB of live data, with the
// defaults and flush inputs (outputs are written to a temporary file, not
// held). Measured (BenchmarkCompact, KMLOG_BENCH_MIB=1024: a 1 GiB day,
// 384 flush files of three replicas): peak RSS 604 MiB for the whole test
// process, as the reads allocate per row group and Go's collector lets
// the heap reach twice the live data; lower MaxFanIn (or GOGC) to trade
// rounds for memory. A day
// with more live files than MaxFanIn is merged in rounds, each committing
// a generation: rounds of MaxFanIn flushes that keep the earlier rounds'
// outputs, then one round over those outputs.
//
// # Encoding of compacted files
//
// Outputs use zstd level 3 ("better"), 4 MiB row groups, 1 MiB pages
// and 256 KiB block page cuts (Config.DataFile): written once and read
// many times, they trade write speed for bytes. BenchmarkEncoding
// measures the choices (see DefaultConfig).
//
// # Retention and deletes
//
// Limits.RetentionPeriod and Limits.RetentionStream are Loki's
// retention_period and retention_stream (global in limits_config, per
// tenant in the overrides file). Delete requests (DeleteHandler, Loki's
// delete API) are stored in the bucket under the tenant, hidden from
// queries at once by the querier, and removed from files by the first run
// after DeleteRequestCancelPeriod; the request is "processed" once every
// day it covers has been rewritten and the grace period has passed.
//
// # Triggers
//
// The same Compactor runs on a timer in the all-in-one process (Loop), on
// a Knative PingSource tick and on a Lambda schedule event (Tick, through
// functions/knative and functions/lambda in cmd/kmlog), and on POST
// /compactor/run (Handler), which answers the run's Report. Each run logs
// one summary line and updates the kmlog_compactor_* metrics.
package compactor
