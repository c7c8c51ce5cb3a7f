package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// segmentBytes writes n records to a fresh WAL and returns its one
// segment's bytes and the end offset of every record.
func segmentBytes(t *testing.T, n int) ([]byte, []int64) {
	t.Helper()
	cfg := testConfig(t.TempDir())
	cfg.SegmentSize = 1 << 20
	cfg.MaxSizeBytes = 4 << 20
	w := mustOpen(t, cfg, "c")
	for i := range n {
		if err := w.Append(t.Context(), "a", batch("a", i, 3)); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := w.NewReader("c", "a")
	var ends []int64
	for _, rec := range readN(t, r, n) {
		ends = append(ends, rec.End.Offset)
	}
	r.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Dir, segName(1)))
	if err != nil {
		t.Fatal(err)
	}
	return b, ends
}

// TestTornTailEveryOffset cuts a segment at every byte offset and checks
// that Open keeps exactly the records that are whole, and that the WAL
// appends and reads normally afterwards.
func TestTornTailEveryOffset(t *testing.T) {
	full, ends := segmentBytes(t, 4)
	for cut := 0; cut <= len(full); cut++ {
		whole := 0
		for _, e := range ends {
			if e <= int64(cut) {
				whole++
			}
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		w, err := Open(testConfig(dir), []string{"c"}, Options{Registerer: reg})
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := w.Append(t.Context(), "a", batch("a", 99, 1)); err != nil {
			t.Fatal(err)
		}
		r, _ := w.NewReader("c", "a")
		got := lines(readN(t, r, whole+1)...)
		nothingMore(t, r)
		r.Close()
		want := append(wantLines("a", seq(0, whole), 3), "a-99-0")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("cut %d (-want +got):\n%s", cut, diff)
		}
		wantCut := 0
		if cut >= headerLen && whole < len(ends) {
			valid := int64(headerLen)
			if whole > 0 {
				valid = ends[whole-1]
			}
			wantCut = cut - int(valid)
		} else if cut < headerLen {
			wantCut = cut
		}
		if got := testutil.ToFloat64(w.m.corruptBytes); got != float64(wantCut) {
			t.Fatalf("cut %d: corrupt bytes %v, want %d", cut, got, wantCut)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorruptRecord flips one byte in every record in turn: the segment is
// cut before the damaged record.
func TestCorruptRecord(t *testing.T) {
	full, ends := segmentBytes(t, 4)
	starts := append([]int64{headerLen}, ends[:len(ends)-1]...)
	for i, start := range starts {
		for _, at := range []int64{start + 1, start + 5, start + 9, ends[i] - 1} {
			b := bytes.Clone(full)
			b[at] ^= 0x40
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o644); err != nil {
				t.Fatal(err)
			}
			w := mustOpen(t, testConfig(dir), "c")
			r, _ := w.NewReader("c", "a")
			got := lines(readN(t, r, i)...)
			nothingMore(t, r)
			r.Close()
			if diff := cmp.Diff(wantLines("a", seq(0, i), 3), got); diff != "" {
				t.Fatalf("record %d byte %d (-want +got):\n%s", i, at, diff)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// FuzzScanRecords checks the segment scanner on arbitrary bytes: no panic,
// the valid prefix scans again without error to the same summary, and each
// record in it decodes and re-encodes to the same bytes.
func FuzzScanRecords(f *testing.F) {
	cfg := testConfig(f.TempDir())
	w := mustOpen(f, cfg, "c")
	for i := range 3 {
		if err := w.Append(f.Context(), []string{"", "a", "b"}[i], batch("x", i, 2)); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(cfg.Dir, segName(1)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add(appendHeader(nil))
	f.Add([]byte("KMLWAL\x01\x00\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkHeader(b) != nil {
			return
		}
		s, good, _ := scanRecords(b)
		s2, good2, err := scanRecords(b[:good])
		if err != nil || good2 != good {
			t.Fatalf("valid prefix rescans with %v at %d (first %d)", err, good2, good)
		}
		if diff := cmp.Diff(s.tenants, s2.tenants, cmp.AllowUnexported(tenantInfo{})); diff != "" {
			t.Fatal(diff)
		}
		for off := headerLen; off < good; {
			body, n, err := nextRecord(b[off:good])
			if err != nil {
				t.Fatal(err)
			}
			tenant, entries, req, err := decodeBody(body)
			if err != nil {
				t.Fatal(err)
			}
			again := appendRecord(nil, tenant, entries, req)
			body2, _, err := nextRecord(again)
			if err != nil {
				t.Fatal(err)
			}
			tenant2, entries2, req2, err := decodeBody(body2)
			if err != nil || tenant2 != tenant || entries2 != entries {
				t.Fatalf("re-encode: %v %q %d", err, tenant2, entries2)
			}
			if diff := cmp.Diff(req, req2); diff != "" {
				t.Fatalf("re-encode (-first +second):\n%s", diff)
			}
			off += n
		}
	})
}
