package datafile

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lineTokens(line string) []uint64 {
	var hs []uint64
	EachToken([]byte(line), func(h uint64) { hs = append(hs, h) })
	return hs
}

func hashes(toks ...string) []uint64 {
	var hs []uint64
	for _, t := range toks {
		hs = append(hs, TokenHash([]byte(t)))
	}
	return hs
}

func TestEachToken(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{"", nil},
		{"transaction failed for user 12345678", nil}, // words and numbers
		{"ab12cd3 a1b2c3d4", []string{"a1b2c3d4"}},    // 7 bytes is too short
		{`"trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736"`, []string{"4bf92f3577b34da6a3ce929d0e0e4736"}},
		{"pod=api-7d9f8b6c4x-xk2pq ip=10.42.39.32", []string{"7d9f8b6c4x"}}, // "xk2pq" is short, the IP is numbers
		{"id=123e4567-e89b-12d3-a456-426614174000", []string{"123e4567"}},   // the last part is all digits
		{"Zoë2026Zoë 2026-11-25T10:00:00.123Z", []string{"zoë2026zoë"}},     // bytes >= 0x80 count as letters
		{"x1234567", []string{"x1234567"}},
		{"12345678x", []string{"12345678x"}},
	}
	for _, c := range cases {
		got := lineTokens(c.line)
		if diff := cmp.Diff(hashes(c.want...), got); diff != "" {
			t.Errorf("EachToken(%q) (-want +got):\n%s", c.line, diff)
		}
		for i, h := range got {
			if TokenLen(h) != min(63, len(c.want[i])) {
				t.Errorf("TokenLen of %q = %d", c.want[i], TokenLen(h))
			}
		}
	}
	long := "a1" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if got := TokenLen(TokenHash([]byte(long))); got != 63 {
		t.Errorf("TokenLen of a %d-byte token = %d, want 63", len(long), got)
	}
}

func TestLiteralTokens(t *testing.T) {
	cases := []struct {
		literal string
		want    []string
	}{
		{"4bf92f3577b34da6a3ce929d0e0e4736", nil}, // touches both edges
		{`"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`, []string{"4bf92f3577b34da6a3ce929d0e0e4736"}},
		{" 4bf92f3577b34da6a3ce929d0e0e4736 ", []string{"4bf92f3577b34da6a3ce929d0e0e4736"}},
		{"=a1b2c3d4 =a1b2c3d4 ", []string{"a1b2c3d4"}},
		{" transaction failed ", nil},
		{" 12345678 ", nil},
	}
	for _, c := range cases {
		want := hashes(c.want...)
		slices.Sort(want)
		if diff := cmp.Diff(want, LiteralTokens(c.literal)); diff != "" {
			t.Errorf("LiteralTokens(%q) (-want +got):\n%s", c.literal, diff)
		}
	}
}

// FuzzLiteralTokens checks the property the index relies on: every token
// LiteralTokens requires of a substring of a line is a token of the line.
func FuzzLiteralTokens(f *testing.F) {
	f.Add(`{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}`, 3, 50)
	f.Add("pod=api-7d9f8b6c4x-xk2pq Zoë2026Zoë \xff\xfe1234567a", 0, 40)
	f.Fuzz(func(t *testing.T, line string, i, j int) {
		if i < 0 || j < i || j > len(line) {
			return
		}
		have := map[uint64]bool{}
		for _, h := range lineTokens(line) {
			have[h] = true
		}
		for _, h := range LiteralTokens(line[i:j]) {
			if !have[h] {
				t.Fatalf("literal %q requires token %#x missing from line %q", line[i:j], h, line)
			}
		}
	})
}
