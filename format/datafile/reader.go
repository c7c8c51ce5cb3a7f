package datafile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"sync/atomic"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Read-planning constants (see "Reading" in the package doc).
const (
	// suffixRead is the size of the one suffix GET that fetches the footer
	// when Open is not given the tail.
	suffixRead = 64 << 10
	// maxGap is the largest hole between two needed byte ranges that is
	// read rather than paid for with another request.
	maxGap = 32 << 10
	// maxFetch bounds one coalesced read (a single larger chunk is read
	// whole).
	maxFetch = 16 << 20
)

// OpenOptions are optional inputs to Open.
type OpenOptions struct {
	// Tail, when set, is the file's tail as Summary.Tail gives it (the
	// index keeps a copy); Open then reads nothing from r.
	Tail []byte
}

// Stats counts what a Reader read from its io.ReaderAt: each ReadAt call
// is one request (one ranged GET on a bucket).
type Stats struct {
	Requests  int64
	BytesRead int64
}

// Reader reads a data file through an io.ReaderAt. It reads only the byte
// ranges a Selection needs and coalesces them (see the package doc). A
// Reader is safe for concurrent use; every Read call has its own buffers.
type Reader struct {
	r       countingReaderAt
	size    int64
	file    *parquet.File
	tail    []byte
	streams []labels.Labels
	rgs     []rowGroupMeta
	zstd    zstdPool
}

type rowGroupMeta struct {
	rows             int64
	minStream        int32
	maxStream        int32
	minTime, maxTime int64
	cols             [NumColumns]Range
	codecs           [NumColumns]format.CompressionCodec
	pages            [NumColumns][]pageLoc // nil without a page index
}

// Open reads the footer of the data file of size bytes in r (or takes it
// from opts.Tail) and checks it. It costs at most one ReadAt when the
// footer is under 64 KiB, two otherwise, and none with opts.Tail.
func Open(ctx context.Context, r io.ReaderAt, size int64, opts OpenOptions) (rd *Reader, err error) {
	defer recoverCorrupt(&err)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rd = &Reader{size: size}
	rd.r.r = r
	if size < 12 {
		return nil, fmt.Errorf("open data file: %w: %d bytes", ErrCorrupt, size)
	}
	tail := opts.Tail
	if len(tail) < 8 || int64(len(tail)) > size || string(tail[len(tail)-4:]) != "PAR1" ||
		int64(binary.LittleEndian.Uint32(tail[len(tail)-8:]))+8 > int64(len(tail)) {
		if tail, err = rd.readTail(); err != nil {
			return nil, err
		}
	}
	// The footer first; the page index before it is added by
	// loadPageIndex, from the rest of the tail when it is there.
	footer := int64(binary.LittleEndian.Uint32(tail[len(tail)-8:])) + 8
	rd.tail = tail[int64(len(tail))-footer:]
	f, err := parquet.OpenFile(&tailReaderAt{r: &rd.r, off: size - int64(len(tail)), tail: tail}, size,
		parquet.SkipMagicBytes(true),
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.OptimisticRead(false),
		parquet.ReadBufferSize(64<<10),
	)
	if err != nil {
		return nil, fmt.Errorf("open data file: %w: %v", ErrCorrupt, err)
	}
	rd.file = f
	if err := rd.check(); err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	rd.tail = tail
	if err := rd.trimTail(); err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	if err := rd.loadPageIndex(); err != nil {
		return nil, fmt.Errorf("open data file: %w", err)
	}
	return rd, nil
}

// trimTail drops the bytes of the tail before the page index (or the
// footer, without one), so that the tail is the same however it was
// read; loadPageIndex reads what is missing.
func (rd *Reader) trimTail() error {
	var dataEnd int64 = 4
	for i := range rd.rgs {
		for _, r := range rd.rgs[i].cols {
			dataEnd = max(dataEnd, r.End())
		}
	}
	footer := int64(binary.LittleEndian.Uint32(rd.tail[len(rd.tail)-8:])) + 8
	start := rd.size - footer
	for _, rg := range rd.file.Metadata().RowGroups {
		for _, c := range rg.Columns {
			for _, off := range []int64{c.OffsetIndexOffset, c.ColumnIndexOffset} {
				if off >= dataEnd {
					start = min(start, off)
				}
			}
		}
	}
	tailStart := rd.size - int64(len(rd.tail))
	start = max(start, tailStart)
	rd.tail = rd.tail[start-tailStart:]
	return nil
}

// readTail reads the footer with one suffix read, or two when it is larger.
func (rd *Reader) readTail() ([]byte, error) {
	n := min(rd.size, suffixRead)
	buf := make([]byte, n)
	if _, err := rd.r.ReadAt(buf, rd.size-n); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	if string(buf[n-4:]) != "PAR1" {
		return nil, fmt.Errorf("open data file: %w: no trailing magic", ErrCorrupt)
	}
	footer := int64(binary.LittleEndian.Uint32(buf[n-8:]))
	if footer+12 > rd.size {
		return nil, fmt.Errorf("open data file: %w: footer of %d bytes in a file of %d", ErrCorrupt, footer, rd.size)
	}
	if footer+8 <= n {
		return buf, nil
	}
	full := make([]byte, footer+8)
	if _, err := rd.r.ReadAt(full[:footer+8-n], rd.size-footer-8); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	copy(full[footer+8-n:], buf)
	return full, nil
}

func (rd *Reader) check() error {
	f := rd.file
	if err := checkSchema(f.Schema()); err != nil {
		return err
	}
	if v, _ := f.Lookup(keyFormat); v != Version {
		return fmt.Errorf("%w: format version %q, want %q", ErrCorrupt, v, Version)
	}
	s, _ := f.Lookup(keyStreams)
	streams, err := decodeStreams(s)
	if err != nil {
		return err
	}
	rd.streams = streams
	md := f.Metadata()
	dataEnd := rd.size - int64(len(rd.tail))
	var total int64
	rd.rgs = make([]rowGroupMeta, len(md.RowGroups))
	for i, rg := range md.RowGroups {
		m := &rd.rgs[i]
		if rg.NumRows < 0 || rg.NumRows > MaxRowsPerRowGroup || len(rg.Columns) != NumColumns {
			return fmt.Errorf("%w: row group %d: %d rows, %d columns", ErrCorrupt, i, rg.NumRows, len(rg.Columns))
		}
		m.rows = rg.NumRows
		total += rg.NumRows
		for j := range rg.Columns {
			cm := &rg.Columns[j].MetaData
			r := chunkRange(cm)
			if r.Off < 4 || r.Len < 0 || r.End() > dataEnd || cm.NumValues != rg.NumRows {
				return fmt.Errorf("%w: row group %d column %d: bytes [%d, %d) of %d, %d values", ErrCorrupt, i, j, r.Off, r.End(), dataEnd, cm.NumValues)
			}
			m.cols[j] = r
			m.codecs[j] = cm.Codec
		}
		m.minStream, m.maxStream = 0, int32(min(len(streams), math.MaxInt32))-1
		if st := rg.Columns[colStream].MetaData.Statistics; len(st.MinValue) == 4 && len(st.MaxValue) == 4 {
			m.minStream = int32(binary.LittleEndian.Uint32(st.MinValue))
			m.maxStream = int32(binary.LittleEndian.Uint32(st.MaxValue))
		}
		m.minTime, m.maxTime = math.MinInt64, math.MaxInt64
		if st := rg.Columns[colTS].MetaData.Statistics; len(st.MinValue) == 8 && len(st.MaxValue) == 8 {
			m.minTime = int64(binary.LittleEndian.Uint64(st.MinValue))
			m.maxTime = int64(binary.LittleEndian.Uint64(st.MaxValue))
		}
	}
	if total != md.NumRows {
		return fmt.Errorf("%w: row groups hold %d rows, footer says %d", ErrCorrupt, total, md.NumRows)
	}
	if total > 0 && len(streams) == 0 {
		return fmt.Errorf("%w: %d rows and no streams", ErrCorrupt, total)
	}
	return nil
}

func chunkRange(cm *format.ColumnMetaData) Range {
	off := cm.DataPageOffset
	if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < off {
		off = cm.DictionaryPageOffset
	}
	return Range{Off: off, Len: cm.TotalCompressedSize}
}

// Streams returns the label sets of the file's streams, indexed by stream
// id. The caller must not modify them.
func (rd *Reader) Streams() []labels.Labels { return rd.streams }

// NumRows returns the rows of the file.
func (rd *Reader) NumRows() int64 { return rd.file.NumRows() }

// NumRowGroups returns the number of row groups.
func (rd *Reader) NumRowGroups() int { return len(rd.rgs) }

// Size returns the file size given to Open.
func (rd *Reader) Size() int64 { return rd.size }

// Tail returns the file's tail (footer), as Summary.Tail.
func (rd *Reader) Tail() []byte { return rd.tail }

// Stats returns what the Reader has read so far.
func (rd *Reader) Stats() Stats {
	return Stats{Requests: rd.r.requests.Load(), BytesRead: rd.r.bytes.Load()}
}

// Blocks returns the blocks that may hold rows of the given streams,
// judged by the footer's per-row-group stream bounds.
func (rd *Reader) Blocks(streams ...uint32) []Block {
	var out []Block
	for i, m := range rd.rgs {
		for _, s := range streams {
			if int64(s) >= int64(m.minStream) && int64(s) <= int64(m.maxStream) {
				out = append(out, Block{RowGroup: i, Stream: s})
			}
		}
	}
	return out
}

// Columns selects the optional columns a Read decodes; stream and
// timestamp are always read.
type Columns uint8

// The optional columns.
const (
	ColLine Columns = 1 << iota
	ColMetadata
	AllColumns = ColLine | ColMetadata
)

// Block names the rows of one stream inside one row group.
type Block struct {
	RowGroup int
	Stream   uint32
}

// Selection is what a Read returns.
type Selection struct {
	// Blocks restricts the read to these (row group, stream) pairs; nil
	// reads every row.
	Blocks []Block
	// From (inclusive) and Through (exclusive) bound timestamps in ns.
	// A zero From or Through means no bound on that side.
	From, Through int64
	// Columns picks the optional columns to decode.
	Columns Columns
}

// Entry is one row. Line and the strings of Metadata are valid only until
// the iteration moves on: Read reuses its buffers.
type Entry struct {
	Stream    uint32
	Timestamp int64
	Line      []byte
	Metadata  labels.Labels
}

// Read returns the selected rows in file order (stream, then time). The
// iteration stops at the first error, which it yields with a zero Entry.
func (rd *Reader) Read(ctx context.Context, sel Selection) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		var d decoder
		d.init(rd, sel)
		for i := range d.plan {
			if err := ctx.Err(); err != nil {
				yield(Entry{}, err)
				return
			}
			if err := d.decodeUnit(i); err != nil {
				yield(Entry{}, fmt.Errorf("read row group %d: %w", d.plan[i].rg, err))
				return
			}
			if !d.emit(i, yield) {
				return
			}
		}
	}
}

// unit is a run of rows of one row group to decode: a whole row group
// (stream -1: the stream column is decoded, and streams lists the wanted
// ones, nil for all), or one block whose pages hold exactly its rows.
type unit struct {
	rg          int
	stream      int32
	streams     []uint32
	first, rows int64
	ranges      [NumColumns]Range // bytes to decode per needed column
	fetch       [NumColumns]int   // index into decoder.fetches, -1 if not needed
}

type fetch struct {
	Range
	buf []byte
}

type decoder struct {
	rd      *Reader
	sel     Selection
	cols    [NumColumns]bool
	plan    []unit
	fetches []fetch

	// decoded columns of the current unit
	stream  []int32
	ts      []int64
	scratch []byte
	lines   byteArrays
	mds     byteArrays
	md      labels.Labels
}

func (d *decoder) init(rd *Reader, sel Selection) {
	d.rd, d.sel = rd, sel
	d.cols = [NumColumns]bool{colStream: true, colTS: true, colLine: sel.Columns&ColLine != 0, colMetadata: sel.Columns&ColMetadata != 0}
	if sel.From == 0 {
		d.sel.From = math.MinInt64
	}
	keep := func(rg int) bool {
		if rg < 0 || rg >= len(rd.rgs) {
			return false
		}
		m := rd.rgs[rg]
		return m.rows > 0 && m.maxTime >= d.sel.From && (sel.Through == 0 || m.minTime < sel.Through)
	}
	whole := func(rg int, streams []uint32) unit {
		u := unit{rg: rg, stream: -1, streams: streams, rows: rd.rgs[rg].rows}
		for c := range NumColumns {
			if d.cols[c] {
				u.ranges[c] = rd.rgs[rg].cols[c]
			}
		}
		return u
	}
	if sel.Blocks == nil {
		for i := range rd.rgs {
			if keep(i) {
				d.plan = append(d.plan, whole(i, nil))
			}
		}
	} else {
		blocks := slices.Clone(sel.Blocks)
		slices.SortFunc(blocks, func(a, b Block) int {
			if a.RowGroup != b.RowGroup {
				return a.RowGroup - b.RowGroup
			}
			return int(int64(a.Stream) - int64(b.Stream))
		})
		blocks = slices.Compact(blocks)
		for len(blocks) > 0 {
			rg := blocks[0].RowGroup
			n := 1
			for n < len(blocks) && blocks[n].RowGroup == rg {
				n++
			}
			group := blocks[:n]
			blocks = blocks[n:]
			if !keep(rg) {
				continue
			}
			// Read each block by the pages that cover its rows in every
			// needed column (the stream column included: pages may hold
			// rows of neighbouring small streams); overlapping runs are
			// merged. Without a page index, read the whole row group.
			var units []unit
			exact := true
			for _, b := range group {
				first, end, found, ok := rd.streamSpan(rg, b.Stream)
				if !found {
					continue
				}
				var u unit
				if ok {
					first, end, u.ranges, ok = rd.cover(rg, d.cols, first, end)
				}
				if !ok {
					exact = false
					break
				}
				u.rg, u.stream, u.streams, u.first, u.rows = rg, -1, []uint32{b.Stream}, first, end-first
				if n := len(units); n > 0 && units[n-1].first+units[n-1].rows > first {
					// Overlaps the previous run (streams are sorted, so
					// runs are too): merge them.
					prev := &units[n-1]
					end = max(end, prev.first+prev.rows)
					var ranges [NumColumns]Range
					first, end, ranges, ok = rd.cover(rg, d.cols, prev.first, end)
					if !ok {
						exact = false
						break
					}
					prev.rows, prev.ranges = end-prev.first, ranges
					prev.streams = append(prev.streams, b.Stream)
					continue
				}
				units = append(units, u)
			}
			if !exact {
				streams := make([]uint32, len(group))
				for i, b := range group {
					streams[i] = b.Stream
				}
				units = []unit{whole(rg, streams)}
			}
			d.plan = append(d.plan, units...)
		}
	}
	// Coalesce the needed byte ranges of all units into fetches: ranges
	// in file order, merged across gaps up to maxGap while the result
	// stays under maxFetch.
	type need struct {
		Range
		unit, col int
	}
	var needs []need
	for i, u := range d.plan {
		for c := range NumColumns {
			d.plan[i].fetch[c] = -1
			if d.cols[c] {
				needs = append(needs, need{u.ranges[c], i, c})
			}
		}
	}
	slices.SortFunc(needs, func(a, b need) int { return int(a.Off - b.Off) })
	for _, n := range needs {
		if k := len(d.fetches) - 1; k >= 0 {
			f := &d.fetches[k]
			if n.Off <= f.End()+maxGap && max(f.End(), n.End())-f.Off <= maxFetch {
				f.Len = max(f.End(), n.End()) - f.Off
				d.plan[n.unit].fetch[n.col] = k
				continue
			}
		}
		d.fetches = append(d.fetches, fetch{Range: n.Range})
		d.plan[n.unit].fetch[n.col] = len(d.fetches) - 1
	}
}

// load makes sure fetch k is in memory.
func (d *decoder) load(k int) error {
	f := &d.fetches[k]
	if f.buf != nil {
		return nil
	}
	buf := make([]byte, f.Len)
	if n, err := d.rd.r.ReadAt(buf, f.Off); n != len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: short read at %d", ErrCorrupt, f.Off)
		}
		return fmt.Errorf("read bytes [%d, %d): %w", f.Off, f.End(), err)
	}
	f.buf = buf
	return nil
}

// decodeUnit decodes unit i's columns, and drops the fetches that no
// later unit needs (units use fetches in increasing order, except that a
// unit's columns may span several).
func (d *decoder) decodeUnit(i int) (err error) {
	defer recoverCorrupt(&err)
	u := &d.plan[i]
	lo := len(d.fetches)
	for c := range NumColumns {
		if k := u.fetch[c]; k >= 0 {
			lo = min(lo, k)
			if err := d.load(k); err != nil {
				return err
			}
		}
	}
	for k := range lo {
		d.fetches[k].buf = nil
	}
	m := &d.rd.rgs[u.rg]
	d.stream, d.ts = d.stream[:0], d.ts[:0]
	d.lines.reset()
	d.mds.reset()
	for c := range NumColumns {
		k := u.fetch[c]
		if k < 0 {
			continue
		}
		f := d.fetches[k]
		r := u.ranges[c]
		pages := f.buf[r.Off-f.Off : r.End()-f.Off]
		switch c {
		case colLine:
			err = decodeByteArrayPages(&d.lines, pages, u.rows, m.codecs[c], &d.rd.zstd)
		case colMetadata:
			err = decodeByteArrayPages(&d.mds, pages, u.rows, m.codecs[c], &d.rd.zstd)
		case colStream:
			d.stream, d.scratch, err = decodeInt32Pages(d.stream, d.scratch, pages, u.rows, m.codecs[c], &d.rd.zstd)
		case colTS:
			d.ts, d.scratch, err = decodeInt64Pages(d.ts, d.scratch, pages, u.rows, m.codecs[c], &d.rd.zstd)
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", columnNames[c], err)
		}
	}
	nstreams := int32(min(len(d.rd.streams), math.MaxInt32))
	if u.stream >= nstreams {
		return fmt.Errorf("%w: stream id %d of %d", ErrCorrupt, u.stream, nstreams)
	}
	for _, s := range d.stream {
		if s < 0 || s >= nstreams {
			return fmt.Errorf("%w: stream id %d of %d", ErrCorrupt, s, nstreams)
		}
	}
	return nil
}

// streamOf returns the stream of row r of the current unit.
func (d *decoder) streamOf(u *unit, r int) int32 {
	if u.stream >= 0 {
		return u.stream
	}
	return d.stream[r]
}

func (d *decoder) emit(i int, yield func(Entry, error) bool) bool {
	u := &d.plan[i]
	from, through := d.sel.From, d.sel.Through
	wantLine, wantMD := d.cols[colLine], d.cols[colMetadata]
	var e Entry
	cur, ok := int32(-1), false
	for r := range int(u.rows) {
		s := d.streamOf(u, r)
		if s != cur {
			cur = s
			ok = u.streams == nil
			if !ok {
				_, ok = slices.BinarySearch(u.streams, uint32(s))
			}
		}
		if !ok {
			continue
		}
		ts := d.ts[r]
		if ts < from || ts >= through && through != 0 {
			continue
		}
		e.Stream, e.Timestamp = uint32(s), ts
		if wantLine {
			e.Line = d.lines.value(r)
		}
		if wantMD {
			var err error
			d.md, err = DecodeMetadata(d.md[:0], d.mds.value(r))
			if err != nil {
				yield(Entry{}, fmt.Errorf("read row group %d row %d: %w: %v", u.rg, u.first+int64(r), ErrCorrupt, err))
				return false
			}
			e.Metadata = d.md
		}
		if !yield(e, nil) {
			return false
		}
	}
	return true
}

// recoverCorrupt turns a panic of the Parquet library on bad input into
// ErrCorrupt.
func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: decoder panic: %v", ErrCorrupt, r)
	}
}

type countingReaderAt struct {
	r        io.ReaderAt
	requests atomic.Int64
	bytes    atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.requests.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

// tailReaderAt serves the file's tail from memory.
type tailReaderAt struct {
	r    io.ReaderAt
	off  int64
	tail []byte
}

func (t *tailReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= t.off && off-t.off <= int64(len(t.tail)) {
		n := copy(p, t.tail[off-t.off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	return t.r.ReadAt(p, off)
}
