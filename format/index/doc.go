// Package index is the small object kept beside each data file
// (<tenant>/<day>/index/<ULID>.idx, see format/objkey). From the index
// alone a querier learns which streams a file holds, which of their
// blocks overlap a time range and may contain a line-filter literal, and
// which byte ranges of the data file to fetch (the pages of those
// blocks); it also carries the data file's page index and Parquet footer,
// so datafile.Open needs no read of its own. A cold query of one file
// therefore costs one GET for the index and one coalesced GET per run of
// needed pages.
//
// # Blocks and gram filters (version 4, the default)
//
// A block is the rows of one stream inside one row group of the data
// file (datafile.BlockSummary). Each block has a Bloom filter over its
// lines' substring grams (datafile.EachGram): for every window of
// datafile.GramSpan (12) bytes of an id run (letters, digits, '-' and
// '_', lowercased) that holds a digit and a letter, the window's
// minimizer, the smallest hash of its 7 grams of 6 bytes. A literal's
// own windows (datafile.LiteralGrams) lie inside the id runs of any line
// that contains it, where the same minimizers were kept, so
// Filter.MayContain is false only when a minimizer is missing: no false
// negatives, whatever the literal's edges and case. Any literal holding
// 12 bytes of an id with a digit and a letter prunes: a 32- or 16-hex
// id, a 12-hex prefix of one, a UUID, tx_8683577ea331b497, a pod name.
// Words, numbers and shorter ids do not prune. Gram filters are sized by
// Config.BitsPerGram (default 6: a literal usually requires several
// minimizers, so a per-gram false-positive rate of 5% costs little).
//
// # Token filters (version 3, Config.NoGrams)
//
// Before version 4 each block had a Bloom filter over the
// hashes of its lines' id-like tokens (datafile.EachToken: at least 8
// bytes of letters and digits with both a digit and a letter, lowercased;
// a 32-digit trace id is one token) of at least Index.MinTokenLen bytes
// (Config.MinTokenLen, default 20). Filter.MayContain(literal) tokenizes
// the literal and requires only its complete inner id-like tokens of at
// least that length, those with a non-token byte on both sides inside the
// literal: a token at either edge of the literal may be the middle of a
// longer token in the line, so requiring it could give a false negative.
// Tokens that are not indexed are simply not required, so the filter is
// false only when a required token hash is missing and never gives a
// false negative, whether the match is case-sensitive or not.
//
// Which queries prune: a literal holding a complete id of at least
// MinTokenLen bytes with a digit and a letter, such as
// `|= "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 "` or
// `|= "\"4bf9...\""`; the querier passes a bare id wrapped in spaces
// (DelimitedIDs), which prunes the same way. With the default 20, 32-hex
// trace and request ids prune and 16-hex span ids, UUID parts, words and
// numbers do not (`|= "transaction failed"` reads every block of the
// selected streams, as the label matchers and time range allow).
//
// Filter bits: m = 8*len(bits) bits (at least 64 when the block has a
// token, 0 when it has none, which holds nothing), k probes; for a token
// hash h, enhanced double hashing: a = h, d = h>>33 | 1, and for i in
// [0, k) bit a mod m, then a += d, d += i; bit p is bits[p/8] & (1 <<
// (p%8)). Build uses Config.BitsPerToken (default 14, k = 10, about 0.1%
// false positives); k = round(bits * ln 2).
//
// # Byte layout (versions 3 and 4)
//
// All integers are unsigned LEB128 varints (uvarint) unless marked
// varint (zigzag, as encoding/binary.AppendVarint); strings and byte
// strings are a uvarint length then the bytes.
//
//	index     := magic version minTokenLen(1 byte, 8..63)
//	             [gramLen(1 byte) gramWindow(1 byte)]   version 4 only
//	             bodySize zstd(body) crc
//	magic     := "KMIX"
//	version   := 0x03 (token filters) | 0x04 (gram filters)
//	body      := dataSize tail rows minTime(varint) maxTime-minTime
//	             rowGroupCount rowGroup* streamCount stream*
//	tail      := bytes                      the data file's last bytes: page
//	                                        index, Parquet footer, its 4-byte
//	                                        length, "PAR1" (datafile.Summary.Tail)
//	rowGroup  := rows (offset length){4}    column chunk byte ranges in column
//	                                        order line, metadata, stream, ts
//	stream    := labelCount (name value)*   label set, names strictly increasing
//	             rows lineBytes minTime(varint) maxTime-minTime
//	             blockCount block*
//	block     := rowGroup firstRow rows lineBytes
//	             minTime-stream.minTime maxTime-minTime
//	             pages{4}                   by column, as for rowGroup
//	             k(1 byte) [bitsLen bits]   k = 0: no filter, matches all
//	pages     := 0 | length offset          the pages covering the block's rows
//	                                        (datafile.BlockSummary.Columns),
//	                                        offset from the column chunk's;
//	                                        0: the whole column chunk
//	crc       := CRC-32C (Castagnoli) of magic..zstd(body), 4 bytes
//	             little-endian
//
// The body is one zstd frame (window 1 MiB) of bodySize bytes: the
// Parquet footer and the labels compress well, the filters do not.
// Streams are sorted by labels (labels.Compare), strictly, and a stream's
// position is its id in the data file. Decode checks the magic, version,
// token length and checksum first, refuses a bodySize over 64 times the
// compressed bytes, then bounds every count by the bytes left before it
// allocates (so a corrupt object costs at most 64 times its own size in
// memory), every block's row group and rows by the row groups, every
// block's pages by their column chunk, and every range by the data size;
// it never panics.
//
// # Sizes
//
// Gram filters (version 4), measured by BenchmarkNeedleShapes: see
// BENCHMARKS.md for the figures per id shape (read share, index share,
// false-positive rate) and for the window and bits chosen. The token
// filter figures below are of version 3.
//
// Measured on 64 MiB of format/loggen lines (240 streams over a day,
// 1 MiB row groups), counting the index GET, means over the 10 needle
// trace ids of the file's second half (BenchmarkNeedle,
// BenchmarkNeedleConfigs, BenchmarkStreamHour):
//
//	index                       tokens          bits  index/file  needle read  requests
//	v1 (whole row groups)       all >= 2 bytes  10     9.3%       14.5%        3.9
//	v2 (whole row groups)       ids >= 16       10     2.8%        7.5%        3.6
//	v2 (whole row groups)       ids >= 20       14     2.2%        4.4%        2.3
//	v2 + zstd body              ids >= 20       14     1.7%        3.9%        2.3
//	v3 + block pages            ids >= 8        14     3.9%        5.3%        2.7
//	v3 + block pages            ids >= 16       14     3.1%        4.5%        3.0
//	v3 + block pages            ids >= 20       10     1.4%        3.5%        5.2
//	v3 + block pages (default)  ids >= 20       14     1.8%        3.2%        2.8
//
// (The v3 rows but the default were measured with a page cut at every
// block, datafile.Config.BlockPageBytes 0; the default 64 KiB moves them
// by less than 0.1 point.) One stream's hour reads 3.5% of the file (index included; 11.5% with
// v1). A false positive costs a read of the block's pages, so the false
// positive rate matters as much as the filter's size: at 10 bits (1%)
// the 283 blocks gave 2.4 false blocks a needle. The 2% needle goal is
// not met: the index is 1.8% (1.5% of it the filters of ~100,000
// distinct 32-hex ids at 14 bits, each id in a block costing 1.75 bytes,
// the rest the compressed tail and labels), and the id's own block pages
// are 0.4-2% of the file (a busy stream's block is a whole 1 MiB page).
// Going further needs fewer filter bits per id (a binary fuse filter
// would give 0.4% false positives at 9 bits) or smaller pages, which cost
// compression (format/datafile's measured choices). Decode runs at about
// 600 MB/s.
//
// # Check
//
// Check reads the whole data file and compares it with the index: stream
// count, labels, rows, time bounds, line bytes, row groups and their byte
// ranges, blocks, the tail, and every gram of every block against the
// block's filter (datafile.Reader.Summarize collects grams, not id
// tokens, so a version 3 token filter is not checked token by token). Storage tests end with it.
package index
