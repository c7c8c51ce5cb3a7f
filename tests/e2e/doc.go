// Package e2e proves kmlog's ingest path end to end, in the manner of
// VictoriaLogs' apptest: the tests build the kmlog binary once, run its
// roles (all, gateway, ingester) as separate processes on free loopback
// ports with generated config files, talk to them over real HTTP, kill and
// restart them, and check what reached a real MinIO bucket by reading it
// back with format/index and format/datafile.
//
// The tests run under plain `go test` (and so under `make test`). They
// skip when there is no MinIO binary, except under CI ($CI set), where
// that is a failure; see format/bucket/s3/miniotest.
//
// TestQuery proves the query path the same way: days of traffic pushed
// through the push API, then every Loki query endpoint answered over
// HTTP — by the all-in-one process, by a split deployment (ingester,
// gateway, a querier started as Knative starts it, a frontend) and by a
// frontend whose shards go through the Lambda adapter — compared with the
// LogQL engine run directly over the pushed entries; fan-out and the two
// cache tiers are checked by the answers' stats and /metrics, and
// logcli's requests against golden files in testdata/query (-update).
// BenchmarkQuery measures a needle query's read share, a literal scan's
// speed per CPU second, a Knative querier's cold start and cached
// repeats.
//
// BenchmarkIngestAllInOne measures pushes into an all-in-one process:
// MB/s of raw line bytes (and per core of the machine), lines/s, and the
// process's resident memory per MB/s ingested.
package e2e
