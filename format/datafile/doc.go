// Package datafile is the Parquet data file of kmlog: one file holds many
// streams of one tenant and day, and this comment is its specification.
//
// # Schema
//
// A data file is a Parquet file (github.com/parquet-go/parquet-go) with
// four required leaf columns, in this column order:
//
//	0 line      BYTE_ARRAY  PLAIN, zstd            the log line, any bytes
//	1 metadata  BYTE_ARRAY  PLAIN, zstd            structured metadata (below)
//	2 stream    INT32       DELTA_BINARY_PACKED    stream id, an index into the streams
//	3 ts        INT64 TIMESTAMP(NANOS) DELTA_BINARY_PACKED   Unix ns
//
// Rows are sorted by stream id, then timestamp. Stream ids number the
// file's streams in label order (labels.Compare), so sorting by id is
// sorting by labels. Data pages are version 2; the line and
// metadata columns carry no page or chunk min/max (SkipPageBounds), the
// stream and ts columns do: a reader learns each row group's stream and
// time bounds from the footer alone.
//
// The footer key/value metadata makes the file self-describing:
//
//	kmlog.format   "1"
//	kmlog.streams  the streams' label sets in id order, each in the
//	               labels.String form {a="b", c="d"}, separated by "\n"
//	               (values are quoted, so they never hold a raw newline)
//
// Metadata values encode a label set as uvarint count, then per label
// uvarint len(name), name, uvarint len(value), value; the empty set is
// zero bytes (AppendMetadata, DecodeMetadata).
//
// # Row groups, blocks and pages
//
// A row group is cut when its raw bytes (line plus metadata) reach
// Config.RowGroupBytes, or earlier at a stream boundary once it holds 3/4
// of that, or at Config.MaxRows rows. A stream's rows inside one row group
// form a block (BlockSummary): the unit of the index and its token
// filters. Pages are cut at Config.PageBytes uncompressed, and also, in
// every column at once, where a block starts inside a row group once the
// pages being filled hold Config.BlockPageBytes (64 KiB) of raw bytes, or
// inside a block that shares its first pages with earlier ones once it
// has that much of its own. So every block of at least BlockPageBytes is
// a run of whole pages, and a small block shares its pages only with
// neighbours that are small together. BlockSummary.Columns gives, per
// column, the pages that cover a block's rows (in every column the same
// rows), which the index keeps.
//
// Data pages are version 2 with no levels (the columns are required),
// PLAIN for line and metadata, DELTA_BINARY_PACKED for stream and ts,
// zstd. The writer puts the page index (Parquet's offset index for every
// column chunk, and the column index, page min/max, of every column but
// line and metadata) between the last column chunk and the footer.
//
// # Tokens
//
// The Writer records each block's distinct id-like token hashes for the
// index. A token is a maximal run of ASCII letters and digits and bytes
// >= 0x80, lowercased; it is id-like, and hashed, when it is at least
// MinTokenLen (8) bytes long and holds both a digit and a letter (or a
// byte >= 0x80): trace, span and request ids, pod hashes, the 8-hex part
// of a UUID. Words and numbers are not hashed: words recur in nearly every
// block, so a filter of them prunes little, and numbers (sizes, latencies,
// timestamp parts, IP parts) are numerous and rarely searched, yet on
// format/loggen lines these made 70% of a block's distinct tokens. The
// hash is 64-bit FNV-1a of the lowercased bytes, then a murmur3
// finalizer, with its top 6 bits replaced by min(length, 63) (TokenLen),
// so that an index may keep only the longer tokens (TokenHash,
// EachToken). A 32-digit hex trace id is one token. LiteralTokens gives
// the id-like tokens a line-filter literal requires (format/index
// explains why only complete inner tokens).
//
// # Reading
//
// Summary.Tail is everything after the last column chunk: the page index,
// the Parquet footer, its length and the magic. Open reads it with one
// suffix read of 64 KiB (one more when the tail is larger), or none when
// given it (the index keeps a copy). Read plans from the tail: it keeps
// the row groups whose ts bounds overlap the time range; for a selection
// of blocks it finds, from the stream column's page bounds, the pages that
// may hold each selected stream, widens them to the smallest run of rows
// that starts and ends pages in every needed column (stream and ts
// always, line and metadata on request), and merges overlapping runs; a
// file without a page index is read by whole column chunks. It merges the
// byte ranges in file order across holes of up to 32 KiB into requests of
// up to 16 MiB, and issues one ReadAt per request, so each ReadAt is one
// ranged GET. It decodes the pages itself (zstd with a pooled decoder of
// concurrency 1, straight into one buffer per column, no copy of a line
// after decompression), checking every header, size, count, encoding and
// the decompressed size against the bytes present and the limits
// (MaxRowsPerRowGroup, 64 MiB pages, at most 1024 times expansion), so
// corrupt input never makes it allocate much more than the input; panics
// of the Parquet footer or delta decoders are recovered into ErrCorrupt.
//
// # Measured choices
//
// On 64 MiB of format/loggen lines (default cluster: 240 streams; 2
// lines/s so the file spans about a day), on a shared 2-core machine, so
// speed is per CPU second (BenchmarkWriteConfigs):
//
//	row group  page   zstd     ratio   write MB/cpu-s   footer
//	1 MiB      256K   fastest  5.20x    70             49 KB
//	1 MiB      1M     fastest  5.60x    73-100         49 KB
//	1 MiB      1M     default  5.57x    50             49 KB
//	1 MiB      1M     better   5.90x    33             49 KB
//	4 MiB      1M     fastest  5.66x    93             33 KB
//	4 MiB      1M     better   5.97x    51             33 KB
//
// For reference, zstd over the same lines as one stream gives 6.9x
// (default level, 1 MiB blocks) to 7.9x (best level, one 64 MiB block):
// the corpus is high-entropy (random trace ids, IPs, latencies), so the
// 15x goal is out of reach for it with zstd at any level. Defaults: 1 MiB
// row groups (4 MiB compresses 1% better but quadruples the read unit),
// 1 MiB pages (+8% over 256 KiB), zstd fastest (the default level gains
// nothing, better gains 5% at half the speed; a compactor may choose
// ZstdLevel 3). DELTA_BINARY_PACKED makes stream ids nearly free; the
// random ns timestamps cost about 4.5 bytes a row.
//
// Full scan of lines (BenchmarkScan): 560-680 MB/s of raw lines per core,
// under the 1 GB/s goal; zstd decoding and the copy into the row group
// buffer dominate. One stream, one hour (BenchmarkReadStreamHour): 1.7%
// of the file in 1 request, given the tail.
package datafile
