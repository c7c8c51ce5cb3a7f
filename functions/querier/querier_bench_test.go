package querier_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/functions/querier"
)

// benchDay is 64 MiB of raw loggen lines (240 streams, 2 lines/s, so
// about a day) as one data file with the default configs: a compacted
// day.
var benchDay = sync.OnceValue(func() (d struct {
	data, idx []byte
	raw       int64
	needle    string
}) {
	cfg := loggen.DefaultConfig()
	cfg.Rate = 2
	var es []ent
	for _, e := range loggen.New(cfg).TakeBytes(64 << 20) {
		es = append(es, ent{ls: e.Labels, ts: e.Timestamp, line: e.Line, md: e.Metadata})
		d.raw += int64(len(e.Line))
		if d.needle == "" && len(es) > 100000 {
			if id, ok := loggen.NeedleTraceID(e); ok {
				d.needle = id
			}
		}
	}
	es = dedup(es)
	var buf bytes.Buffer
	w := datafile.NewWriter(&buf, datafile.DefaultConfig())
	for _, e := range es {
		if err := w.Append(e.ls, e.ts, e.line, e.md); err != nil {
			panic(err)
		}
	}
	sum, err := w.Close()
	if err != nil {
		panic(err)
	}
	d.data, d.idx = buf.Bytes(), index.Build(sum, index.DefaultConfig()).Encode()
	return d
})

func putBenchDay(b *testing.B, bkt bucket.Bucket) {
	d := benchDay()
	id := objkey.MustNewULID()
	ctx := context.Background()
	if err := bucket.PutBytes(ctx, bkt, objkey.Data(tid, testDay(), id), d.data); err != nil {
		b.Fatal(err)
	}
	if err := bucket.PutBytes(ctx, bkt, objkey.Index(tid, testDay(), id), d.idx); err != nil {
		b.Fatal(err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchQuerier(bkt bucket.Bucket) *querier.Querier {
	return querier.New(querier.DefaultConfig(), bkt, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
}

func dayRequest(query string, limit int) querier.Request {
	return qcase{query: query, end: 24 * time.Hour, limit: limit}.request(false)
}

// BenchmarkNeedle is the "find one trace id in a day" query: the share
// of the stored bytes it reads, cold (fresh querier, index read too) and
// warm (index cached).
func BenchmarkNeedle(b *testing.B) {
	bkt := newDir(b)
	putBenchDay(b, bkt)
	d := benchDay()
	req := dayRequest(`{namespace=~".+"} |= "`+d.needle+`"`, 100)
	for _, cold := range []bool{true, false} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			q := benchQuerier(bkt)
			if _, err := q.Query(b.Context(), req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var st querier.Stats
			for b.Loop() {
				if cold {
					q = benchQuerier(bkt)
				}
				resp, err := q.Query(b.Context(), req)
				if err != nil {
					b.Fatal(err)
				}
				st = resp.Stats
			}
			b.ReportMetric(100*float64(st.BytesRead)/float64(st.BytesStored), "%read")
			b.ReportMetric(float64(st.GetRequests), "GETs/op")
			b.ReportMetric(float64(st.LinesScanned), "lines/op")
		})
	}
}

// BenchmarkScanLiteral is a full scan with a literal that the token
// filters cannot rule out: raw line MB per CPU second through the
// querier (read, decode, merge, engine line filter), from a directory
// and from MinIO.
func BenchmarkScanLiteral(b *testing.B) {
	for _, backend := range []string{"dir", "minio"} {
		b.Run(backend, func(b *testing.B) {
			var bkt bucket.Bucket
			if backend == "dir" {
				bkt = newDir(b)
			} else {
				bkt = miniotest.StartShared(b).NewBucket(b, "scan")
			}
			putBenchDay(b, bkt)
			q := benchQuerier(bkt)
			req := dayRequest(`{namespace=~".+"} |= "zzq"`, 100)
			d := benchDay()
			b.SetBytes(d.raw)
			b.ReportAllocs()
			start := cpuTime()
			var st querier.Stats
			for b.Loop() {
				resp, err := q.Query(b.Context(), req)
				if err != nil {
					b.Fatal(err)
				}
				st = resp.Stats
			}
			b.ReportMetric(float64(d.raw)*float64(b.N)/(cpuTime()-start).Seconds()/1e6, "MB/cpu-s")
			b.ReportMetric(float64(st.GetRequests), "GETs/op")
		})
	}
}

// BenchmarkColdFirstAnswer is a fresh querier (empty cache) answering
// the newest 100 lines of one namespace over the day.
func BenchmarkColdFirstAnswer(b *testing.B) {
	for _, backend := range []string{"dir", "minio"} {
		b.Run(backend, func(b *testing.B) {
			var bkt bucket.Bucket
			if backend == "dir" {
				bkt = newDir(b)
			} else {
				bkt = miniotest.StartShared(b).NewBucket(b, "cold")
			}
			putBenchDay(b, bkt)
			req := dayRequest(`{namespace="payments", level="error"}`, 100)
			var st querier.Stats
			b.ReportAllocs()
			for b.Loop() {
				resp, err := benchQuerier(bkt).Query(b.Context(), req)
				if err != nil {
					b.Fatal(err)
				}
				st = resp.Stats
			}
			b.ReportMetric(100*float64(st.BytesRead)/float64(st.BytesStored), "%read")
			b.ReportMetric(float64(st.GetRequests), "GETs/op")
		})
	}
}
