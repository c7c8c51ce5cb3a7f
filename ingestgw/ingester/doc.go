// Package ingester keeps recent log data: it appends every push to its
// write-ahead log before acknowledging it, holds the entries in in-memory
// heads (one per tenant and UTC day), flushes each head to one Parquet data
// file plus its index in the bucket, and answers queries for what is not
// yet visible there.
//
// # Durability
//
// Push returns nil only after the request is in the WAL under the WAL's
// fsync policy (ingestgw/internal/wal). A head is flushed when it reaches
// Config.FlushSize raw bytes or Config.FlushAge, on Flush, and on shutdown.
// The WAL segments that hold a head's entries are deleted only after the
// data file and index of every head with entries in them are uploaded.
//
// An upload that fails transiently (network, 5xx, timeout, bucket down) is
// retried with backoff; the head stays in memory and queryable meanwhile,
// and while it waits for its retry the upload slots serve other heads, so
// one tenant's failures never delay another's uploads. An upload that
// fails permanently (the bucket refuses the key, the head cannot be
// encoded) is not retried: the head is written to the quarantine directory
// (Config.QuarantineDir), dropped from memory and from the WAL's reckoning,
// counted in kmlog_ingester_quarantined_heads_total and logged at error
// level; the next start loads it and tries again. Stop uploads for at most
// Config.StopTimeout and leaves the rest in the WAL. On start the WAL is
// replayed into heads before the ingester reports ready. So an
// acknowledged entry is lost only if the WAL's disk is lost before the
// entry's data file reached the bucket.
//
// # Order and duplicates
//
// Entries of a stream may arrive out of order within Config.OutOfOrderWindow
// of the newest entry seen for that stream; older ones are rejected (400)
// while the rest of the push is kept. Entries with the same timestamp and
// line as one already held for the stream are dropped. Heads sort each
// stream by time when they are flushed.
//
// # Memory
//
// Lines are copied into per-head arenas, so a push body is not retained.
// Config.MaxHeadBytes bounds the bytes held in heads, flushing or not: past
// it a push is refused with 503 (clients retry) rather than exhausting
// memory while the bucket is unreachable. kmlog_ingester_memory_bytes
// reports the bytes held.
package ingester
