package loggen

import (
	"math/bits"
	"math/rand/v2"
)

// rng is the generator's random source: PCG for integers (called directly,
// not through an interface) and a rand.Rand over the same state for the
// exponential inter-arrival times. Every decision is drawn from it in a
// fixed order, which is what makes a seed reproduce the output exactly.
type rng struct {
	pcg *rand.PCG
	r   *rand.Rand
}

func newRNG(seed, stream uint64) rng {
	p := rand.NewPCG(seed, stream)
	return rng{pcg: p, r: rand.New(p)}
}

func (r rng) u64() uint64 { return r.pcg.Uint64() }

// intn returns a number in [0, n) for 0 < n < 2^32 by multiply-shift; the
// bias is below 2^-32 and irrelevant here.
func (r rng) intn(n int) int {
	return int(((r.pcg.Uint64() >> 32) * uint64(n)) >> 32)
}

// between returns a number in [lo, hi].
func (r rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance reports true with probability perMille/1000.
func (r rng) chance(perMille int) bool { return r.intn(1000) < perMille }

// chancePPM reports true with probability ppm/1e6.
func (r rng) chancePPM(ppm int) bool { return r.intn(1_000_000) < ppm }

// skewed returns a number in [0, n) where small numbers are much more
// likely (the minimum of three uniform draws), like a few hot users or
// client addresses among many.
func (r rng) skewed(n int) int { return min(r.intn(n), r.intn(n), r.intn(n)) }

// table picks an index with probability proportional to integer weights.
type table struct {
	cum []uint64 // cum[i] = w[0] + ... + w[i]
}

func newTable(w []uint64) table {
	t := table{cum: make([]uint64, len(w))}
	var s uint64
	for i, x := range w {
		s += x
		t.cum[i] = s
	}
	return t
}

func (t table) empty() bool { return len(t.cum) == 0 || t.cum[len(t.cum)-1] == 0 }

// pick maps a uniform 64-bit x to an index.
func (t table) pick(x uint64) int {
	v, _ := bits.Mul64(x, t.cum[len(t.cum)-1]) // v in [0, total)
	lo, hi := 0, len(t.cum)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cum[m] > v {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func pickStr(r rng, pool []string) string { return pool[r.intn(len(pool))] }
