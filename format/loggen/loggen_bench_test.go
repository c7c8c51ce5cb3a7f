package loggen

import (
	"syscall"
	"testing"
	"time"
)

// avgLine returns the mean line length of cfg's first entries, for SetBytes.
func avgLine(cfg Config) int64 {
	var sum int64
	const n = 20_000
	for _, e := range New(cfg).Take(n) {
		sum += int64(len(e.Line))
	}
	return sum / n
}

// cpuTime is the CPU time the process has used. The machine is shared, so
// MB per CPU second is the figure to compare, not wall-clock MB/s.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
			g := New(bc.cfg)
			b.SetBytes(avgLine(bc.cfg))
			b.ReportAllocs()
			var raw int64
			start := cpuTime()
			for b.Loop() {
				raw += int64(len(g.Next().Line))
			}
			b.ReportMetric(float64(raw)/(cpuTime()-start).Seconds()/1e6, "MB/cpu-s")
		})
	}
}

func BenchmarkTakeBytes1MB(b *testing.B) {
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	g := New(Config{Seed: 1})
	n := 0
	start := cpuTime()
	for b.Loop() {
		_ = g.TakeBytes(1 << 20)
		n++
	}
	b.ReportMetric(float64(n)*(1<<20)/(cpuTime()-start).Seconds()/1e6, "MB/cpu-s")
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New(Config{Seed: 1})
	}
}
