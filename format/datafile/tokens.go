package datafile

import "slices"

// Tokenizer (see "Tokens" in the package doc).
//
// A token is a maximal run of token bytes: ASCII letters and digits, and
// every byte >= 0x80 (so UTF-8 words of any script, and invalid bytes, are
// token bytes). ASCII letters are lowercased. Tokens shorter than
// MinTokenLen are ignored. A token's hash is FNV-1a (64-bit) of its
// lowercased bytes followed by a final avalanche mix; hash 0 is replaced by 1.

// MinTokenLen is the shortest token that is hashed.
const MinTokenLen = 2

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// tokenByte[c] is c lowercased when c is a token byte, 0 otherwise.
var tokenByte = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
			t[c] = byte(c)
		case c >= 'A' && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

// IsTokenByte reports whether c belongs to tokens.
func IsTokenByte(c byte) bool { return tokenByte[c] != 0 }

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	if h == 0 {
		h = 1
	}
	return h
}

// TokenHash returns the hash of one token (which it lowercases).
func TokenHash(tok []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range tok {
		if l := tokenByte[c]; l != 0 {
			c = l
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	return mix(h)
}

// EachToken calls fn with the hash of every token of line, in order, with
// repeats.
func EachToken(line []byte, fn func(h uint64)) {
	h, n := uint64(fnvOffset), 0
	for _, c := range line {
		if l := tokenByte[c]; l != 0 {
			h = (h ^ uint64(l)) * fnvPrime
			n++
			continue
		}
		if n >= MinTokenLen {
			fn(mix(h))
		}
		h, n = fnvOffset, 0
	}
	if n >= MinTokenLen {
		fn(mix(h))
	}
}

// LiteralTokens returns the hashes of the complete tokens of a line-filter
// literal: those with a non-token byte (or nothing at all would do, but
// here the literal's edge) on both sides inside the literal. A token that
// touches the start or end of the literal may be part of a longer token in
// the line, so it is left out; any line containing the literal contains
// every returned token.
func LiteralTokens(literal string) []uint64 {
	var out []uint64
	start := -1
	for i := 0; i <= len(literal); i++ {
		if i < len(literal) && tokenByte[literal[i]] != 0 {
			if start < 0 {
				start = i
			}
			continue
		}
		if start > 0 && i < len(literal) && i-start >= MinTokenLen {
			out = append(out, TokenHash([]byte(literal[start:i])))
		}
		start = -1
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// tokenSet is an open-addressing set of non-zero hashes.
type tokenSet struct {
	slots []uint64
	n     int
}

func (s *tokenSet) add(h uint64) {
	if s.n*4 >= len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case 0:
			s.slots[i] = h
			s.n++
			return
		}
	}
}

func (s *tokenSet) grow() {
	old := s.slots
	size := max(1024, 2*len(old))
	s.slots, s.n = make([]uint64, size), 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}

// take returns the sorted members and empties the set, keeping its memory.
func (s *tokenSet) take() []uint64 {
	out := make([]uint64, 0, s.n)
	for i, h := range s.slots {
		if h != 0 {
			out = append(out, h)
			s.slots[i] = 0
		}
	}
	s.n = 0
	slices.Sort(out)
	return out
}
