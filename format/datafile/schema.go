package datafile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Version is the format version written in the footer key "kmlog.format".
const Version = "1"

// Footer key/value metadata keys.
const (
	keyFormat  = "kmlog.format"
	keyStreams = "kmlog.streams"
)

// Leaf column indexes. parquet.Group orders fields by name, so these are
// the alphabetical positions of "line", "metadata", "stream" and "ts".
const (
	colLine = iota
	colMetadata
	colStream
	colTS
	numColumns
)

var columnNames = [numColumns]string{"line", "metadata", "stream", "ts"}

// ColumnName returns the Parquet column name of leaf column i (0..3).
func ColumnName(i int) string { return columnNames[i] }

// NumColumns is the number of leaf columns of a data file.
const NumColumns = numColumns

// Limits that the reader enforces before it allocates; the writer never
// produces a file beyond them.
const (
	// MaxRowsPerRowGroup bounds the rows of one row group.
	MaxRowsPerRowGroup = 1 << 22
	// MaxLineSize bounds one line (with its metadata); Writer.Append
	// refuses longer ones.
	MaxLineSize = 16 << 20
	// maxPageSize bounds the uncompressed size of one page: a page holds
	// at most PageBytes plus one value, and Config caps PageBytes.
	maxPageSize = 64 << 20
	// maxPageBytes bounds Config.PageBytes.
	maxPageBytes = 16 << 20
	// maxStreams bounds the streams of one file.
	maxStreams = 1 << 24
)

func newSchema(level zstd.Level) *parquet.Schema {
	z := &zstd.Codec{Level: level}
	return parquet.NewSchema("kmlog", parquet.Group{
		"stream":   parquet.Compressed(parquet.Encoded(parquet.Int(32), &parquet.DeltaBinaryPacked), z),
		"ts":       parquet.Compressed(parquet.Encoded(parquet.Timestamp(parquet.Nanosecond), &parquet.DeltaBinaryPacked), z),
		"line":     parquet.Compressed(parquet.Encoded(parquet.Leaf(parquet.ByteArrayType), &parquet.Plain), z),
		"metadata": parquet.Compressed(parquet.Encoded(parquet.Leaf(parquet.ByteArrayType), &parquet.Plain), z),
	})
}

// checkSchema verifies that a file's leaf columns are the four of a data file.
func checkSchema(s *parquet.Schema) error {
	cols := s.Columns()
	if len(cols) != numColumns {
		return fmt.Errorf("%w: %d columns, want %d", ErrCorrupt, len(cols), numColumns)
	}
	want := [numColumns]parquet.Kind{parquet.ByteArray, parquet.ByteArray, parquet.Int32, parquet.Int64}
	for i, path := range cols {
		if len(path) != 1 || path[0] != columnNames[i] {
			return fmt.Errorf("%w: column %d is %q, want %q", ErrCorrupt, i, strings.Join(path, "."), columnNames[i])
		}
		leaf, ok := s.Lookup(path...)
		if !ok || leaf.Node.Type().Kind() != want[i] || leaf.MaxDefinitionLevel != 0 || leaf.MaxRepetitionLevel != 0 {
			return fmt.Errorf("%w: column %q has the wrong type", ErrCorrupt, columnNames[i])
		}
	}
	return nil
}

// encodeStreams is the footer value of "kmlog.streams": the label sets in
// stream-id order, each in labels.String form, one per line. String quotes
// values with strconv.Quote, so a value never contains a raw newline.
func encodeStreams(streams []labels.Labels) string {
	var b strings.Builder
	for i, ls := range streams {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(ls.String())
	}
	return b.String()
}

func decodeStreams(s string) ([]labels.Labels, error) {
	if s == "" {
		return nil, nil
	}
	n := strings.Count(s, "\n") + 1
	if n > maxStreams {
		return nil, fmt.Errorf("%w: %d streams", ErrCorrupt, n)
	}
	out := make([]labels.Labels, 0, n)
	for line := range strings.SplitSeq(s, "\n") {
		ls, err := labels.Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%w: stream %d: %v", ErrCorrupt, len(out), err)
		}
		if len(out) > 0 && labels.Compare(out[len(out)-1], ls) >= 0 {
			return nil, fmt.Errorf("%w: stream %d out of order", ErrCorrupt, len(out))
		}
		out = append(out, ls)
	}
	return out, nil
}

// AppendMetadata appends the encoding of structured metadata md (see the
// package doc) to dst. An empty set encodes to zero bytes.
func AppendMetadata(dst []byte, md labels.Labels) []byte {
	if len(md) == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(len(md)))
	for _, l := range md {
		dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
		dst = append(dst, l.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(l.Value)))
		dst = append(dst, l.Value...)
	}
	return dst
}

var errMetadata = errors.New("invalid metadata encoding")

// DecodeMetadata decodes what AppendMetadata wrote, appending to dst.
func DecodeMetadata(dst labels.Labels, b []byte) (labels.Labels, error) {
	if len(b) == 0 {
		return dst, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return dst, errMetadata
	}
	b = b[k:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	for range n {
		name, ok := str()
		if !ok {
			return dst, errMetadata
		}
		value, ok := str()
		if !ok {
			return dst, errMetadata
		}
		dst = append(dst, labels.Label{Name: name, Value: value})
	}
	if len(b) != 0 {
		return dst, errMetadata
	}
	return dst, nil
}
