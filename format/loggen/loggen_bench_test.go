package loggen

import "testing"

// avgLine returns the mean line length of cfg's first entries, for SetBytes.
func avgLine(cfg Config) int64 {
	var sum int64
	const n = 20_000
	for _, e := range New(cfg).Take(n) {
		sum += int64(len(e.Line))
	}
	return sum / n
}

func BenchmarkNext(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{Seed: 1}},
		{"json", Config{Seed: 1, Mix: Mix{JSON: 1}}},
		{"logfmt", Config{Seed: 1, Mix: Mix{Logfmt: 1}}},
		{"nginx", Config{Seed: 1, Mix: Mix{Nginx: 1}}},
		{"stack", Config{Seed: 1, Mix: Mix{JavaStack: 1}}},
		{"plain", Config{Seed: 1, Mix: Mix{Plain: 1}}},
		{"tenants=10", Config{Seed: 1, Tenants: 10, Namespaces: 10, Apps: 10}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(avgLine(bc.cfg))
			b.ReportAllocs()
			g := New(bc.cfg)
			for b.Loop() {
				_ = g.Next()
			}
		})
	}
}

func BenchmarkTakeBytes1MB(b *testing.B) {
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	g := New(Config{Seed: 1})
	for b.Loop() {
		_ = g.TakeBytes(1 << 20)
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New(Config{Seed: 1})
	}
}
