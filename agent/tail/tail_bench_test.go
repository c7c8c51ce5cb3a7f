package tail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkTail reads a 100k-line file (CRI-sized lines) from start to end.
func BenchmarkTail(b *testing.B) {
	path := filepath.Join(b.TempDir(), "0.log")
	line := "2024-01-01T00:00:00.000000000Z stdout F " + strings.Repeat("payload ", 15)
	const n = 100_000
	data := strings.Repeat(line+"\n", n)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithCancel(b.Context())
		got := 0
		err := New(path, nil, DefaultConfig(), nil, nil).Run(ctx, func(_ context.Context, ls []Line) error {
			got += len(ls)
			if got >= n {
				cancel()
			}
			return nil
		})
		cancel()
		if err != nil || got != n {
			b.Fatalf("Run: %v, %d lines", err, got)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}
