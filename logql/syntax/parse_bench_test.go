package syntax

import "testing"

// A typical query from a Grafana dashboard panel.
const grafanaQuery = `sum by (level) (count_over_time({namespace="prod", app=~"api|web"} |= "error" != "healthcheck" | json | level=~"error|warn" and latency > 250ms | __error__="" [1m]))`

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(grafanaQuery)))
	for b.Loop() {
		if _, err := Parse(grafanaQuery); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	e, err := Parse(grafanaQuery)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = e.String()
	}
}
