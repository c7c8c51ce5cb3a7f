package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/labels"
)

// Magic starts every index object; Version follows it.
const (
	Magic   = "KMIX"
	Version = 4
	// VersionTokens is the version of indexes with token filters
	// (Config.NoGrams), which Decode still reads.
	VersionTokens = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every Decode error.
var ErrCorrupt = errors.New("corrupt index")

// ErrInconsistent is wrapped by every Check error about an index that
// does not describe its data file.
var ErrInconsistent = errors.New("index does not match data file")

// Encode returns the binary form of ix (see the package doc).
func (ix *Index) Encode() []byte {
	b := make([]byte, 0, 256+len(ix.Tail)+64*len(ix.RowGroups))
	b = binary.AppendUvarint(b, uint64(ix.DataSize))
	b = binary.AppendUvarint(b, uint64(len(ix.Tail)))
	b = append(b, ix.Tail...)
	b = binary.AppendUvarint(b, uint64(ix.Rows))
	b = binary.AppendVarint(b, ix.MinTime)
	b = binary.AppendUvarint(b, uint64(ix.MaxTime-ix.MinTime))
	b = binary.AppendUvarint(b, uint64(len(ix.RowGroups)))
	for _, rg := range ix.RowGroups {
		b = binary.AppendUvarint(b, uint64(rg.Rows))
		for _, c := range rg.Columns {
			b = binary.AppendUvarint(b, uint64(c.Off))
			b = binary.AppendUvarint(b, uint64(c.Len))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(ix.Streams)))
	for _, st := range ix.Streams {
		b = binary.AppendUvarint(b, uint64(len(st.Labels)))
		for _, l := range st.Labels {
			b = appendString(b, l.Name)
			b = appendString(b, l.Value)
		}
		b = binary.AppendUvarint(b, uint64(st.Rows))
		b = binary.AppendUvarint(b, uint64(st.LineBytes))
		b = binary.AppendVarint(b, st.MinTime)
		b = binary.AppendUvarint(b, uint64(st.MaxTime-st.MinTime))
		b = binary.AppendUvarint(b, uint64(len(st.Blocks)))
		for _, bl := range st.Blocks {
			b = binary.AppendUvarint(b, uint64(bl.RowGroup))
			b = binary.AppendUvarint(b, uint64(bl.FirstRow))
			b = binary.AppendUvarint(b, uint64(bl.Rows))
			b = binary.AppendUvarint(b, uint64(bl.LineBytes))
			b = binary.AppendUvarint(b, uint64(bl.MinTime-st.MinTime))
			b = binary.AppendUvarint(b, uint64(bl.MaxTime-bl.MinTime))
			for c, r := range bl.Columns {
				// 0, or the length and the offset inside the column chunk.
				b = binary.AppendUvarint(b, uint64(r.Len))
				if r.Len > 0 {
					b = binary.AppendUvarint(b, uint64(r.Off-ix.RowGroups[bl.RowGroup].Columns[c].Off))
				}
			}
			b = append(b, bl.Filter.k)
			if bl.Filter.k != 0 {
				b = binary.AppendUvarint(b, uint64(len(bl.Filter.bits)))
				b = append(b, bl.Filter.bits...)
			}
		}
	}
	out := make([]byte, 0, len(b)/2+64)
	out = append(out, Magic...)
	if ix.GramLen != 0 {
		out = append(out, Version, byte(ix.MinTokenLen), byte(ix.GramLen), byte(ix.GramWindow))
	} else {
		out = append(out, VersionTokens, byte(ix.MinTokenLen))
	}
	out = binary.AppendUvarint(out, uint64(len(b)))
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(indexWindow))
	if err != nil {
		panic("BUG: zstd writer: " + err.Error())
	}
	out = enc.EncodeAll(b, out)
	_ = enc.Close()
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// indexWindow is the zstd window of the body.
const indexWindow = 1 << 20

// maxExpansion bounds the body's size by the object's: Decode allocates
// at most this many times the bytes it is given (plus a little).
const maxExpansion = 64

// decompress returns the body of an index whose header has been read.
func decompress(frame []byte, size uint64) ([]byte, error) {
	if size > maxExpansion*uint64(len(frame))+4096 {
		return nil, fmt.Errorf("%w: body of %d bytes in %d", ErrCorrupt, size, len(frame))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(max(size+1, indexWindow)), zstd.WithDecoderMaxWindow(indexWindow))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(frame, make([]byte, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
	}
	if uint64(len(raw)) != size {
		return nil, fmt.Errorf("%w: body of %d bytes, header says %d", ErrCorrupt, len(raw), size)
	}
	return raw, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the body; every length is checked against what is left
// before anything is allocated, so allocation is bounded by len(input).
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int63 reads a uvarint that must fit an int64.
func (d *decoder) int63(what string) int64 {
	v := d.uvarint(what)
	if v > math.MaxInt64 {
		d.fail("%s %d out of range", what, v)
		return 0
	}
	return int64(v)
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items that take at least min bytes each.
func (d *decoder) count(what string, min int) int {
	v := d.uvarint(what)
	if v > uint64(len(d.b)/min) {
		d.fail("%s %d exceeds the %d bytes left", what, v, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) bytes(what string) []byte {
	n := d.count(what, 1)
	if d.err != nil {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// after adds a non-negative delta to base without overflow.
func (d *decoder) after(base int64, what string) int64 {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(math.MaxInt64-base) {
		d.fail("%s overflows", what)
		return base
	}
	return base + int64(v)
}

// Decode parses an index object. It never panics and does not retain b.
func Decode(b []byte) (*Index, error) {
	if len(b) < len(Magic)+1+4 || string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: no magic", ErrCorrupt)
	}
	version := b[len(Magic)]
	if version != Version && version != VersionTokens {
		return nil, fmt.Errorf("%w: version %d, want %d or %d", ErrCorrupt, version, VersionTokens, Version)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	hd := decoder{b: body[len(Magic)+1:]}
	if len(hd.b) == 0 {
		return nil, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	minLen := hd.b[0]
	hd.b = hd.b[1:]
	if minLen < datafile.MinTokenLen || minLen > 63 {
		return nil, fmt.Errorf("%w: min token length %d", ErrCorrupt, minLen)
	}
	var gramLen, gramWindow byte
	if version == Version {
		if len(hd.b) < 2 {
			return nil, fmt.Errorf("%w: truncated header", ErrCorrupt)
		}
		gramLen, gramWindow = hd.b[0], hd.b[1]
		hd.b = hd.b[2:]
		if gramLen < 1 || gramLen > 8 || gramWindow < 1 || gramWindow > 64 {
			return nil, fmt.Errorf("%w: gram length %d, window %d", ErrCorrupt, gramLen, gramWindow)
		}
	}
	size := hd.uvarint("body size")
	if hd.err != nil {
		return nil, hd.err
	}
	raw, err := decompress(hd.b, size)
	if err != nil {
		return nil, err
	}
	d := decoder{b: raw}
	ix := &Index{MinTokenLen: int(minLen), GramLen: int(gramLen), GramWindow: int(gramWindow)}
	ix.DataSize = d.int63("data size")
	ix.Tail = append([]byte(nil), d.bytes("tail")...)
	ix.Rows = d.int63("rows")
	ix.MinTime = d.varint("min time")
	ix.MaxTime = d.after(ix.MinTime, "max time")
	if d.err == nil && int64(len(ix.Tail)) > ix.DataSize {
		d.fail("tail of %d bytes in a file of %d", len(ix.Tail), ix.DataSize)
	}
	dataEnd := ix.DataSize - int64(len(ix.Tail))
	ix.RowGroups = make([]datafile.RowGroupInfo, d.count("row groups", 1+2*datafile.NumColumns))
	for i := range ix.RowGroups {
		rg := &ix.RowGroups[i]
		rg.Rows = d.int63("row group rows")
		for c := range rg.Columns {
			rg.Columns[c].Off = d.int63("column offset")
			rg.Columns[c].Len = d.int63("column length")
			if d.err == nil && (rg.Columns[c].Len > dataEnd || rg.Columns[c].Off > dataEnd-rg.Columns[c].Len) {
				d.fail("row group %d column %d past the data", i, c)
			}
		}
	}
	ix.Streams = make([]Stream, d.count("streams", 6))
	for i := range ix.Streams {
		st := &ix.Streams[i]
		st.Labels = make(labels.Labels, d.count("labels", 2))
		for j := range st.Labels {
			st.Labels[j] = labels.Label{Name: string(d.bytes("label name")), Value: string(d.bytes("label value"))}
			if d.err == nil && j > 0 && st.Labels[j-1].Name >= st.Labels[j].Name {
				d.fail("stream %d labels not sorted", i)
			}
		}
		if d.err == nil && i > 0 && labels.Compare(ix.Streams[i-1].Labels, st.Labels) >= 0 {
			d.fail("stream %d out of order", i)
		}
		st.Rows = d.int63("stream rows")
		st.LineBytes = d.int63("stream bytes")
		st.MinTime = d.varint("stream min time")
		st.MaxTime = d.after(st.MinTime, "stream max time")
		st.Blocks = make([]Block, d.count("blocks", 7))
		for j := range st.Blocks {
			bl := &st.Blocks[j]
			rg := d.uvarint("block row group")
			if d.err == nil && rg >= uint64(len(ix.RowGroups)) {
				d.fail("block in row group %d of %d", rg, len(ix.RowGroups))
			}
			bl.RowGroup = int(rg)
			bl.FirstRow = d.int63("block first row")
			bl.Rows = d.int63("block rows")
			if d.err == nil && (bl.Rows > ix.RowGroups[rg].Rows || bl.FirstRow > ix.RowGroups[rg].Rows-bl.Rows) {
				d.fail("block rows [%d, +%d) past row group %d", bl.FirstRow, bl.Rows, rg)
			}
			bl.LineBytes = d.int63("block bytes")
			bl.MinTime = d.after(st.MinTime, "block min time")
			bl.MaxTime = d.after(bl.MinTime, "block max time")
			for c := range bl.Columns {
				n := d.int63("block column length")
				if d.err != nil || n == 0 {
					continue
				}
				chunk := ix.RowGroups[rg].Columns[c]
				off := d.int63("block column offset")
				if d.err == nil && (n > chunk.Len || off > chunk.Len-n) {
					d.fail("block column %d bytes [%d, +%d) past its chunk of %d", c, off, n, chunk.Len)
				}
				bl.Columns[c] = datafile.Range{Off: chunk.Off + off, Len: n}
			}
			if len(d.b) == 0 {
				d.fail("truncated block")
			}
			if d.err != nil {
				break
			}
			k := d.b[0]
			d.b = d.b[1:]
			if k > maxProbes {
				d.fail("filter with %d probes", k)
			} else if k != 0 {
				bl.Filter = Filter{k: k, minLen: minLen, grams: gramLen != 0, bits: append([]byte(nil), d.bytes("filter")...)}
			}
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return ix, nil
}
