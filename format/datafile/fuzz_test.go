package datafile

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzOpenRead opens arbitrary bytes as a data file and reads them whole:
// it must fail with an error wrapping ErrCorrupt, never panic or allocate
// without bound. The corpus starts from valid files.
func FuzzOpenRead(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 3, 40} {
		cfg := DefaultConfig()
		cfg.RowGroupBytes, cfg.PageBytes = 700, 1024
		data, _ := writeFile(f, randomEntries(rng, n, 1+n/10), cfg)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		rd, err := Open(ctx, bytes.NewReader(data), int64(len(data)), OpenOptions{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		for _, err := range rd.Read(ctx, Selection{Columns: AllColumns}) {
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Read error does not wrap ErrCorrupt: %v", err)
				}
				return
			}
		}
		_, _ = rd.Summarize(ctx)
	})
}
