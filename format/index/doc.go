// Package index is the small object kept beside each data file
// (<tenant>/<day>/index/<ULID>.idx, see format/objkey). From the index
// alone a querier learns which streams a file holds, which of their
// blocks overlap a time range and may contain a line-filter literal, and
// which byte ranges of the data file to fetch; it also carries the data
// file's Parquet footer, so datafile.Open needs no read of its own. A
// cold query of one file therefore costs one GET for the index and one
// coalesced GET per run of needed row groups.
//
// # Blocks and token filters
//
// A block is the rows of one stream inside one row group of the data
// file (datafile.BlockSummary). Each block has a Bloom filter over the
// hashes of its lines' tokens, with the tokenizer of format/datafile: a
// token is a maximal run of ASCII letters, digits and bytes >= 0x80,
// lowercased, at least 2 bytes long; a 32-digit trace id is one token.
// Filter.MayContain(literal) tokenizes the literal and requires only its
// complete inner tokens, those with a non-token byte on both sides inside
// the literal: a token at either edge of the literal may be the middle of
// a longer token in the line ("ord" in "order"), so requiring it could
// give a false negative. A literal with no complete inner token (one bare
// word such as a trace id without context) matches every block, which is
// why queries for rare ids should include a delimiter, e.g.
// `|= "trace_id=4bf9..."` or `|= "\"4bf9...\""`; the querier may also
// pass a bare id wrapped in the delimiters it is known to have. The
// filter is false only when a required token hash is missing, so it never
// gives a false negative, whether the match is case-sensitive or not.
//
// Filter bits: m = 8*len(bits), k probes; for a token hash h, positions
// (a + i*d) mod m for i in [0, k) with a = h and d = h>>33 | 1; bit p is
// bits[p/8] & (1 << (p%8)). Build uses bitsPerToken = 10 (k = 7, about 1%
// false positives); an empty token set gives m = 0, which holds nothing.
//
// # Byte layout (version 1)
//
// All integers are unsigned LEB128 varints (uvarint) unless marked
// varint (zigzag, as encoding/binary.AppendVarint); strings and byte
// strings are a uvarint length then the bytes.
//
//	index     := magic version body crc
//	magic     := "KMIX"
//	version   := 0x01
//	body      := dataSize tail rows minTime(varint) maxTime-minTime
//	             rowGroupCount rowGroup* streamCount stream*
//	tail      := bytes                      the data file's last bytes: Parquet
//	                                        footer, its 4-byte length, "PAR1"
//	rowGroup  := rows (offset length){4}    column chunk byte ranges in column
//	                                        order line, metadata, stream, ts
//	stream    := labelCount (name value)*   label set, names strictly increasing
//	             rows lineBytes minTime(varint) maxTime-minTime
//	             blockCount block*
//	block     := rowGroup firstRow rows lineBytes
//	             minTime-stream.minTime maxTime-minTime
//	             k(1 byte) [bitsLen bits]   k = 0: no filter, matches all
//	crc       := CRC-32C (Castagnoli) of magic..body, 4 bytes little-endian
//
// Streams are sorted by labels (labels.Compare), strictly, and a stream's
// position is its id in the data file. Decode checks the magic, version
// and checksum first, then bounds every count by the bytes left before it
// allocates (so a corrupt object costs at most its own size in memory),
// every block's row group and rows by the row groups, and every range by
// the data size; it never panics.
//
// # Sizes
//
// Measured on 64 MiB of format/loggen lines (240 streams over a day,
// 1 MiB row groups), counting the index GET: BitsPerToken 10 makes the
// index 9.3% of the data file (the filters dominate: loggen lines carry
// many unique ids and numbers); a needle trace id query reads 9.7% of the
// file in 2 requests (index 9.3%, data 0.4%), one stream's hour 11% in 2
// (index included). BitsPerToken 6 shrinks the index to 5.9% but the
// false positives raise the needle read to 26% in 8 requests, so 10 is the
// default. Decode runs at about 900 MB/s.
//
// # Check
//
// Check reads the whole data file and compares it with the index: stream
// count, labels, rows, time bounds, line bytes, row groups and their byte
// ranges, blocks, the tail, and every token of every block against the
// block's filter. Storage tests end with it.
package index
