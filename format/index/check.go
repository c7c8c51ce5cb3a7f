package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/labels"
)

// Check verifies ix against its data file (size bytes in r), in the
// manner of bbolt's consistency check, for the end of storage tests and
// for repair tools: it reads the whole file and compares stream count and
// labels, rows, time bounds, line bytes, row groups and their byte ranges,
// blocks, the tail, and that every token of every block is in the block's
// filter (no false negatives). The error wraps ErrInconsistent and lists
// up to ten differences; a file that cannot be read gives its read error.
func Check(ctx context.Context, ix *Index, r io.ReaderAt, size int64) error {
	rd, err := datafile.Open(ctx, r, size, datafile.OpenOptions{})
	if err != nil {
		return fmt.Errorf("check index: %w", err)
	}
	s, err := rd.Summarize(ctx)
	if err != nil {
		return fmt.Errorf("check index: %w", err)
	}
	var probs []string
	bad := func(format string, args ...any) {
		if len(probs) < 10 {
			probs = append(probs, fmt.Sprintf(format, args...))
		}
	}
	if ix.DataSize != size {
		bad("data size %d, file has %d", ix.DataSize, size)
	}
	if !bytes.Equal(ix.Tail, s.Tail) {
		bad("tail of %d bytes differs from the file's %d", len(ix.Tail), len(s.Tail))
	}
	if ix.Rows != s.Rows || ix.MinTime != s.MinTime || ix.MaxTime != s.MaxTime {
		bad("rows %d in [%d, %d], file has %d in [%d, %d]", ix.Rows, ix.MinTime, ix.MaxTime, s.Rows, s.MinTime, s.MaxTime)
	}
	if len(ix.RowGroups) != len(s.RowGroups) {
		bad("%d row groups, file has %d", len(ix.RowGroups), len(s.RowGroups))
	} else {
		for i := range ix.RowGroups {
			if ix.RowGroups[i] != s.RowGroups[i] {
				bad("row group %d is %+v, file has %+v", i, ix.RowGroups[i], s.RowGroups[i])
			}
		}
	}
	if len(ix.Streams) != len(s.Streams) {
		bad("%d streams, file has %d", len(ix.Streams), len(s.Streams))
	} else {
		for i := range ix.Streams {
			checkStream(i, &ix.Streams[i], &s.Streams[i], bad)
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("check index: %w: %s", ErrInconsistent, errors.Join(errorsOf(probs)...))
	}
	return nil
}

func checkStream(id int, st *Stream, want *datafile.StreamSummary, bad func(string, ...any)) {
	if !labels.Equal(st.Labels, want.Labels) && !(len(st.Labels) == 0 && len(want.Labels) == 0) {
		bad("stream %d is %s, file has %s", id, st.Labels, want.Labels)
		return
	}
	if st.Rows != want.Rows || st.LineBytes != want.LineBytes || st.MinTime != want.MinTime || st.MaxTime != want.MaxTime {
		bad("stream %d: %d rows, %d bytes in [%d, %d]; file has %d, %d in [%d, %d]", id,
			st.Rows, st.LineBytes, st.MinTime, st.MaxTime, want.Rows, want.LineBytes, want.MinTime, want.MaxTime)
	}
	if len(st.Blocks) != len(want.Blocks) {
		bad("stream %d: %d blocks, file has %d", id, len(st.Blocks), len(want.Blocks))
		return
	}
	for j, b := range st.Blocks {
		w := want.Blocks[j]
		if b.RowGroup != w.RowGroup || b.FirstRow != w.FirstRow || b.Rows != w.Rows || b.MinTime != w.MinTime || b.MaxTime != w.MaxTime || b.LineBytes != w.LineBytes || b.Columns != w.Columns {
			bad("stream %d block %d: %+v, file has %+v", id, j, b, w)
			continue
		}
		if !b.Filter.Enabled() {
			continue
		}
		for _, h := range w.Tokens {
			if b.Filter.holds(h) && !b.Filter.has(h) {
				bad("stream %d block %d: filter misses token hash %#x", id, j, h)
				break
			}
		}
	}
}

func errorsOf(ss []string) []error {
	out := make([]error, len(ss))
	for i, s := range ss {
		out[i] = errors.New(s)
	}
	return out
}
