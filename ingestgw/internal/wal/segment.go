package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Format constants; see doc.go.
const (
	// MaxRecordSize is the largest payload a frame may carry.
	MaxRecordSize = 128 << 20

	segmentHeaderSize = 8
	frameHeaderSize   = 8
	segmentVersion    = 1
	syncedFlag        = 1 << 31
	segmentSuffix     = ".wal"
)

var segmentMagic = [6]byte{'K', 'M', 'W', 'A', 'L', 0}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentHeader() []byte {
	h := make([]byte, segmentHeaderSize)
	copy(h, segmentMagic[:])
	binary.LittleEndian.PutUint16(h[6:], segmentVersion)
	return h
}

func segmentName(n int) string { return fmt.Sprintf("%08d%s", n, segmentSuffix) }

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) < 8 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// listSegments returns the segment numbers in dir, ascending, and checks
// that they have no gaps.
func listSegments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list wal dir: %w", err)
	}
	var segs []int
	for _, e := range ents {
		if n, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	for i := 1; i < len(segs); i++ {
		if segs[i] != segs[i-1]+1 {
			return nil, &CorruptionError{Segment: segs[i-1] + 1, Offset: 0, Reason: "segment missing between " + segmentName(segs[i-1]) + " and " + segmentName(segs[i])}
		}
	}
	return segs, nil
}

// appendFrame appends rec as a frame with the synced flag clear.
func appendFrame(dst, rec []byte) []byte {
	n := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rec)))
	// The checksum reads the header from dst: a local array would escape
	// to the heap through the assembly CRC routine.
	crc := crc32.Update(crc32.Checksum(dst[n:n+4], castagnoli), castagnoli, rec)
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, rec...)
}

// markSynced sets the synced flag on the frame at the start of b and
// recomputes its checksum.
func markSynced(b []byte) {
	n := binary.LittleEndian.Uint32(b[:4]) | syncedFlag
	binary.LittleEndian.PutUint32(b[:4], n)
	payload := b[frameHeaderSize : frameHeaderSize+int(n&^syncedFlag)]
	crc := crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(b[4:8], crc)
}

// frameError describes the first frame that could not be read.
type frameError struct {
	offset int64
	reason string
}

func (e *frameError) Error() string { return fmt.Sprintf("at offset %d: %s", e.offset, e.reason) }

// segmentReader reads the frames of one segment.
type segmentReader struct {
	r      *bufio.Reader
	size   int64 // file size, which bounds every allocation
	off    int64 // offset of the next frame
	buf    []byte
	synced bool // synced flag of the last frame read
}

func newSegmentReader(r io.Reader, size int64) *segmentReader {
	return &segmentReader{r: bufio.NewReaderSize(r, int(min(max(size, 16), 1<<20))), size: size}
}

// header checks the segment header.
func (sr *segmentReader) header() error {
	var h [segmentHeaderSize]byte
	n, err := io.ReadFull(sr.r, h[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &frameError{offset: 0, reason: fmt.Sprintf("segment header cut short at %d bytes", n)}
		}
		return err
	}
	if [6]byte(h[:6]) != segmentMagic {
		return &frameError{offset: 0, reason: "not a wal segment (bad magic)"}
	}
	if v := binary.LittleEndian.Uint16(h[6:]); v != segmentVersion {
		return &frameError{offset: 0, reason: fmt.Sprintf("unsupported segment version %d", v)}
	}
	sr.off = segmentHeaderSize
	return nil
}

// next returns the next record, valid until the following call; io.EOF at
// a clean end; a *frameError for a torn or damaged frame; other errors
// from the file.
func (sr *segmentReader) next() ([]byte, error) {
	var h [frameHeaderSize]byte
	n, err := io.ReadFull(sr.r, h[:])
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &frameError{offset: sr.off, reason: fmt.Sprintf("frame header cut short at %d bytes", n)}
	case err != nil:
		return nil, err
	}
	lenField := binary.LittleEndian.Uint32(h[:4])
	length := int64(lenField &^ syncedFlag)
	if length > MaxRecordSize {
		return nil, &frameError{offset: sr.off, reason: fmt.Sprintf("frame length %d exceeds the maximum %d", length, MaxRecordSize)}
	}
	if rest := sr.size - sr.off - frameHeaderSize; length > rest {
		return nil, &frameError{offset: sr.off, reason: fmt.Sprintf("frame of %d bytes cut short at %d", length, max(rest, 0))}
	}
	if int64(cap(sr.buf)) < length {
		sr.buf = make([]byte, length)
	}
	buf := sr.buf[:length]
	if _, err := io.ReadFull(sr.r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &frameError{offset: sr.off, reason: "frame cut short (file shrank while reading)"}
		}
		return nil, err
	}
	crc := crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, buf)
	if crc != binary.LittleEndian.Uint32(h[4:]) {
		return nil, &frameError{offset: sr.off, reason: "checksum mismatch"}
	}
	sr.synced = lenField&syncedFlag != 0
	sr.off += frameHeaderSize + length
	return buf, nil
}

// syncedFrameAfter reports the offset of the first well-formed frame with
// the synced flag in tail, which starts at offset base of the segment, or
// -1. Such a frame proves that the bytes before it had been fsynced.
func syncedFrameAfter(tail []byte, base int64) int64 {
	for p := 1; p+frameHeaderSize <= len(tail); p++ {
		lenField := binary.LittleEndian.Uint32(tail[p:])
		if lenField&syncedFlag == 0 {
			continue
		}
		length := int(lenField &^ syncedFlag)
		if length > MaxRecordSize || length > len(tail)-p-frameHeaderSize {
			continue
		}
		crc := crc32.Update(crc32.Checksum(tail[p:p+4], castagnoli), castagnoli, tail[p+frameHeaderSize:p+frameHeaderSize+length])
		if crc == binary.LittleEndian.Uint32(tail[p+4:]) {
			return base + int64(p)
		}
	}
	return -1
}

// scanResult is what scanning one segment found.
type scanResult struct {
	records int
	end     int64       // end of the last good frame
	bad     *frameError // first bad frame, nil if the segment is clean
}

// scanSegment reads every frame of the segment in r (size bytes), calling
// fn for each record unless fn is nil. Errors from fn and from the file
// are returned as err; damage is reported in the result.
func scanSegment(r io.Reader, size int64, fn func(rec []byte) error) (scanResult, error) {
	sr := newSegmentReader(r, size)
	if err := sr.header(); err != nil {
		fe, ok := errors.AsType[*frameError](err)
		if !ok {
			return scanResult{}, err
		}
		return scanResult{bad: fe}, nil
	}
	res := scanResult{end: sr.off}
	for {
		rec, err := sr.next()
		if err == io.EOF {
			return res, nil
		}
		if fe, ok := errors.AsType[*frameError](err); ok {
			res.bad = fe
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if fn != nil {
			if err := fn(rec); err != nil {
				return res, err
			}
		}
		res.records++
		res.end = sr.off
	}
}
