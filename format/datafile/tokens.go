package datafile

import "slices"

// Tokenizer (see "Tokens" in the package doc).
//
// A token is a maximal run of token bytes: ASCII letters and digits, and
// every byte >= 0x80 (so UTF-8 words of any script, and invalid bytes, are
// token bytes). ASCII letters are lowercased. Only id-like tokens are
// hashed: at least MinTokenLen bytes holding at least one ASCII digit and
// at least one other token byte (a letter or a byte >= 0x80). Words and
// numbers are left out: words recur in nearly every block, so a filter of
// them prunes little, and numbers (counts, sizes, latencies, timestamp
// parts) are many and rarely searched; both cost index bytes.
//
// A token's hash is FNV-1a (64-bit) of its lowercased bytes followed by a
// final avalanche mix, with the top 6 bits replaced by min(len, 63): a
// filter can then be built over the tokens of at least some length
// (TokenLen). No hash is 0.

// MinTokenLen is the shortest token that is hashed.
const MinTokenLen = 8

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211

	lenShift = 58
	lenMask  = 63 << lenShift
)

// Byte classes of the tokenizer.
const (
	classDigit = 1 << iota
	classOther // a letter or a byte >= 0x80
	classID    = classDigit | classOther
)

// tokenByte[c] is c lowercased when c is a token byte, 0 otherwise;
// tokenClass[c] is its class.
var tokenByte, tokenClass = func() (t, cl [256]byte) {
	for c := range 256 {
		switch {
		case c >= '0' && c <= '9':
			t[c], cl[c] = byte(c), classDigit
		case c >= 'a' && c <= 'z', c >= 0x80:
			t[c], cl[c] = byte(c), classOther
		case c >= 'A' && c <= 'Z':
			t[c], cl[c] = byte(c)+'a'-'A', classOther
		}
	}
	return t, cl
}()

// IsTokenByte reports whether c belongs to tokens.
func IsTokenByte(c byte) bool { return tokenByte[c] != 0 }

func mix(h uint64, n int) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h&^lenMask | uint64(max(1, min(n, 63)))<<lenShift
}

// TokenLen returns the length, capped at 63, of the token whose hash is h.
func TokenLen(h uint64) int { return int(h >> lenShift) }

// TokenHash returns the hash of one token (which it lowercases), whether
// or not the tokenizer would hash it.
func TokenHash(tok []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range tok {
		if l := tokenByte[c]; l != 0 {
			c = l
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	return mix(h, len(tok))
}

// IsIDToken reports whether the tokenizer hashes tok, a run of token bytes:
// at least MinTokenLen bytes with a digit and a letter (or a byte >= 0x80).
func IsIDToken(tok []byte) bool {
	if len(tok) < MinTokenLen {
		return false
	}
	var cl byte
	for _, c := range tok {
		cl |= tokenClass[c]
	}
	return cl == classID
}

// EachToken calls fn with the hash of every id-like token of line, in
// order, with repeats.
func EachToken(line []byte, fn func(h uint64)) {
	n := len(line)
	for i := 0; i < n; {
		// Skip separators, then find the end of the token and its classes.
		for i < n && tokenClass[line[i]] == 0 {
			i++
		}
		start := i
		var cl byte
		for i < n {
			c := tokenClass[line[i]]
			if c == 0 {
				break
			}
			cl |= c
			i++
		}
		if i-start >= MinTokenLen && cl == classID {
			h := uint64(fnvOffset)
			for _, c := range line[start:i] {
				h = (h ^ uint64(tokenByte[c])) * fnvPrime
			}
			fn(mix(h, i-start))
		}
	}
}

// LiteralTokens returns the hashes of the complete id-like tokens of a
// line-filter literal: those with a non-token byte on both sides inside
// the literal. A token that touches the start or end of the literal may be
// part of a longer token in the line, so it is left out; any line
// containing the literal contains every returned token.
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
		if start > 0 && i < len(literal) && IsIDToken([]byte(literal[start:i])) {
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
	if s.n == 0 {
		return out
	}
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
