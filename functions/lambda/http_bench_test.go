package lambda

import (
	"bytes"
	"context"
	"net/http"
	"testing"
)

// BenchmarkHTTPHandler measures the adapter's own cost per invocation:
// event to request, and a buffered response back to the event shape.
func BenchmarkHTTPHandler(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, event, ctype string
		size               int
	}{
		{"query_range/json-64KiB", "httpapi-query-range.json", "application/json", 64 << 10},
		{"push/protobuf-1MiB", "url-push-binary.json", "application/x-protobuf", 1 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ev := readEvent(b, tc.event)
			body := bytes.Repeat([]byte("a"), tc.size)
			h := HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.Write(body)
			}))
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
