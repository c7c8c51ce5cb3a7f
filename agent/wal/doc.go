// Package wal is the agent's on-disk write-ahead log: every entry the
// agent ships is appended here first, and each shipping client reads it
// back through its own cursors, so a crash, a restart or an unreachable
// endpoint loses nothing.
//
// # Directory
//
//	<dir>/0000000000000001.seg   segments, numbered upwards, never reused
//	<dir>/0000000000000002.seg
//	<dir>/cursors.json           acknowledged positions, written atomically
//
// Open always starts a new segment, so a segment that was ever read by a
// client never grows again and a persisted cursor always points at a
// record boundary that still exists (or at a deleted segment, meaning
// "done").
//
// # Segment layout
//
// All integers are little-endian.
//
//	segment = header record*
//	header  = "KMLWAL" version:uint16 (= 1)                    8 bytes
//	record  = length:uint32 crc:uint32 body[length]
//	body    = uvarint(len(tenant)) tenant uvarint(entries) push
//
// crc is CRC-32C (Castagnoli) of body. push is an uncompressed protobuf
// PushRequest as written by format/push.AppendProto (see format/push/doc.go),
// and entries is the number of entries in it (so a segment's entries can be
// counted without decoding). A record is at most MaxRecordSize bytes. Each
// record is one Append: one tenant's streams. The empty tenant means "the
// client's default tenant".
//
// # Torn tails
//
// Open scans every segment. At the first record that is short, longer than
// MaxRecordSize, fails its CRC or does not decode, the segment is cut at
// that record's start (kmlog_agent_wal_corrupt_bytes_total counts what was
// cut). After a crash this removes the half-written last record; everything
// an Append returned nil for (with sync: always) is before it.
//
// # Cursors and deletion
//
// A cursor belongs to a (client, tenant) pair: each client reads the
// records of one tenant with a Reader, and acknowledges positions with
// Reader.Ack once the endpoint accepted them. One client, or one tenant of a
// client, that cannot deliver therefore never holds up another; it only
// holds the segments it has not acknowledged. Cursors are written to
// cursors.json every Config.CursorSyncInterval and on Close; after a crash
// delivery resumes at the last written cursor, so records acknowledged in
// the last interval are sent again (at-least-once; the ingesters drop exact
// duplicates). A sealed segment is deleted once, in the written cursors,
// every configured client has acknowledged the last record of every tenant
// that has records in it; a stuck tenant pins only the segments holding
// its own records.
//
// # Full disk
//
// The segments' total size is bounded by Config.MaxSizeBytes. When an
// Append would exceed it, Config.FullPolicy decides:
//
//   - "block" (default): Append waits until acknowledgements free space, or
//     its ctx ends. The tailer stops reading, its positions do not move,
//     and nothing is lost as long as the log files themselves are kept.
//     kmlog_agent_wal_full_total counts the waits and a warning is logged
//     when a wait starts. A client that can never deliver blocks collection
//     for all, which is the price of losing nothing.
//   - "drop_oldest": the oldest segments are deleted, whoever has not read
//     them; their entries are counted in
//     kmlog_agent_wal_dropped_entries_total.
//
// # Durability
//
// With Config.Sync "always" (default) Append returns after an fsync that
// covers its record; concurrent Appends share one fsync (group commit).
// With "interval" the head segment is fsynced every Config.SyncInterval:
// a process crash (kill -9) still loses nothing, a machine crash may lose
// the last interval.
package wal
