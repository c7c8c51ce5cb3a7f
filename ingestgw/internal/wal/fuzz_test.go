package wal

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

func segmentBytes(recs ...string) []byte {
	b := segmentHeader()
	for i, r := range recs {
		n := len(b)
		b = appendFrame(b, []byte(r))
		if i%2 == 0 {
			markSynced(b[n:])
		}
	}
	return b
}

// FuzzSegmentReader feeds arbitrary bytes to the segment reader and the
// torn-tail scan: no panic, allocation bounded by the input (a frame
// length is checked before anything is allocated for it), and records
// that read back re-encode to the same bytes.
func FuzzSegmentReader(f *testing.F) {
	f.Add(segmentBytes())
	f.Add(segmentBytes("a", "", "hello world"))
	f.Add(segmentBytes("a", "b")[:20])
	f.Add(append(segmentBytes("x"), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0))
	f.Add(append(segmentBytes("x"), 0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0))
	f.Add([]byte("KMWAL\x00\x02\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			res  scanResult
			err  error
			recs [][]byte
		)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err = scanSegment(bytes.NewReader(data), int64(len(data)), func(rec []byte) error {
			recs = append(recs, bytes.Clone(rec))
			return nil
		})
		runtime.ReadMemStats(&after)
		// The read buffer, one record buffer and the clones, each at most
		// the input's size.
		if n := after.TotalAlloc - before.TotalAlloc; n > uint64(4*len(data)+64<<10) {
			t.Fatalf("scanning %d bytes allocated %d", len(data), n)
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error from an in-memory reader: %v", err)
		}
		if res.bad == nil && res.end != int64(len(data)) {
			t.Fatalf("clean scan ended at %d of %d", res.end, len(data))
		}
		if res.bad != nil && res.end != res.bad.offset && res.bad.offset != 0 {
			t.Fatalf("bad frame at %d but good data ends at %d", res.bad.offset, res.end)
		}
		if len(recs) != res.records {
			t.Fatalf("%d records delivered, %d counted", len(recs), res.records)
		}
		// Re-encoding the good records (synced flags aside) gives the
		// same bytes, so frames are parsed exactly.
		if res.end >= segmentHeaderSize {
			again := segmentHeader()
			for _, r := range recs {
				again = appendFrame(again, r)
			}
			strip := bytes.Clone(data[:res.end])
			clearSyncedFlags(strip)
			if !bytes.Equal(again, strip) {
				t.Fatalf("re-encoded records differ from the input")
			}
		}
		if res.bad != nil {
			if at := syncedFrameAfter(data[res.bad.offset:], res.bad.offset); at != -1 && at <= res.bad.offset {
				t.Fatalf("synced frame reported at %d, not after %d", at, res.bad.offset)
			}
		}
	})
}

// clearSyncedFlags clears the synced flag of each frame of a well-formed
// segment and recomputes the checksums.
func clearSyncedFlags(b []byte) {
	for p := segmentHeaderSize; p < len(b); {
		n := int(uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16 | uint32(b[p+3]&0x7f)<<24)
		frame := appendFrame(nil, b[p+frameHeaderSize:p+frameHeaderSize+n])
		copy(b[p:], frame)
		p += len(frame)
	}
}
