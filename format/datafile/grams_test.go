package datafile

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func gramSet(line string) map[uint64]bool {
	set := map[uint64]bool{}
	EachGram([]byte(line), func(h uint64) {
		if !IsGram(h) || h == 0 {
			panic("BUG: not a gram hash")
		}
		set[h] = true
	})
	return set
}

// checkSubstrings asserts that every substring of line, in any case, has
// its literal grams among the line's grams: no false negatives.
func checkSubstrings(t testing.TB, line string, lits []string) {
	set := gramSet(line)
	for _, lit := range lits {
		for _, l := range []string{lit, asciiUpper(lit)} {
			for _, h := range LiteralGrams(l) {
				if !set[h] {
					t.Fatalf("literal %q of line %q: gram %#x missing", l, line, h)
				}
			}
		}
	}
}

// asciiUpper upper-cases ASCII letters only, leaving other bytes (and
// broken UTF-8) as they are, as the filters' case folding does.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestGramsNoFalseNegatives(t *testing.T) {
	lines := []string{
		`{"ts":"2026-11-25T00:00:00.001Z","msg":"trade executed","trace_id":"de863bf7be14340d208f0868fd959aac","span_id":"4f8a46843d4b6556"}`,
		`ts=2026-11-25T10:00:00.123456Z level=info msg="refund issued" tx_id=tx_8683577ea331b497 request_id=f3b5318b-b16c-46e8-a5b7-91f2b3cea29b`,
		`10.42.39.32 - - [25/Nov/2026:00:00:00 +0000] "GET /api/v1/orders HTTP/1.1" 200 52502 55dac9104577b7e61d48519629414dd5`,
		"\tat com.kubemate.ledger.Service.post(Service.java:142)\nCaused by: Zoë-12345678abcdefgh_ÄÖÜ",
	}
	for _, line := range lines {
		var lits []string
		for i := range len(line) {
			for j := i + 1; j <= len(line); j++ {
				lits = append(lits, line[i:j])
			}
		}
		checkSubstrings(t, line, lits)
	}
}

// TestGramsPrune checks that literals with GramSpan bytes of an id have
// grams, and that ids of another line are not among a line's grams.
func TestGramsPrune(t *testing.T) {
	line := `trace_id=de863bf7be14340d208f0868fd959aac span=4f8a46843d4b6556 tx=tx_8683577ea331b497 id=f3b5318b-b16c-46e8-a5b7-91f2b3cea29b`
	set := gramSet(line)
	for _, lit := range []string{"de863bf7be14", "4f8a46843d4b6556", "tx_8683577ea331b497", "8683577ea331b497", "f3b5318b-b16c-46e8-a5b7-91f2b3cea29b", "91f2b3cea29b"} {
		if len(LiteralGrams(lit)) == 0 {
			t.Errorf("%q has no grams", lit)
		}
	}
	for _, lit := range []string{"transaction failed", "4f8a46843", "12345678901234", "", "abcdefghijklmnop"} {
		if gs := LiteralGrams(lit); len(gs) != 0 {
			t.Errorf("%q has grams %x, want none (too short, or no digit and letter)", lit, gs)
		}
	}
	// Random ids of the same shapes are almost never all present.
	r := rand.New(rand.NewPCG(1, 2))
	hex := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "0123456789abcdef"[r.IntN(16)]
		}
		return string(b)
	}
	kept := 0
	for range 1000 {
		all := true
		for _, h := range LiteralGrams(hex(16)) {
			all = all && set[h]
		}
		if all {
			kept++
		}
	}
	if kept > 0 {
		t.Errorf("%d of 1000 random 16-hex ids have all their grams in one line", kept)
	}
}

func FuzzGrams(f *testing.F) {
	f.Add("trace_id=de863bf7be14340d208f0868fd959aac x", 9, 20)
	f.Add("tx_8683577ea331b497-AB12cd34EF56", 0, 30)
	f.Add("Zoë-12345678abcdefgh_ÄÖÜ", 3, 12)
	f.Fuzz(func(t *testing.T, line string, i, n int) {
		if len(line) == 0 {
			return
		}
		i = (i%len(line) + len(line)) % len(line)
		n = (n%(len(line)-i+1) + (len(line) - i + 1)) % (len(line) - i + 1)
		checkSubstrings(t, line, []string{line[i : i+n]})
		got := LiteralGrams(line)
		if !slices.IsSorted(got) {
			t.Fatal("LiteralGrams not sorted")
		}
	})
}
