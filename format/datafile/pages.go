package datafile

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// The line and metadata columns (BYTE_ARRAY, PLAIN, required, data pages
// v2) are decoded here rather than by the Parquet library: each page's
// values are decompressed straight into one buffer per column and row
// group, and the rows point into it, so a line is never copied after
// decompression. Everything read from the file is checked before it is
// used; a page of another kind is ErrCorrupt.

// zstdPool holds zstd decoders (concurrency 1, bounded memory) for one
// Reader.
type zstdPool struct{ p sync.Pool }

func (z *zstdPool) get() (*zstd.Decoder, error) {
	if d, ok := z.p.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPageSize), zstd.WithDecoderLowmem(false))
}

func (z *zstdPool) put(d *zstd.Decoder) { z.p.Put(d) }

// byteArrays is one decoded BYTE_ARRAY column chunk: value i is
// buf[start[i]:end[i]].
type byteArrays struct {
	buf        []byte
	start, end []uint32
}

func (b *byteArrays) reset() {
	b.buf, b.start, b.end = b.buf[:0], b.start[:0], b.end[:0]
}

func (b *byteArrays) len() int { return len(b.start) }

func (b *byteArrays) value(i int) []byte { return b.buf[b.start[i]:b.end[i]:b.end[i]] }

// decodeByteArrayChunk decodes the pages of one column chunk, which must
// hold exactly rows values, into out.
func decodeByteArrayChunk(out *byteArrays, chunk []byte, rows int64, codec format.CompressionCodec, zp *zstdPool) error {
	if codec != format.Zstd && codec != format.Uncompressed {
		return fmt.Errorf("%w: compression codec %v", ErrCorrupt, codec)
	}
	out.reset()
	// A bound on the decompressed bytes, so that a corrupt chunk of pages
	// that each expand to the page limit cannot take much memory.
	budget := int64(maxPageSize) + 1024*int64(len(chunk))
	var proto thrift.CompactProtocol
	var n int64
	for len(chunk) > 0 {
		rd := proto.NewReaderFromBytes(chunk)
		var h format.PageHeader
		if err := thrift.NewDecoder(rd).Decode(&h); err != nil {
			return fmt.Errorf("%w: page header: %v", ErrCorrupt, err)
		}
		chunk = chunk[rd.BytesRead():]
		c, u := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
		if c < 0 || c > int64(len(chunk)) || u < 0 || u > maxPageSize {
			return fmt.Errorf("%w: page of %d bytes (%d uncompressed) with %d left", ErrCorrupt, c, u, len(chunk))
		}
		page := chunk[:c]
		chunk = chunk[c:]
		if budget -= u; budget < 0 {
			return fmt.Errorf("%w: pages expand over 1024 times", ErrCorrupt)
		}
		if h.Type != format.DataPageV2 || !h.DataPageHeaderV2.Valid {
			return fmt.Errorf("%w: page of type %v in a byte array column", ErrCorrupt, h.Type)
		}
		v2 := &h.DataPageHeaderV2.V
		if v2.Encoding != format.Plain || v2.NumNulls != 0 || v2.DefinitionLevelsByteLength != 0 || v2.RepetitionLevelsByteLength != 0 ||
			v2.NumValues < 0 || int64(v2.NumValues) > rows-n {
			return fmt.Errorf("%w: page of %d values (%d null, encoding %v, levels %d+%d bytes) with %d rows left",
				ErrCorrupt, v2.NumValues, v2.NumNulls, v2.Encoding, v2.DefinitionLevelsByteLength, v2.RepetitionLevelsByteLength, rows-n)
		}
		base := len(out.buf)
		if int64(base)+u > math.MaxUint32 {
			return fmt.Errorf("%w: row group column over 4 GiB", ErrCorrupt)
		}
		if codec == format.Zstd && (!v2.IsCompressed.Valid || v2.IsCompressed.V) {
			zd, err := zp.get()
			if err != nil {
				return fmt.Errorf("zstd decoder: %w", err)
			}
			out.buf = slices.Grow(out.buf, int(u))
			out.buf, err = zd.DecodeAll(page, out.buf)
			zp.put(zd)
			if err != nil {
				return fmt.Errorf("%w: decompress page: %v", ErrCorrupt, err)
			}
		} else {
			out.buf = append(out.buf, page...)
		}
		if int64(len(out.buf)-base) != u {
			return fmt.Errorf("%w: page of %d bytes, header says %d", ErrCorrupt, len(out.buf)-base, u)
		}
		// PLAIN byte arrays: a 4-byte little-endian length, then the bytes.
		p := base
		for range v2.NumValues {
			if len(out.buf)-p < 4 {
				return fmt.Errorf("%w: truncated byte array", ErrCorrupt)
			}
			l := int(binary.LittleEndian.Uint32(out.buf[p:]))
			p += 4
			if l > len(out.buf)-p {
				return fmt.Errorf("%w: byte array of %d bytes with %d left", ErrCorrupt, l, len(out.buf)-p)
			}
			out.start = append(out.start, uint32(p))
			out.end = append(out.end, uint32(p+l))
			p += l
		}
		if p != len(out.buf) {
			return fmt.Errorf("%w: %d bytes after the page's values", ErrCorrupt, len(out.buf)-p)
		}
		n += int64(v2.NumValues)
	}
	if n != rows {
		return fmt.Errorf("%w: %d values, want %d", ErrCorrupt, n, rows)
	}
	return nil
}
