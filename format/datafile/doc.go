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
// # Grams
//
// With Config.NoIDTokens (the default) the Writer records only grams, not
// the id-like tokens above, which only version 3 token indexes use
// (Summary.NoIDTokens says so; Summarize does the same).
//
// The Writer also records each block's substring grams (EachGram), with
// TokenLen 0 so that they never pass for tokens: for every window of
// GramSpan bytes of an id run (a maximal run of token bytes, '-' and '_',
// lowercased) that holds a digit and a letter, the minimizer of the
// window (the smallest hash of its GramWindow grams of GramLen bytes,
// each gram's bytes packed into an integer g, hashed as h = g *
// 0x9e3779b97f4a7c15, h ^= h >> 32, top 6 bits cleared, low bit set), skipping a minimizer equal
// to the previous one of its run. LiteralGrams gives a literal's; every
// line containing the literal has them all (format/index explains the
// filters built from them).
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
// speed is per CPU second (BenchmarkWriteConfigs, BenchmarkWrite,
// BenchmarkScan, BenchmarkCorpusEntropy; KMLOG_BENCH_MIB picks another
// corpus size). Ratios are raw line bytes over file bytes:
//
//	row group  page   zstd     ratio   write MB/cpu-s   tail (page index+footer)
//	1 MiB      256K   fastest  5.12x   110              74 KB
//	1 MiB      1M     fastest  5.37x    93-112          72 KB
//	1 MiB      1M     default  5.36x    58              72 KB
//	1 MiB      1M     better   5.63x    40              72 KB
//	4 MiB      1M     fastest  5.45x    93              50 KB
//	4 MiB      1M     better   5.73x    43              50 KB
//
// Block page cuts (Config.BlockPageBytes) cost ratio and save reads:
//
//	BlockPageBytes  ratio 64 MiB  ratio 16 MiB  needle read  stream-hour read
//	0 (every block) 5.34x                       3.2%         3.5%
//	64 KiB          5.37x         4.77x         3.2%         3.5%
//	256 KiB         5.42x         5.16x         3.4%         3.9%
//	1 MiB (no cuts) 5.60x         5.50x         3.9%         3.9%
//
// (needle and stream-hour reads from format/index's benchmarks, index
// included, share of the data file at 64 MiB). Small files (an
// ingester's flush) lose more ratio, as their blocks are small.
//
// The 15x ratio goal is out of reach on this corpus, and not because of
// the format: its lines in file order as one zstd stream at the best
// level with an 8 MiB window compress 7.9x; with every hex run of 16 or
// more digits (trace, span and request ids) made constant 12.1x; with
// every digit made constant as well 44.6x. A JSON line averages 372 bytes
// and carries a random 32-hex trace id and 16-hex span id, 24 bytes of
// pure entropy, so 15x (25 bytes a line) cannot hold it; the random
// user ids, amounts, latencies and IPs do the rest. The ids are realistic
// (real trace ids are random too), the numbers rather more random than
// real ones. Within the file, lines take 86% (6.3x on their own), the ts
// column 7.6% (5.3 bytes a row: DELTA_BINARY_PACKED of exponential gaps
// at ns resolution, within 15% of their entropy, so byte-stream-split
// would not help), metadata 5.7% (the trace id again: a reference into
// the line would save most of it), stream ids nothing. Defaults: 1 MiB
// row groups, 1 MiB pages, 64 KiB block page cuts, zstd fastest (the
// default level gains nothing, better gains 5% at 40% of the speed: a
// compactor may set ZstdLevel 3 and 4 MiB row groups for 5.73x).
//
// Full scan of lines (BenchmarkScan, 64 MiB, alternating runs against the
// previous reader): 1030 MiB/s of raw lines per CPU second (was 890
// through the Parquet library's page decoding), of which zstd
// decompression is about 80%; the rest is page headers, delta decoding
// and the row loop. Write (BenchmarkWrite): 93-112 MB/cpu-s, of which
// zstd compression is about half and tokenizing 16% (it was 38% when
// every token was hashed). One stream, one hour (BenchmarkReadStreamHour):
// 1.7% of the file in 1 request, given the tail (2.2% before block pages).
package datafile
