package datafile

import "slices"

// Substring grams (see "Grams" in the package doc).
//
// An id run is a maximal run of token bytes (IsTokenByte) and '-' and
// '_', lowercased, so that a UUID or tx_8683577ea331b497 is one run. For
// every window of GramSpan bytes of an id run that holds at least one
// ASCII digit and one other token byte, the window's minimizer is kept:
// of its GramWindow grams of GramLen bytes, the one with the smallest
// hash (the first on ties). A literal's windows are computed the same way
// (LiteralGrams); a line that contains the literal contains each of its
// windows inside an id run, where the writer kept the same minimizer. So
// requiring a literal's minimizers gives no false negatives for any
// literal, wherever it starts or ends, and prunes for any literal holding
// GramSpan bytes of an id run with a digit and a letter.

// Gram parameters. Changing them changes what files carry; an index
// records the ones it was built with.
const (
	GramLen    = 6
	GramWindow = 7
	GramSpan   = GramLen + GramWindow - 1
)

// idRunByte[c] is c lowercased when c belongs to id runs, 0 otherwise.
var idRunByte = func() (t [256]byte) {
	for c := range 256 {
		t[c] = tokenByte[c]
	}
	t['-'], t['_'] = '-', '_'
	return t
}()

// IsGram reports whether h is a gram hash (EachGram) rather than a token
// hash (EachToken): grams have TokenLen 0.
func IsGram(h uint64) bool { return h>>lenShift == 0 }

// gramHash hashes GramLen bytes packed into g (a byte a step, the first
// in the highest bits). It is never 0 and has TokenLen 0.
func gramHash(g uint64) uint64 {
	g *= 0x9e3779b97f4a7c15
	g ^= g >> 32
	return g&^lenMask | 1
}

const gramMask = 1<<(8*GramLen) - 1

// EachGram calls fn with the minimizer hash of every window of every id
// run of line that holds a digit and a letter, skipping a minimizer equal
// to the previous one of the same run.
func EachGram(line []byte, fn func(h uint64)) {
	n := len(line)
	for i := 0; i < n; {
		for i < n && idRunByte[line[i]] == 0 {
			i++
		}
		start := i
		for i < n && idRunByte[line[i]] != 0 {
			i++
		}
		if i-start >= GramSpan {
			runGrams(line[start:i], fn)
		}
	}
}

// runGrams emits the minimizers of one id run of at least GramSpan bytes.
func runGrams(run []byte, fn func(h uint64)) {
	var ring [GramWindow]uint64 // gram hashes of the current window, by position mod GramWindow
	var g uint64
	digits, others := 0, 0 // in the current window
	var last uint64
	for i, c := range run {
		c = idRunByte[c]
		g = (g<<8 | uint64(c)) & gramMask
		switch tokenClass[c] {
		case classDigit:
			digits++
		case classOther:
			others++
		}
		if i >= GramSpan {
			switch tokenClass[idRunByte[run[i-GramSpan]]] {
			case classDigit:
				digits--
			case classOther:
				others--
			}
		}
		if i >= GramLen-1 {
			ring[(i-GramLen+1)%GramWindow] = gramHash(g)
		}
		if i < GramSpan-1 || digits == 0 || others == 0 {
			continue
		}
		// The window ends at i: its grams start at i-GramSpan+1 ..
		// i-GramLen+1. The first smallest hash, in position order.
		first := i - GramSpan + 1
		m := ring[first%GramWindow]
		for p := first + 1; p < first+GramWindow; p++ {
			m = min(m, ring[p%GramWindow])
		}
		if m != last {
			fn(m)
			last = m
		}
	}
}

// LiteralGrams returns the sorted, distinct minimizer hashes of a
// line-filter literal's windows: every line that contains the literal
// (case-sensitively or not) has them all among its EachGram hashes.
func LiteralGrams(literal string) []uint64 {
	var out []uint64
	EachGram([]byte(literal), func(h uint64) { out = append(out, h) })
	return sortCompact(out)
}

func sortCompact(hs []uint64) []uint64 {
	slices.Sort(hs)
	return slices.Compact(hs)
}
