package datafile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Config tunes a Writer. The defaults were chosen by measurement; see the
// package doc.
type Config struct {
	// RowGroupBytes is the raw size (line and metadata bytes) after which a
	// row group is cut. A row group is cut earlier, at a stream boundary,
	// once it holds 3/4 of this.
	RowGroupBytes int `yaml:"row_group_bytes"`
	// PageBytes is the uncompressed size at which a column page is cut.
	PageBytes int `yaml:"page_bytes"`
	// BlockPageBytes is the raw size after which pages are also cut where
	// a stream's block starts or ends inside a row group, so that a read
	// of one block fetches its pages only: a block starts new pages when
	// the pages being filled hold at least this much, and a block that
	// shares its first pages with earlier blocks starts new ones once it
	// has this much of its own (at most PageBytes). 0 cuts at every
	// block; smaller values make block reads tighter and compression worse
	// (each page is compressed alone).
	BlockPageBytes int `yaml:"block_page_bytes"`
	// ZstdLevel is 1 (fastest) to 4 (best compression).
	ZstdLevel int `yaml:"zstd_level"`
	// MaxRows bounds the rows of a row group (at most MaxRowsPerRowGroup).
	MaxRows int `yaml:"max_rows"`
	// NoTokens turns off collecting token and gram hashes for the Summary.
	NoTokens bool `yaml:"no_tokens"`
	// NoIDTokens collects only the substring grams (EachGram), not the
	// id-like tokens (EachToken), which only version 3 token indexes
	// (index.Config.NoGrams) use: tokenizing is a tenth of an ingester's
	// CPU. DefaultConfig sets it; the Summary says so (Summary.NoIDTokens),
	// and a token index built from it has no filters, so it never prunes
	// wrongly.
	NoIDTokens bool `yaml:"no_id_tokens"`
}

// DefaultConfig returns the measured defaults.
func DefaultConfig() Config {
	return Config{
		RowGroupBytes:  1 << 20,
		PageBytes:      1 << 20,
		BlockPageBytes: 64 << 10,
		ZstdLevel:      1,
		MaxRows:        1 << 20,
		NoIDTokens:     true,
	}
}

// Validate reports a Config that cannot be used.
func (c Config) Validate() error {
	switch {
	case c.RowGroupBytes < 1:
		return errors.New("datafile config: row_group_bytes must be positive")
	case c.PageBytes < 1024 || c.PageBytes > maxPageBytes:
		return fmt.Errorf("datafile config: page_bytes must be 1024 to %d", maxPageBytes)
	case c.BlockPageBytes < 0:
		return errors.New("datafile config: block_page_bytes must not be negative")
	case c.ZstdLevel < 1 || c.ZstdLevel > 4:
		return errors.New("datafile config: zstd_level must be 1 to 4")
	case c.MaxRows < 1 || c.MaxRows > MaxRowsPerRowGroup:
		return fmt.Errorf("datafile config: max_rows must be 1 to %d", MaxRowsPerRowGroup)
	}
	return nil
}

// Range is a byte range of a file.
type Range struct {
	Off, Len int64
}

// End is Off+Len.
func (r Range) End() int64 { return r.Off + r.Len }

// Summary describes a written file: what the index needs.
type Summary struct {
	Size      int64 // bytes of the whole file
	Rows      int64
	MinTime   int64 // 0 when the file is empty
	MaxTime   int64
	Streams   []StreamSummary // by stream id
	RowGroups []RowGroupInfo
	// Tail is the last bytes of the file: the Parquet footer, its length
	// and the magic. Passing it to Open saves the footer read.
	Tail []byte
	// NoIDTokens: the blocks' Tokens hold grams only (Config.NoIDTokens).
	NoIDTokens bool
}

// RowGroupInfo is where one row group is.
type RowGroupInfo struct {
	Rows    int64
	Columns [NumColumns]Range // column chunk byte ranges, by column index
}

// StreamSummary describes one stream of a file.
type StreamSummary struct {
	Labels    labels.Labels
	Rows      int64
	MinTime   int64
	MaxTime   int64
	LineBytes int64
	Blocks    []BlockSummary // in row order
}

// BlockSummary describes the rows of one stream inside one row group.
type BlockSummary struct {
	RowGroup  int
	FirstRow  int64 // row offset inside the row group
	Rows      int64
	MinTime   int64
	MaxTime   int64
	LineBytes int64
	// Tokens are the sorted, distinct token hashes of the block's lines
	// (nil when Config.NoTokens).
	Tokens []uint64
	// Columns are the byte ranges of the block's pages, by column index:
	// the pages that hold exactly its rows (a zero Range when they hold
	// other rows too, then the whole column chunk is read).
	Columns [NumColumns]Range
}

// Writer writes one data file. Entries must be appended in order: by
// stream labels (labels.Compare), then by timestamp. A Writer is not safe
// for concurrent use; it copies what Append is given.
type Writer struct {
	cfg   Config
	out   countingWriter
	pw    *parquet.Writer
	batch []parquet.Row
	arena []byte
	err   error

	sum   Summary
	cur   *StreamSummary
	blk   *BlockSummary
	last  labels.Labels
	toks  tokenSet
	rg    int   // current row group
	rgRow int64 // rows in the current row group
	rgRaw int   // raw bytes in the current row group
	// pages being filled (see Config.BlockPageBytes)
	pageRaw    int  // raw bytes since the last cut of every column
	blkPageRaw int  // of which the current block's
	pageShared bool // the pages hold rows of an earlier block
}

const batchRows = 512

// NewWriter starts a file on w. It panics ("BUG:") on an invalid Config.
func NewWriter(w io.Writer, cfg Config) *Writer {
	if err := cfg.Validate(); err != nil {
		panic("BUG: " + err.Error())
	}
	levels := [...]zstd.Level{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}
	wr := &Writer{cfg: cfg}
	wr.sum.NoIDTokens = cfg.NoIDTokens && !cfg.NoTokens
	wr.out.w = w
	wr.pw = parquet.NewWriter(&wr.out, newSchema(levels[cfg.ZstdLevel-1]),
		parquet.PageBufferSize(cfg.PageBytes),
		parquet.SkipPageBounds("line"),
		parquet.SkipPageBounds("metadata"),
		parquet.CreatedBy("kmlog", Version, ""),
	)
	wr.batch = make([]parquet.Row, 0, batchRows)
	return wr
}

// Append adds one entry of the stream ls. The line and metadata are
// copied. ts must not be lower than the stream's previous timestamp, and a
// new stream must sort after the previous one.
func (w *Writer) Append(ls labels.Labels, ts int64, line string, md labels.Labels) error {
	if w.err != nil {
		return w.err
	}
	if raw := len(line) + metadataSize(md); raw > MaxLineSize {
		return fmt.Errorf("append to %s: %w: %d bytes", ls, ErrLineTooLong, raw)
	}
	if w.cur == nil || !labels.Equal(ls, w.last) {
		if w.cur != nil && labels.Compare(w.last, ls) >= 0 {
			return fmt.Errorf("append to %s after %s: %w", ls, w.last, ErrOutOfOrder)
		}
		if len(w.sum.Streams) >= maxStreams {
			return fmt.Errorf("append to %s: more than %d streams", ls, maxStreams)
		}
		// A stream boundary: cut the row group early if it is 3/4 full.
		if w.rgRow > 0 && w.rgRaw >= w.cfg.RowGroupBytes*3/4 {
			if err := w.cutRowGroup(); err != nil {
				return err
			}
		}
		w.endBlock()
		if w.rgRow > 0 {
			// A new block in the same row group starts new pages in every
			// column once the pages hold enough (Config.BlockPageBytes).
			if w.pageRaw >= min(w.cfg.BlockPageBytes, w.cfg.PageBytes) {
				if err := w.cutPages(); err != nil {
					return err
				}
			} else {
				w.pageShared = true
			}
		}
		w.blkPageRaw = 0
		w.last = append(labels.Labels(nil), ls...)
		w.sum.Streams = append(w.sum.Streams, StreamSummary{Labels: w.last, MinTime: ts, MaxTime: ts})
		w.cur = &w.sum.Streams[len(w.sum.Streams)-1]
	} else if ts < w.cur.MaxTime {
		return fmt.Errorf("append to %s at %d after %d: %w", ls, ts, w.cur.MaxTime, ErrOutOfOrder)
	}
	if w.rgRow > 0 && (w.rgRaw >= w.cfg.RowGroupBytes || w.rgRow >= int64(w.cfg.MaxRows)) {
		if err := w.cutRowGroup(); err != nil {
			return err
		}
	}
	if w.blk == nil {
		w.cur.Blocks = append(w.cur.Blocks, BlockSummary{RowGroup: w.rg, FirstRow: w.rgRow, MinTime: ts})
		w.blk = &w.cur.Blocks[len(w.cur.Blocks)-1]
	}

	start := len(w.arena)
	w.arena = append(w.arena, line...)
	mid := len(w.arena)
	w.arena = AppendMetadata(w.arena, md)
	stream := int32(len(w.sum.Streams) - 1)
	w.batch = append(w.batch, parquet.Row{
		parquet.ByteArrayValue(w.arena[start:mid:mid]).Level(0, 0, colLine),
		parquet.ByteArrayValue(w.arena[mid:len(w.arena):len(w.arena)]).Level(0, 0, colMetadata),
		parquet.Int32Value(stream).Level(0, 0, colStream),
		parquet.Int64Value(ts).Level(0, 0, colTS),
	})
	if !w.cfg.NoTokens {
		b := unsafe.Slice(unsafe.StringData(line), len(line))
		if !w.cfg.NoIDTokens {
			EachToken(b, w.toks.add)
		}
		eachGram(b, &w.toks, nil)
	}

	raw := len(w.arena) - start
	w.blk.Rows++
	w.blk.MaxTime = ts
	w.blk.LineBytes += int64(len(line))
	w.cur.Rows++
	w.cur.MaxTime = ts
	w.cur.LineBytes += int64(len(line))
	w.sum.Rows++
	w.rgRow++
	w.rgRaw += raw
	w.pageRaw += raw
	w.blkPageRaw += raw
	if w.pageShared && w.blkPageRaw >= min(w.cfg.BlockPageBytes, w.cfg.PageBytes) {
		// The block has enough of its own: end the shared pages.
		return w.cutPages()
	}
	if len(w.batch) == cap(w.batch) || len(w.arena) >= 1<<20 {
		return w.flushBatch()
	}
	return nil
}

func (w *Writer) flushBatch() error {
	if len(w.batch) == 0 {
		return nil
	}
	if _, err := w.pw.WriteRows(w.batch); err != nil {
		w.err = fmt.Errorf("write rows: %w", err)
		return w.err
	}
	w.batch = w.batch[:0]
	// WriteRows copied the values into its column buffers; the arena can
	// be reused, unless a large line made it grow past what is worth
	// keeping.
	if cap(w.arena) > 4<<20 {
		w.arena = nil
	}
	w.arena = w.arena[:0]
	return nil
}

func (w *Writer) cutPages() error {
	if err := w.flushBatch(); err != nil {
		return err
	}
	for i, cw := range w.pw.ColumnWriters() {
		if err := cw.Flush(); err != nil {
			w.err = fmt.Errorf("flush page of column %s: %w", columnNames[i], err)
			return w.err
		}
	}
	w.pageRaw, w.pageShared = 0, false
	return nil
}

func (w *Writer) endBlock() {
	if w.blk != nil && !w.cfg.NoTokens {
		w.blk.Tokens = w.toks.take()
	}
	w.blk = nil
}

func (w *Writer) cutRowGroup() error {
	w.endBlock()
	if err := w.flushBatch(); err != nil {
		return err
	}
	if err := w.pw.Flush(); err != nil {
		w.err = fmt.Errorf("flush row group %d: %w", w.rg, err)
		return w.err
	}
	w.rg++
	w.rgRow, w.rgRaw = 0, 0
	w.pageRaw, w.pageShared = 0, false
	return nil
}

// Close finishes the file and returns its Summary. It does not close the
// underlying io.Writer.
func (w *Writer) Close() (Summary, error) {
	if w.err != nil {
		return Summary{}, w.err
	}
	w.endBlock()
	if err := w.flushBatch(); err != nil {
		return Summary{}, err
	}
	if w.rgRow > 0 {
		if err := w.pw.Flush(); err != nil {
			return Summary{}, fmt.Errorf("flush row group %d: %w", w.rg, err)
		}
		w.rg++
	}
	w.pw.SetKeyValueMetadata(keyFormat, Version)
	w.pw.SetKeyValueMetadata(keyStreams, encodeStreams(streamLabels(w.sum.Streams)))
	w.out.capture = true
	if err := w.pw.Close(); err != nil {
		w.err = fmt.Errorf("close parquet writer: %w", err)
		return Summary{}, w.err
	}
	w.err = ErrClosed

	md := w.pw.File().Metadata()
	if len(md.RowGroups) != w.rg {
		panic(fmt.Sprintf("BUG: datafile writer made %d row groups, parquet wrote %d", w.rg, len(md.RowGroups)))
	}
	s := w.sum
	s.Size = w.out.n
	s.RowGroups = make([]RowGroupInfo, len(md.RowGroups))
	for i, rg := range md.RowGroups {
		s.RowGroups[i].Rows = rg.NumRows
		for j := range rg.Columns {
			s.RowGroups[i].Columns[j] = chunkRange(&rg.Columns[j].MetaData)
		}
	}
	s.MinTime, s.MaxTime = 0, 0
	if len(s.Streams) > 0 {
		s.MinTime, s.MaxTime = math.MaxInt64, math.MinInt64
		for _, st := range s.Streams {
			s.MinTime = min(s.MinTime, st.MinTime)
			s.MaxTime = max(s.MaxTime, st.MaxTime)
		}
	}
	// The tail is what Close wrote: the page index and the footer. Reading
	// it back checks it and gives each block's pages.
	rd, err := Open(context.Background(), errReaderAt{}, s.Size, OpenOptions{Tail: w.out.captured})
	if err != nil {
		return Summary{}, fmt.Errorf("close parquet writer: %w", err)
	}
	s.Tail = rd.tail
	for i := range s.Streams {
		for j := range s.Streams[i].Blocks {
			b := &s.Streams[i].Blocks[j]
			b.Columns = rd.blockColumns(b.RowGroup, b.FirstRow, b.Rows)
		}
	}
	return s, nil
}

func streamLabels(ss []StreamSummary) []labels.Labels {
	out := make([]labels.Labels, len(ss))
	for i := range ss {
		out[i] = ss[i].Labels
	}
	return out
}

// errReaderAt fails every read: Close reopens its own tail with it.
type errReaderAt struct{}

func (errReaderAt) ReadAt([]byte, int64) (int, error) {
	return 0, errors.New("BUG: datafile writer read past its tail")
}

// countingWriter counts bytes and, once capture is set, keeps a copy.
type countingWriter struct {
	w        io.Writer
	n        int64
	capture  bool
	captured []byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.capture {
		c.captured = append(c.captured, p[:n]...)
	}
	return n, err
}

func metadataSize(md labels.Labels) int {
	n := 0
	for _, l := range md {
		n += len(l.Name) + len(l.Value) + 2*binary.MaxVarintLen64
	}
	return n
}
