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
// BenchmarkIngestAllInOne measures pushes into an all-in-one process:
// MB/s of raw line bytes (and per core of the machine), lines/s, and the
// process's resident memory per MB/s ingested.
package e2e
