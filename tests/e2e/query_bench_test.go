package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/querier"
)

// benchQueryDays and benchQueryDayBytes size BenchmarkQuery's data: days
// of loggen lines pushed to an all-in-one kmlog on MinIO, one flush per
// day. $KMLOG_BENCH_QUERY_MB overrides the MiB per day.
const benchQueryDays = 6

func benchQueryDayBytes() int64 {
	if v, err := strconv.Atoi(os.Getenv("KMLOG_BENCH_QUERY_MB")); err == nil && v > 0 {
		return int64(v) << 20
	}
	return 32 << 20
}

// BenchmarkQuery measures the query path over HTTP against real processes
// and MinIO, on days of loggen traffic pushed through the push API:
//
//   - Needle: a trace ID seen on one line, over every day, through the
//     frontend: the bytes the queriers read from MinIO as a share of the
//     bytes stored (data files), cold (a new process: indexes read too)
//     and warm (indexes cached).
//   - ScanLiteral: sum(count_over_time({...} |= "literal" [6d])), every
//     line of every day read cold from MinIO (the querier caches only
//     indexes): raw line bytes per second of the kmlog process's CPU.
//   - ColdStart: a querier process started as Knative starts it, from
//     exec to its first answer of one day's shard.
//   - CachedRepeat: a repeated 30-day metric query and a repeated
//     six-day log query, answered from the results cache.
func BenchmarkQuery(b *testing.B) {
	srv := miniotest.StartShared(b)
	bkt, storage := minioBucket(b, srv, b.Name())
	all := NewProc(b, "all")
	all.Start(cfgOf(allInOneQueryConfig(storage, false), Config{"log": Config{"level": "warn"}}))
	days := pastDays(benchQueryDays)
	t0 := time.Now()
	var raw int64
	var needle string
	for i, day := range days {
		gen := loggen.New(loggen.Config{
			Seed: uint64(1000 + i), TenantIDs: []tenant.ID{qTenant}, Namespaces: 3, Apps: 6, PodsPerApp: 3,
			// About 300 bytes a line: the day's bytes spread over 20 hours.
			Start: day.Add(30 * time.Minute), Rate: float64(benchQueryDayBytes()) / 300 / (20 * 3600),
		})
		es := gen.TakeBytes(benchQueryDayBytes())
		for _, e := range es {
			raw += int64(len(e.Line))
			if needle == "" && i == benchQueryDays/2 && len(e.Line) > 0 {
				if id, ok := loggen.NeedleTraceID(e); ok {
					needle = id
				}
			}
		}
		pushDay(b, all, nil, es)
	}
	stored := storedBytes(b, bkt, qTenant)
	b.Logf("pushed %.1f MB of lines over %d days in %s; stored %.1f MB of data files, %.2f MB of indexes",
		float64(raw)/1e6, len(days), time.Since(t0).Round(time.Millisecond), float64(stored.data)/1e6, float64(stored.index)/1e6)
	first, end := days[0], days[len(days)-1].Add(24*time.Hour)
	c := newLokiClient(all.URL(""))

	b.Run("Needle", func(b *testing.B) {
		q := qcase{Query: fmt.Sprintf(`{namespace=~".+"} |= "%s"`, needle), Start: first, End: end, Limit: 10}
		all.Stop()
		all.Start(nil) // cold: no index cached
		cold := queryStats(b, c, q)
		if cold.lines != 1 {
			b.Fatalf("needle %s: %d lines, want 1", needle, cold.lines)
		}
		var warm queryCost
		b.ReportAllocs()
		for b.Loop() {
			warm = queryStats(b, c, q)
		}
		b.ReportMetric(100*float64(cold.bytesRead)/float64(stored.data), "%read-cold")
		b.ReportMetric(100*float64(warm.bytesRead)/float64(stored.data), "%read-warm")
		b.ReportMetric(float64(warm.chunksDownloaded), "blocks-read")
		b.ReportMetric(float64(warm.chunksRef), "blocks-matched")
	})

	b.Run("ScanLiteral", func(b *testing.B) {
		q := qcase{Query: `sum(count_over_time({namespace=~".+"} |= "request" [6d]))`, End: end, Instant: true}
		queryStats(b, c, q) // the indexes are cached from here on, the data never
		cpu0 := all.Metrics()["process_cpu_seconds_total"]
		var scanned, read int64
		var n int
		b.ResetTimer()
		for b.Loop() {
			st := queryStats(b, c, q)
			scanned += st.bytesScanned
			read += st.bytesRead
			n++
			b.SetBytes(st.bytesScanned)
		}
		b.StopTimer()
		cpu := all.Metrics()["process_cpu_seconds_total"] - cpu0
		if cpu > 0 {
			b.ReportMetric(float64(scanned)/cpu/1e9, "GB/cpu-s")
		}
		b.ReportMetric(float64(scanned)/float64(n)/1e6, "MB-scanned/op")
		b.ReportMetric(100*float64(read)/float64(n)/float64(stored.data), "%read")
	})

	b.Run("ColdStart", func(b *testing.B) {
		req := querier.Request{Kind: querier.KindQuery, Tenant: qTenant, Day: days[len(days)-1].Format(time.DateOnly),
			ShardFrom: days[len(days)-1].UnixNano(), ShardThrough: end.UnixNano(),
			Query: `{namespace="prod", level="error"}`, Start: days[len(days)-1].UnixNano(), End: end.UnixNano(),
			Limit: 100, Direction: "backward"}
		body, _ := json.Marshal(req)
		cfg := cfgOf(storage, Config{"log": Config{"level": "warn"}})
		i := 0
		for b.Loop() {
			b.StopTimer()
			i++
			q := knativeQuerier(b, fmt.Sprintf("querier-cold-%d", i))
			b.StartTimer()
			q.Launch(cfg)
			firstAnswer(b, q, body)
			b.StopTimer()
			q.Stop()
			b.StartTimer()
		}
	})

	b.Run("CachedRepeat", func(b *testing.B) {
		all.Stop()
		all.Start(cfgOf(allInOneQueryConfig(storage, true), Config{"log": Config{"level": "warn"}}))
		today := time.Now().UTC().Truncate(24 * time.Hour)
		for _, q := range []qcase{
			{Name: "metric-30d", Query: `sum by (level) (count_over_time({namespace="prod"}[1h]))`,
				Start: today.AddDate(0, 0, -31).Add(time.Hour), End: today.AddDate(0, 0, -1).Add(-time.Hour), Step: time.Hour},
			{Name: "log-6d", Query: `{namespace="prod"} |= "error"`, Start: first, End: end, Limit: 100},
		} {
			b.Run(q.Name, func(b *testing.B) {
				path, form, _ := q.params()
				c.mustGet(b, qTenant, path, form) // fills the cache
				var invoked int64
				b.ReportAllocs()
				for b.Loop() {
					invoked += statsOfBody(b, c.mustGet(b, qTenant, path, form)).Summary.Subqueries
				}
				// Should be 0; see testLogRepeat for why a log query's
				// repeat still invokes queriers.
				b.ReportMetric(float64(invoked)/float64(b.N), "invocations/op")
			})
		}
	})
}

// storedSizes are the bytes under a tenant's prefix.
type storedSizes struct{ data, index int64 }

func storedBytes(t testing.TB, b bucket.Bucket, tid tenant.ID) storedSizes {
	t.Helper()
	var s storedSizes
	err := b.List(context.Background(), string(tid)+"/", func(oi bucket.ObjectInfo) error {
		switch {
		case strings.HasSuffix(oi.Key, ".parquet"):
			s.data += oi.Size
		case strings.HasSuffix(oi.Key, ".idx"):
			s.index += oi.Size
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// queryCost is what one query cost, from its answer's stats.
type queryCost struct {
	bytesRead, bytesScanned     int64
	chunksRef, chunksDownloaded int64
	lines                       int
}

func queryStats(t testing.TB, c lokiClient, q qcase) queryCost {
	t.Helper()
	path, form, _ := q.params()
	body := c.mustGet(t, qTenant, path, form)
	st := statsOfBody(t, body)
	var r struct {
		Data struct {
			Result []struct {
				Values [][]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	lines := 0
	if json.Unmarshal(body, &r) == nil {
		for _, s := range r.Data.Result {
			lines += len(s.Values)
		}
	}
	s := st.Querier.Store
	return queryCost{
		bytesRead: s.Chunk.CompressedBytes, bytesScanned: st.Summary.TotalBytesProcessed,
		chunksRef: s.TotalChunksRef, chunksDownloaded: s.TotalChunksDownloaded, lines: lines,
	}
}

// firstAnswer POSTs body to the querier until it answers 200.
func firstAnswer(t testing.TB, q *Proc, body []byte) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	client := &http.Client{Timeout: 30 * time.Second}
	for {
		resp, err := client.Post(q.URL("/"), "application/json", bytes.NewReader(body))
		if err == nil {
			ok := resp.StatusCode == http.StatusOK
			var r querier.Response
			derr := json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if ok && derr == nil && len(r.Partial) > 0 {
				return
			}
			if !ok {
				t.Fatalf("querier answered %s", resp.Status)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s within a minute: %v", q.Name, err)
		}
		time.Sleep(time.Millisecond)
	}
}
