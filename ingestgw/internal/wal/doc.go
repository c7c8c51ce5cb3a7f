// Package wal is the ingester's write-ahead log: a directory of numbered
// segment files holding checksummed records, appended with group commit
// and replayed in order after a restart.
//
// # Files
//
// The log is a directory of segments named by an 8-digit decimal number,
// 00000001.wal, 00000002.wal, …, with no gaps between the oldest and the
// newest. Records are appended to the newest segment only; a new segment is
// started when the next write would carry the current one past
// Config.SegmentSize, when Roll is called, and on every Open (so segments
// written by an earlier process are never written again). Other files in
// the directory are ignored.
//
// # Segment layout
//
// A segment is an 8-byte header followed by frames, back to back:
//
//	header: "KMWAL" 0x00 | version uint16 LE (= 1)
//	frame:  length uint32 LE | crc uint32 LE | payload [length & 0x7fffffff]byte
//
// The low 31 bits of length give the payload size, at most MaxRecordSize
// (a reader checks this, and that the payload fits in the file, before it
// allocates). The top bit, "synced", is set when every byte before the
// frame had been fsynced when the frame was written. crc is CRC-32C
// (Castagnoli) over the four length bytes, flag included, then the
// payload. Integers are little-endian. Empty payloads are allowed.
//
// # Group commit and fsync policies
//
// Concurrent Append calls are queued to one writer goroutine, which takes
// everything queued (up to 8 MiB) and writes it with one write call. The
// policy decides when Append returns:
//
//   - FsyncAlways (default): the writer fsyncs after each group and
//     acknowledges the group's appenders afterwards. An acknowledged record
//     survives power loss. Under load, one fsync covers many appends, so
//     throughput scales with concurrency while each Append waits about one
//     fsync.
//   - FsyncInterval: the writer acknowledges right after the write (the
//     data is in the page cache, safe from a process crash) and fsyncs
//     every Config.FsyncInterval. A power loss or kernel crash loses what
//     was acknowledged in the last interval, up to FsyncInterval plus one
//     fsync's duration. Use it when replication already protects the data
//     (the distributor writes to 3 ingesters) and disks are slow.
//   - FsyncNever: never fsyncs; a crash of the machine can lose anything
//     not yet written back by the kernel. For tests and benchmarks.
//
// A failed write (ENOSPC, EIO) is returned to every appender of the group,
// and the segment is truncated back to where the group began, so the log
// stays well-formed and later appends can succeed once space is back. A
// failed fsync under FsyncAlways is handled the same way. If even the
// truncation fails, the log refuses further appends (ErrBroken) until it
// is reopened, which repairs the tail.
//
// # Recovery
//
// Open repairs the newest segment: a frame that is cut short, has an
// impossible length, or fails its checksum ends the valid data, and the
// segment is truncated there with a logged warning — that is what a crash
// in the middle of a write leaves. Such a torn tail is told apart from
// corruption of acknowledged data by the synced flag: if a well-formed
// frame with the synced flag follows the damage, the damaged bytes had
// been fsynced before, so Open fails with a *CorruptionError instead of
// dropping them. Any damage in an older segment is a *CorruptionError
// naming the segment and offset; the log never skips data silently.
//
// # Checkpoints
//
// The ingester calls Roll to start a new segment: every record appended
// before Roll returned lies in a segment below the number it returns. Once
// that data is flushed to object storage, RemoveBefore deletes those
// segments.
package wal
