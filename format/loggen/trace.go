package loggen

import (
	"strings"

	"github.com/kubemate/kmlog/format/labels"
)

// A trace ID is 32 lowercase hex digits (128 bits). A needle's last 16
// bits are a checksum of the other 112; every other trace ID is made to
// fail that checksum. A needle is the trace of a request that logged a
// single line, so NeedleTraceID can tell from one entry, without state,
// that its trace ID occurs nowhere else in the output.

func needleCheck(hi, lo uint64) uint16 {
	x := hi ^ (lo >> 16) ^ 0x6e6565646c65 // "needle"
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return uint16(x)
}

func traceID(r rng, needle bool) string {
	hi, lo := r.u64(), r.u64()
	c := needleCheck(hi, lo)
	switch {
	case needle:
		lo = lo&^0xffff | uint64(c)
	case uint16(lo) == c:
		lo ^= 1
	}
	var b [32]byte
	appendHex(appendHex(b[:0], hi, 16), lo, 16)
	return string(b[:])
}

func isNeedle(id string) bool {
	if len(id) != 32 {
		return false
	}
	var hi, lo uint64
	for i := 0; i < 32; i++ {
		c := id[i]
		var v uint64
		switch {
		case c >= '0' && c <= '9':
			v = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			v = uint64(c-'a') + 10
		default:
			return false
		}
		if i < 16 {
			hi = hi<<4 | v
		} else {
			lo = lo<<4 | v
		}
	}
	return uint16(lo) == needleCheck(hi, lo)
}

// NeedleTraceID returns e's trace ID and true when that ID occurs in no
// other entry the generator produces (with any seed), which makes it a
// needle for "find the one line" query tests and benchmarks. About a
// third of requests are needles. It finds the ID in e.Metadata, or in the
// line (logfmt trace_id=, a Java stack trace's [trace-span] header).
func NeedleTraceID(e Entry) (string, bool) {
	id, ok := e.Metadata.Lookup("trace_id")
	if !ok {
		id = traceInLine(e.Line)
	}
	if !isNeedle(id) {
		return "", false
	}
	return id, true
}

func traceInLine(line string) string {
	for _, pre := range [...]string{"trace_id=", `"trace_id":"`, "] ["} {
		if i := strings.Index(line, pre); i >= 0 && len(line) >= i+len(pre)+32 {
			return line[i+len(pre) : i+len(pre)+32]
		}
	}
	return ""
}

// request returns the trace of the request s is serving, starting a new
// one when the last is used up.
func (g *Generator) request(s *source) (string, labels.Labels) {
	if s.left == 0 {
		needle := g.r.chance(300)
		s.trace = traceID(g.r, needle)
		s.meta = labels.Labels{{Name: "trace_id", Value: s.trace}}
		s.left = 1
		if !needle {
			s.left = g.r.between(2, 6)
		}
	}
	s.left--
	return s.trace, s.meta
}
