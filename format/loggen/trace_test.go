package loggen

import (
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

// FuzzNeedleTraceID checks that NeedleTraceID never panics and only ever
// returns an ID that is in the entry and passes the needle checksum.
func FuzzNeedleTraceID(f *testing.F) {
	g := New(Config{Seed: 29})
	for _, e := range g.Take(300) {
		if _, ok := NeedleTraceID(e); ok {
			f.Add(e.Line, e.Metadata.Get("trace_id"))
		}
	}
	f.Add("", "")
	f.Add("trace_id=", "")
	f.Add(`{"trace_id":"zz"}`, "0123456789abcdef0123456789abcdef")
	f.Add("] [0123456789ABCDEF0123456789abcdef-", "")
	f.Fuzz(func(t *testing.T, line, meta string) {
		e := Entry{Line: line}
		if meta != "" {
			e.Metadata = labels.FromStrings("trace_id", meta)
		}
		id, ok := NeedleTraceID(e)
		if !ok {
			if id != "" {
				t.Fatalf("not a needle but id %q", id)
			}
			return
		}
		if !isNeedle(id) || (id != meta && !strings.Contains(line, id)) {
			t.Fatalf("needle %q is not in the entry or fails the checksum", id)
		}
	})
}

func TestTraceIDShape(t *testing.T) {
	r := newRNG(1, 2)
	for i := range 10_000 {
		needle := i%2 == 0
		id := traceID(r, needle)
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("trace ID %q is not 32 lowercase hex digits", id)
		}
		if isNeedle(id) != needle {
			t.Fatalf("trace ID %q: isNeedle %v, want %v", id, !needle, needle)
		}
	}
}
