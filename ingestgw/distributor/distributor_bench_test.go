package distributor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/limits"
)

// BenchmarkPush measures validation, placement and in-process replication
// of a 1 MiB push (100 streams × 100 lines of ~100 bytes) to 3 of 5
// ingesters that only count what they get.
func BenchmarkPush(b *testing.B) {
	lim := limits.Default()
	lim.IngestionRateMB = 0
	d, _ := setup(b, 5, lim)
	d.clients = discard{}
	var r push.Request
	line := strings.Repeat("level=info msg=\"request served\" status=200 ", 3)[:100]
	size := 0
	for i := 0; i < 100; i++ {
		s := push.Stream{Labels: fmt.Sprintf(`{namespace="prod", app="app-%d", level="info"}`, i)}
		for j := 0; j < 100; j++ {
			s.Entries = append(s.Entries, push.Entry{Timestamp: now - int64(100-j), Line: line})
			size += len(line)
		}
		r.Streams = append(r.Streams, s)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Push(b.Context(), "t1", &r); err != nil {
			b.Fatal(err)
		}
	}
}

// discard is an ingester that accepts and drops everything.
type discard struct{}

func (discard) Ingester(string) (Ingester, error) { return discard{}, nil }

func (discard) Push(context.Context, tenant.ID, *push.Request) error { return nil }
