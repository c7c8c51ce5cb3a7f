package tail

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestGate: Tailers sharing a Gate of one never hand on lines at once,
// and all of them still read everything.
func TestGate(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Gate = NewGate(1)
	cfg.ReadSize = 16 // many reads per file
	var inside, most atomic.Int32
	var total atomic.Int64
	h := func(_ context.Context, ls []Line) error {
		n := inside.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond) // let others try to come in
		total.Add(int64(len(ls)))
		inside.Add(-1)
		return nil
	}
	const files, lines = 4, 50
	for i := range files {
		path := filepath.Join(dir, string(rune('a'+i))+".log")
		var text []byte
		for range lines {
			text = append(text, "some line of text\n"...)
		}
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		stop := start(t, New(path, nil, cfg, nil, nil), h)
		t.Cleanup(stop)
	}
	waitFor(t, "every line", func() bool { return total.Load() == files*lines })
	if m := most.Load(); m != 1 {
		t.Errorf("%d handlers ran at once through a gate of 1", m)
	}
}

// TestSplitOwnStrings: a line kept from a read does not share memory with
// the read's other lines (it would keep the whole read in memory).
func TestSplitOwnStrings(t *testing.T) {
	tl := New("x", nil, testConfig(), nil, nil)
	tl.split([]byte("one\ntwo\n"))
	if len(tl.lines) != 2 {
		t.Fatalf("%d lines", len(tl.lines))
	}
	a, b := tl.lines[0].Text, tl.lines[1].Text
	// Shared, b would start one byte (the newline) after a ends.
	if uintptr(unsafe.Pointer(unsafe.StringData(a)))+uintptr(len(a))+1 == uintptr(unsafe.Pointer(unsafe.StringData(b))) {
		t.Error("consecutive lines share one string")
	}
}
