package index

import (
	"math"

	"github.com/kubemate/kmlog/format/datafile"
)

// Filter is the token filter of one block: a Bloom filter over the
// block's token hashes (datafile.EachToken). The zero Filter is "no
// filter": it may contain anything.
type Filter struct {
	k      uint8  // probes per token; 0 means no filter
	minLen uint8  // tokens shorter than this are not held (datafile.TokenLen)
	grams  bool   // holds grams (datafile.EachGram), not tokens
	bits   []byte // m = 8*len(bits) bits
}

// maxProbes bounds k.
const maxProbes = 16

// NewFilter builds a filter over sorted distinct token hashes with about
// bitsPerToken bits each. An empty hash set gives a filter that holds
// nothing. bitsPerToken 10 gives about 1% false positives. The filter
// requires every id-like token of a literal (datafile.LiteralTokens);
// Build sets the shortest one it requires (Config.MinTokenLen).
func NewFilter(hashes []uint64, bitsPerToken int) Filter {
	bitsPerToken = max(bitsPerToken, 1)
	k := uint8(min(maxProbes, max(1, int(math.Round(float64(bitsPerToken)*math.Ln2)))))
	n := 0
	if len(hashes) > 0 {
		// At least minFilterBytes: a filter of a few bits degenerates.
		n = max(minFilterBytes, (len(hashes)*bitsPerToken+7)/8)
	}
	f := Filter{k: k, bits: make([]byte, n)}
	for _, h := range hashes {
		f.add(h)
	}
	return f
}

// minFilterBytes is the smallest non-empty filter.
const minFilterBytes = 8

// add sets the k bit positions of h, by enhanced double hashing: a = h,
// d = h>>33 | 1; for i in [0, k): position a mod m, then a += d, d += i.
func (f Filter) add(h uint64) {
	m := uint64(len(f.bits)) * 8
	a, d := h, h>>33|1
	for i := range uint64(f.k) {
		bit := a % m
		f.bits[bit/8] |= 1 << (bit % 8)
		a += d
		d += i
	}
}

func (f Filter) has(h uint64) bool {
	m := uint64(len(f.bits)) * 8
	if m == 0 {
		return false
	}
	a, d := h, h>>33|1
	for i := range uint64(f.k) {
		bit := a % m
		if f.bits[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
		a += d
		d += i
	}
	return true
}

// Enabled reports whether f filters anything (false for the zero Filter).
func (f Filter) Enabled() bool { return f.k != 0 }

// Size is the filter's size in bytes.
func (f Filter) Size() int { return len(f.bits) }

// MayContain reports whether a line of the block may contain literal. It
// is false only when some complete inner token of the literal (see
// datafile.LiteralTokens) is missing, so it never gives a false negative
// for a case-sensitive or case-insensitive substring match.
//
// A gram filter (the default, version 4) requires the literal's grams
// (datafile.LiteralGrams) instead: it is false when some window of
// datafile.GramSpan bytes of an id in the literal, wherever the literal
// starts and ends, cannot be in the block.
func (f Filter) MayContain(literal string) bool {
	if f.grams {
		return f.mayContainHashes(datafile.LiteralGrams(literal))
	}
	return f.mayContainHashes(datafile.LiteralTokens(literal))
}

// holds reports whether the filter is meant to hold h: a gram for a gram
// filter, a long enough token for a token filter.
func (f Filter) holds(h uint64) bool {
	if f.grams {
		return datafile.IsGram(h)
	}
	return datafile.TokenLen(h) >= int(f.minLen)
}

func (f Filter) mayContainHashes(hs []uint64) bool {
	if f.k == 0 {
		return true
	}
	for _, h := range hs {
		if f.holds(h) && !f.has(h) {
			return false
		}
	}
	return true
}
