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
func EachGram(line []byte, fn func(h uint64)) { eachGram(line, nil, fn) }

// eachGram is EachGram adding to set when it is not nil (the Writer's
// path, without an indirect call per gram), else calling fn.
func eachGram(line []byte, set *tokenSet, fn func(h uint64)) {
	n := len(line)
	for i := 0; i < n; {
		for i < n && idRunByte[line[i]] == 0 {
			i++
		}
		start := i
		var cl byte
		for i < n && idRunByte[line[i]] != 0 {
			cl |= tokenClass[line[i]]
			i++
		}
		// A run without a digit and a letter has no window with both.
		if i-start >= GramSpan && cl == classID {
			runGrams(line[start:i], set, fn)
		}
	}
}

// runGrams emits the minimizers of one id run of at least GramSpan bytes.
// It keeps the window's minimum and its position, and rescans the
// window's GramWindow grams only when that minimum leaves it.
func runGrams(run []byte, set *tokenSet, fn func(h uint64)) {
	var ring [GramWindow]uint64 // gram hashes by start position mod GramWindow
	var g uint64
	digits, others := 0, 0 // in the current window
	var last uint64
	minH, minAt := ^uint64(0), -1 // smallest gram hash in the window, its start
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
		if i < GramLen-1 {
			continue
		}
		// The gram starting at p ends at i; the window ending at i holds
		// the grams starting at first .. p.
		p := i - GramLen + 1
		h := gramHash(g)
		ring[p%GramWindow] = h
		first := p - GramWindow + 1
		switch {
		case h < minH:
			minH, minAt = h, p
		case minAt < first:
			// The minimum left the window: the first smallest of the rest.
			minH, minAt = ring[max(first, 0)%GramWindow], max(first, 0)
			for q := max(first, 0) + 1; q <= p; q++ {
				if v := ring[q%GramWindow]; v < minH {
					minH, minAt = v, q
				}
			}
		}
		if first < 0 || digits == 0 || others == 0 {
			continue
		}
		if minH != last {
			if set != nil {
				set.add(minH)
			} else {
				fn(minH)
			}
			last = minH
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
