package datafile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/delta"
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

// pageReader walks the data pages of a run of pages (all of one column
// chunk), checking each header before it decompresses anything.
type pageReader struct {
	rest   []byte
	left   int64 // values still expected
	budget int64 // decompressed bytes still allowed
	codec  format.CompressionCodec
	enc    format.Encoding
	zp     *zstdPool
}

func newPageReader(pages []byte, rows int64, codec format.CompressionCodec, enc format.Encoding, zp *zstdPool) (*pageReader, error) {
	if codec != format.Zstd && codec != format.Uncompressed {
		return nil, fmt.Errorf("%w: compression codec %v", ErrCorrupt, codec)
	}
	// The budget bounds the decompressed bytes, so that corrupt pages that
	// each expand to the page limit cannot take much memory.
	return &pageReader{rest: pages, left: rows, budget: int64(maxPageSize) + 1024*int64(len(pages)), codec: codec, enc: enc, zp: zp}, nil
}

// next appends the values section of the next page to dst and returns
// the number of values in it; io.EOF after the last page, once exactly
// the expected number of values has been seen.
func (p *pageReader) next(dst []byte) ([]byte, int, error) {
	if len(p.rest) == 0 {
		if p.left != 0 {
			return dst, 0, fmt.Errorf("%w: %d values missing", ErrCorrupt, p.left)
		}
		return dst, 0, io.EOF
	}
	var proto thrift.CompactProtocol
	rd := proto.NewReaderFromBytes(p.rest)
	var h format.PageHeader
	if err := thrift.NewDecoder(rd).Decode(&h); err != nil {
		return dst, 0, fmt.Errorf("%w: page header: %v", ErrCorrupt, err)
	}
	p.rest = p.rest[rd.BytesRead():]
	c, u := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
	if c < 0 || c > int64(len(p.rest)) || u < 0 || u > maxPageSize {
		return dst, 0, fmt.Errorf("%w: page of %d bytes (%d uncompressed) with %d left", ErrCorrupt, c, u, len(p.rest))
	}
	page := p.rest[:c]
	p.rest = p.rest[c:]
	if p.budget -= u; p.budget < 0 {
		return dst, 0, fmt.Errorf("%w: pages expand over 1024 times", ErrCorrupt)
	}
	if h.Type != format.DataPageV2 || !h.DataPageHeaderV2.Valid {
		return dst, 0, fmt.Errorf("%w: page of type %v", ErrCorrupt, h.Type)
	}
	v2 := &h.DataPageHeaderV2.V
	if v2.Encoding != p.enc || v2.NumNulls != 0 || v2.DefinitionLevelsByteLength != 0 || v2.RepetitionLevelsByteLength != 0 ||
		v2.NumValues <= 0 || int64(v2.NumValues) > p.left {
		return dst, 0, fmt.Errorf("%w: page of %d values (%d null, encoding %v, levels %d+%d bytes) with %d rows left",
			ErrCorrupt, v2.NumValues, v2.NumNulls, v2.Encoding, v2.DefinitionLevelsByteLength, v2.RepetitionLevelsByteLength, p.left)
	}
	p.left -= int64(v2.NumValues)
	base := len(dst)
	if int64(base)+u > math.MaxUint32 {
		return dst, 0, fmt.Errorf("%w: column over 4 GiB", ErrCorrupt)
	}
	if p.codec == format.Zstd && (!v2.IsCompressed.Valid || v2.IsCompressed.V) {
		zd, err := p.zp.get()
		if err != nil {
			return dst, 0, fmt.Errorf("zstd decoder: %w", err)
		}
		dst = slices.Grow(dst, int(u))
		dst, err = zd.DecodeAll(page, dst)
		p.zp.put(zd)
		if err != nil {
			return dst, 0, fmt.Errorf("%w: decompress page: %v", ErrCorrupt, err)
		}
	} else {
		dst = append(dst, page...)
	}
	if int64(len(dst)-base) != u {
		return dst, 0, fmt.Errorf("%w: page of %d bytes, header says %d", ErrCorrupt, len(dst)-base, u)
	}
	return dst, int(v2.NumValues), nil
}

// decodeByteArrayPages decodes PLAIN byte array pages holding exactly
// rows values into out.
func decodeByteArrayPages(out *byteArrays, pages []byte, rows int64, codec format.CompressionCodec, zp *zstdPool) error {
	out.reset()
	pr, err := newPageReader(pages, rows, codec, format.Plain, zp)
	if err != nil {
		return err
	}
	for {
		base := len(out.buf)
		var n int
		out.buf, n, err = pr.next(out.buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// A 4-byte little-endian length, then the bytes.
		p := base
		for range n {
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
	}
}

// checkDeltaHeader checks that a DELTA_BINARY_PACKED page declares n
// values before the decoder allocates for them.
func checkDeltaHeader(b []byte, n int) error {
	for i := range 3 {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("%w: delta header", ErrCorrupt)
		}
		b = b[k:]
		if i == 2 && v != uint64(n) {
			return fmt.Errorf("%w: delta page of %d values, header says %d", ErrCorrupt, v, n)
		}
	}
	return nil
}

var deltaEncoding delta.BinaryPackedEncoding

// decodeInt64Pages appends the values of DELTA_BINARY_PACKED int64 pages
// holding exactly rows values to dst; scratch is a reusable buffer.
func decodeInt64Pages(dst []int64, scratch []byte, pages []byte, rows int64, codec format.CompressionCodec, zp *zstdPool) ([]int64, []byte, error) {
	pr, err := newPageReader(pages, rows, codec, format.DeltaBinaryPacked, zp)
	if err != nil {
		return dst, scratch, err
	}
	for {
		var n int
		scratch, n, err = pr.next(scratch[:0])
		if errors.Is(err, io.EOF) {
			return dst, scratch, nil
		}
		if err != nil {
			return dst, scratch, err
		}
		if err := checkDeltaHeader(scratch, n); err != nil {
			return dst, scratch, err
		}
		dst = slices.Grow(dst, n)
		vals, err := deltaEncoding.DecodeInt64(dst[len(dst):len(dst)], scratch)
		if err != nil || len(vals) != n {
			return dst, scratch, fmt.Errorf("%w: delta page: %d values, %v", ErrCorrupt, len(vals), err)
		}
		dst = append(dst, vals...) // in place: vals is dst's spare capacity
	}
}

// decodeInt32Pages is decodeInt64Pages for int32 values.
func decodeInt32Pages(dst []int32, scratch []byte, pages []byte, rows int64, codec format.CompressionCodec, zp *zstdPool) ([]int32, []byte, error) {
	pr, err := newPageReader(pages, rows, codec, format.DeltaBinaryPacked, zp)
	if err != nil {
		return dst, scratch, err
	}
	for {
		var n int
		scratch, n, err = pr.next(scratch[:0])
		if errors.Is(err, io.EOF) {
			return dst, scratch, nil
		}
		if err != nil {
			return dst, scratch, err
		}
		if err := checkDeltaHeader(scratch, n); err != nil {
			return dst, scratch, err
		}
		dst = slices.Grow(dst, n)
		vals, err := deltaEncoding.DecodeInt32(dst[len(dst):len(dst)], scratch)
		if err != nil || len(vals) != n {
			return dst, scratch, fmt.Errorf("%w: delta page: %d values, %v", ErrCorrupt, len(vals), err)
		}
		dst = append(dst, vals...)
	}
}
