package datafile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Page index (see "Pages and the page index" in the package doc).

// pageLoc is one data page of a column chunk.
type pageLoc struct {
	off, len int64 // bytes of the page, header included
	first    int64 // its first row inside the row group
	// lo and hi bound the stream ids of a page of the stream column.
	lo, hi int32
}

func (p pageLoc) end() int64 { return p.off + p.len }

// loadPageIndex reads the offset index of every column chunk and the
// column index of the stream column, which the writer puts between the
// last column chunk and the footer. The tail is extended to cover them
// (with one ReadAt when it does not yet). A file without a page index
// reads by whole column chunks.
func (rd *Reader) loadPageIndex() error {
	md := rd.file.Metadata()
	tailStart := rd.size - int64(len(rd.tail))
	footerStart := rd.size - int64(binary.LittleEndian.Uint32(rd.tail[len(rd.tail)-8:])) - 8
	var dataEnd int64
	for i := range rd.rgs {
		for _, r := range rd.rgs[i].cols {
			dataEnd = max(dataEnd, r.End())
		}
	}
	lo := tailStart
	type region struct{ off, len int64 }
	check := func(off int64, n int32) (region, bool, error) {
		if off == 0 && n == 0 {
			return region{}, false, nil
		}
		if n <= 0 || off < dataEnd || off > footerStart-int64(n) {
			return region{}, false, fmt.Errorf("%w: page index at [%d, +%d) outside [%d, %d)", ErrCorrupt, off, n, dataEnd, footerStart)
		}
		return region{off, int64(n)}, true, nil
	}
	offsets := make([][NumColumns]region, len(md.RowGroups))
	streamIdx := make([]region, len(md.RowGroups))
	complete := len(md.RowGroups) > 0
	for i, rg := range md.RowGroups {
		for c := range rg.Columns {
			r, ok, err := check(rg.Columns[c].OffsetIndexOffset, rg.Columns[c].OffsetIndexLength)
			if err != nil {
				return err
			}
			complete = complete && ok
			offsets[i][c] = r
			if ok {
				lo = min(lo, r.off)
			}
		}
		r, ok, err := check(rg.Columns[colStream].ColumnIndexOffset, rg.Columns[colStream].ColumnIndexLength)
		if err != nil {
			return err
		}
		complete = complete && ok
		streamIdx[i] = r
		if ok {
			lo = min(lo, r.off)
		}
	}
	if !complete {
		return nil
	}
	if lo < tailStart {
		buf := make([]byte, tailStart-lo, tailStart-lo+int64(len(rd.tail)))
		if n, err := rd.r.ReadAt(buf, lo); n != len(buf) {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: short read at %d", ErrCorrupt, lo)
			}
			return fmt.Errorf("read page index: %w", err)
		}
		rd.tail = append(buf, rd.tail...)
		tailStart = lo
	}
	bytesAt := func(r region) []byte { return rd.tail[r.off-tailStart : r.off-tailStart+r.len] }
	for i := range rd.rgs {
		m := &rd.rgs[i]
		for c := range NumColumns {
			var oi format.OffsetIndex
			if err := thrift.Unmarshal(new(thrift.CompactProtocol), bytesAt(offsets[i][c]), &oi); err != nil {
				return fmt.Errorf("%w: row group %d column %d offset index: %v", ErrCorrupt, i, c, err)
			}
			pages, err := checkPageLocations(oi.PageLocations, m.cols[c], m.rows)
			if err != nil {
				return fmt.Errorf("row group %d column %d: %w", i, c, err)
			}
			m.pages[c] = pages
		}
		var ci format.ColumnIndex
		if err := thrift.Unmarshal(new(thrift.CompactProtocol), bytesAt(streamIdx[i]), &ci); err != nil {
			return fmt.Errorf("%w: row group %d stream column index: %v", ErrCorrupt, i, err)
		}
		sp := m.pages[colStream]
		if len(ci.MinValues) != len(sp) || len(ci.MaxValues) != len(sp) {
			return fmt.Errorf("%w: row group %d: stream column index of %d pages, offset index of %d", ErrCorrupt, i, len(ci.MinValues), len(sp))
		}
		for j := range sp {
			if len(ci.MinValues[j]) != 4 || len(ci.MaxValues[j]) != 4 {
				return fmt.Errorf("%w: row group %d: stream page %d bounds", ErrCorrupt, i, j)
			}
			sp[j].lo = int32(binary.LittleEndian.Uint32(ci.MinValues[j]))
			sp[j].hi = int32(binary.LittleEndian.Uint32(ci.MaxValues[j]))
		}
	}
	return nil
}

// checkPageLocations checks that the pages tile the column chunk in
// order and start rows.
func checkPageLocations(locs []format.PageLocation, chunk Range, rows int64) ([]pageLoc, error) {
	if int64(len(locs)) > max(rows, 1) {
		return nil, fmt.Errorf("%w: %d pages for %d rows", ErrCorrupt, len(locs), rows)
	}
	pages := make([]pageLoc, len(locs))
	off, first := chunk.Off, int64(-1)
	for i, l := range locs {
		if l.Offset != off || l.CompressedPageSize < 0 || l.Offset+int64(l.CompressedPageSize) > chunk.End() ||
			l.FirstRowIndex <= first || l.FirstRowIndex >= max(rows, 1) || i == 0 && l.FirstRowIndex != 0 {
			return nil, fmt.Errorf("%w: page %d at %d (+%d) from row %d in chunk [%d, %d) of %d rows", ErrCorrupt, i, l.Offset, l.CompressedPageSize, l.FirstRowIndex, chunk.Off, chunk.End(), rows)
		}
		pages[i] = pageLoc{off: l.Offset, len: int64(l.CompressedPageSize), first: l.FirstRowIndex}
		off, first = l.Offset+int64(l.CompressedPageSize), l.FirstRowIndex
	}
	if off != chunk.End() {
		return nil, fmt.Errorf("%w: pages end at %d, chunk at %d", ErrCorrupt, off, chunk.End())
	}
	return pages, nil
}

// cover returns the smallest run of rows [a, b) around [first, end) of
// row group rg whose rows start and end pages in every column of cols,
// and each column's pages of that run; ok is false without a page index.
func (rd *Reader) cover(rg int, cols [NumColumns]bool, first, end int64) (a, b int64, ranges [NumColumns]Range, ok bool) {
	m := &rd.rgs[rg]
	a, b = first, end
	if a < 0 || b > m.rows || a >= b {
		return 0, 0, ranges, false
	}
	for range 2 * NumColumns {
		changed := false
		for c := range NumColumns {
			pages := m.pages[c]
			if !cols[c] {
				continue
			}
			if len(pages) == 0 {
				return 0, 0, ranges, false
			}
			// i: the page holding row a; j: the first page from row b.
			i, _ := slices.BinarySearchFunc(pages, a+1, func(p pageLoc, row int64) int { return int(min(max(p.first-row, -1), 1)) })
			i--
			j, _ := slices.BinarySearchFunc(pages, b, func(p pageLoc, row int64) int { return int(min(max(p.first-row, -1), 1)) })
			na, nb := pages[i].first, m.rows
			if j < len(pages) {
				nb = pages[j].first
			}
			if na < a || nb > b {
				a, b, changed = min(a, na), max(b, nb), true
			}
			ranges[c] = Range{Off: pages[i].off, Len: pages[j-1].end() - pages[i].off}
		}
		if !changed {
			return a, b, ranges, true
		}
	}
	return 0, 0, ranges, false
}

// streamSpan returns the rows of row group rg whose stream pages may hold
// stream s: found is false when none may, ok is false without a page
// index.
func (rd *Reader) streamSpan(rg int, s uint32) (first, end int64, found, ok bool) {
	m := &rd.rgs[rg]
	pages := m.pages[colStream]
	if len(pages) == 0 {
		return 0, 0, true, false
	}
	first, end = -1, -1
	for i, p := range pages {
		if int64(p.lo) > int64(s) || int64(p.hi) < int64(s) {
			continue
		}
		if first < 0 {
			first = p.first
		}
		end = m.rows
		if i+1 < len(pages) {
			end = pages[i+1].first
		}
	}
	if first < 0 {
		return 0, 0, false, true
	}
	return first, end, true, true
}

// blockColumns returns the byte ranges, by column, of the pages that
// cover rows [first, first+rows) of row group rg (see cover); zero
// Ranges without a page index.
func (rd *Reader) blockColumns(rg int, first, rows int64) [NumColumns]Range {
	all := [NumColumns]bool{true, true, true, true}
	if rg < 0 || rg >= len(rd.rgs) {
		return [NumColumns]Range{}
	}
	_, _, ranges, ok := rd.cover(rg, all, first, first+rows)
	if !ok {
		return [NumColumns]Range{}
	}
	return ranges
}
