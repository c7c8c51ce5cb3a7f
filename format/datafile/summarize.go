package datafile

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Summarize reads the whole file and returns the Summary a Writer with
// the default Config returned (gram hashes included, id tokens not:
// Config.NoIDTokens), so that an index can be rebuilt from a data file
// alone and checked against one. It checks the order of the rows on the
// way.
func (rd *Reader) Summarize(ctx context.Context) (Summary, error) {
	s := Summary{Size: rd.size, Rows: rd.NumRows(), Tail: slices.Clone(rd.tail), NoIDTokens: true}
	s.Streams = make([]StreamSummary, len(rd.streams))
	for i, ls := range rd.streams {
		s.Streams[i].Labels = ls
	}
	s.RowGroups = make([]RowGroupInfo, len(rd.rgs))
	for i, m := range rd.rgs {
		s.RowGroups[i] = RowGroupInfo{Rows: m.rows, Columns: m.cols}
	}
	var d decoder
	d.init(rd, Selection{Columns: ColLine})
	var toks tokenSet
	var cur *StreamSummary
	var blk *BlockSummary
	prevStream, prevTS := int32(-1), int64(math.MinInt64)
	for i, p := range d.plan {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		if err := d.decodeUnit(i); err != nil {
			return Summary{}, fmt.Errorf("summarize row group %d: %w", p.rg, err)
		}
		blk = nil
		for r, st := range d.stream {
			ts := d.ts[r]
			switch {
			case st < prevStream, st == prevStream && ts < prevTS:
				return Summary{}, fmt.Errorf("summarize row group %d row %d: %w: rows out of order", p.rg, r, ErrCorrupt)
			case st != prevStream:
				if blk != nil {
					blk.Tokens = toks.take()
				}
				cur, blk = &s.Streams[st], nil
				cur.MinTime = ts
			}
			prevStream, prevTS = st, ts
			if blk == nil {
				cur.Blocks = append(cur.Blocks, BlockSummary{RowGroup: p.rg, FirstRow: int64(r), MinTime: ts})
				blk = &cur.Blocks[len(cur.Blocks)-1]
			}
			line := d.lines.value(r)
			eachGram(line, &toks, nil)
			blk.Rows++
			blk.MaxTime = ts
			blk.LineBytes += int64(len(line))
			cur.Rows++
			cur.MaxTime = ts
			cur.LineBytes += int64(len(line))
		}
		if blk != nil {
			blk.Tokens = toks.take()
		}
	}
	for i := range s.Streams {
		st := &s.Streams[i]
		for j := range st.Blocks {
			b := &st.Blocks[j]
			b.Columns = rd.blockColumns(b.RowGroup, b.FirstRow, b.Rows)
		}
		if st.Rows == 0 {
			return Summary{}, fmt.Errorf("summarize: %w: stream %d has no rows", ErrCorrupt, i)
		}
		if i == 0 {
			s.MinTime, s.MaxTime = st.MinTime, st.MaxTime
		}
		s.MinTime = min(s.MinTime, st.MinTime)
		s.MaxTime = max(s.MaxTime, st.MaxTime)
	}
	return s, nil
}
