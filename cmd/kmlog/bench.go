package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// `kmlog bench` pushes one deterministic corpus (format/loggen) to one or
// more servers that speak the Loki API (kmlog, Grafana Loki), flushes
// them, measures what they stored, then runs a fixed query suite cold and
// warm. Measurements are per target, so that two servers measured in one
// run on one machine can be compared as ratios.

// benchTarget is one server under test (-target name=URL[,pid=N][,dir=P]).
type benchTarget struct {
	Name string   `json:"name"`
	URL  string   `json:"url"`
	PID  int      `json:"pid,omitempty"`
	Dirs []string `json:"dirs,omitempty"` // object store directories to walk
}

type benchOptions struct {
	Targets     []benchTarget
	Tenant      string
	Lines       int
	Span        time.Duration
	EndAgo      time.Duration
	Seed        uint64
	Namespaces  int
	Apps        int
	Pods        int
	BatchBytes  int
	Concurrency int
	Warm        int
	JSON        string
	SkipPush    bool
	FlushWait   time.Duration
}

type targetsFlag struct{ ts *[]benchTarget }

func (f targetsFlag) String() string { return "" }

func (f targetsFlag) Set(s string) error {
	t, err := parseBenchTarget(s)
	if err != nil {
		return err
	}
	*f.ts = append(*f.ts, t)
	return nil
}

// parseBenchTarget reads name=URL[,pid=N][,dir=PATH]... .
func parseBenchTarget(s string) (benchTarget, error) {
	var t benchTarget
	parts := strings.Split(s, ",")
	name, u, ok := strings.Cut(parts[0], "=")
	if !ok || name == "" {
		return t, fmt.Errorf("-target %q: want name=URL[,pid=N][,dir=PATH]", s)
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return t, fmt.Errorf("-target %q: URL %q: want http://host:port", s, u)
	}
	t.Name, t.URL = name, strings.TrimSuffix(u, "/")
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "pid":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return t, fmt.Errorf("-target %q: pid %q: want a process id", s, v)
			}
			t.PID = n
		case "dir":
			if v == "" {
				return t, fmt.Errorf("-target %q: empty dir", s)
			}
			t.Dirs = append(t.Dirs, v)
		default:
			return t, fmt.Errorf("-target %q: unknown option %q (want pid or dir)", s, k)
		}
	}
	return t, nil
}

func parseBenchFlags(args []string, stderr io.Writer) (benchOptions, error) {
	var o benchOptions
	fs := flag.NewFlagSet("kmlog bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: kmlog bench -target name=URL[,pid=N][,dir=PATH] [-target ...] [flags]

Pushes a deterministic corpus (format/loggen: JSON, logfmt, nginx, klog
lines, multi-line Java stacks; 32- and 16-hex ids, UUIDs, tx_ ids) to every
target that speaks the Loki API, flushes it, measures stored bytes, then
runs a fixed query suite cold and warm. pid= reads the server's CPU and
peak RSS from /proc (else from its /metrics); dir= walks its object store.`)
		fs.PrintDefaults()
	}
	fs.Var(targetsFlag{&o.Targets}, "target", "server under test: name=URL[,pid=N][,dir=PATH] (repeatable; the first is the numerator of ratios)")
	fs.StringVar(&o.Tenant, "tenant", "bench", "tenant sent as X-Scope-OrgID")
	fs.IntVar(&o.Lines, "lines", 1_000_000, "lines in the corpus")
	fs.DurationVar(&o.Span, "span", 24*time.Hour, "time the corpus spans")
	fs.DurationVar(&o.EndAgo, "end-ago", 6*time.Hour, "the corpus ends this long before now (so that queries read the store, not the ingesters, and both servers may cache results)")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator seed")
	fs.IntVar(&o.Namespaces, "namespaces", 4, "namespaces of the generated cluster")
	fs.IntVar(&o.Apps, "apps", 5, "apps per namespace")
	fs.IntVar(&o.Pods, "pods", 3, "pods per app (each pod has 4 streams, one per level)")
	fs.IntVar(&o.BatchBytes, "batch-bytes", 1<<20, "raw line bytes per push")
	fs.IntVar(&o.Concurrency, "concurrency", 2, "pushes in flight at once")
	fs.IntVar(&o.Warm, "warm", 5, "warm runs of each query after the cold one")
	fs.StringVar(&o.JSON, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&o.SkipPush, "skip-push", false, "query only: the corpus was pushed before (same flags)")
	fs.DurationVar(&o.FlushWait, "flush-wait", 5*time.Minute, "how long to wait for the stored size to settle after /flush")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("kmlog bench: unexpected argument %q", fs.Arg(0))
	case len(o.Targets) == 0:
		return o, errors.New("kmlog bench: no -target")
	case o.Lines < 1 || o.Lines > 100_000_000:
		return o, fmt.Errorf("kmlog bench: -lines %d: want 1 to 100000000", o.Lines)
	case o.Span < time.Minute || o.Span > 7*24*time.Hour:
		return o, fmt.Errorf("kmlog bench: -span %s: want 1m to 168h", o.Span)
	case o.EndAgo < 0 || o.EndAgo+o.Span > 7*24*time.Hour:
		return o, fmt.Errorf("kmlog bench: -end-ago %s: want 0 to 168h minus -span", o.EndAgo)
	case o.Namespaces < 1 || o.Apps < 1 || o.Pods < 1:
		return o, errors.New("kmlog bench: -namespaces, -apps and -pods must be positive")
	case o.BatchBytes < 1024 || o.BatchBytes > maxLoadBatchBytes:
		return o, fmt.Errorf("kmlog bench: -batch-bytes %d: want 1024 to %d", o.BatchBytes, maxLoadBatchBytes)
	case o.Concurrency < 1 || o.Concurrency > maxLoadConcurrency:
		return o, fmt.Errorf("kmlog bench: -concurrency %d: want 1 to %d", o.Concurrency, maxLoadConcurrency)
	case o.Warm < 1 || o.Warm > 1000:
		return o, fmt.Errorf("kmlog bench: -warm %d: want 1 to 1000", o.Warm)
	}
	if _, err := tenant.Parse(o.Tenant); err != nil {
		return o, fmt.Errorf("kmlog bench: -tenant: %w", err)
	}
	return o, nil
}

// benchCorpus is the generated corpus as push bodies, with its needles.
type benchCorpus struct {
	Start, End time.Time
	Bodies     [][]byte
	BodyLines  []int
	Lines      int64
	RawBytes   int64 // line bytes
	Streams    int
	Needles    []benchNeedle
}

// benchNeedle is a string found in the corpus, and how many lines hold it.
type benchNeedle struct {
	Shape string `json:"shape"`
	Value string `json:"value"`
	Lines int    `json:"lines"`
}

// needleShapes find one value of each id shape in a line.
var needleShapes = []struct {
	shape string
	re    *regexp.Regexp
}{
	{"32-hex id", regexp.MustCompile(`"trace_id":"([0-9a-f]{32})"`)},
	{"16-hex id", regexp.MustCompile(`"span_id":"([0-9a-f]{16})"`)},
	{"uuid", regexp.MustCompile(`\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`)},
	{"tx_ id", regexp.MustCompile(`\b(tx_[0-9a-f]{16})\b`)},
	{"12-hex prefix", regexp.MustCompile(`trace_id=([0-9a-f]{12})[0-9a-f]{20}`)},
}

func genBench(o benchOptions, now time.Time, progress io.Writer) *benchCorpus {
	end := now.Add(-o.EndAgo).Truncate(time.Minute)
	c := &benchCorpus{Start: end.Add(-o.Span), End: end}
	gen := loggen.New(loggen.Config{
		Seed: o.Seed, TenantIDs: []tenant.ID{tenant.ID(o.Tenant)},
		Namespaces: o.Namespaces, Apps: o.Apps, PodsPerApp: o.Pods,
		Start: c.Start, Rate: float64(o.Lines) / o.Span.Seconds(),
	})
	c.Streams = len(gen.Streams())
	// Needles come from lines in the middle of the corpus, one per shape.
	needleAt := int64(o.Lines) * 37 / 100
	found := map[string]bool{}
	next := time.Now()
	for c.Lines < int64(o.Lines) {
		req := &push.Request{}
		pos := map[string]int{}
		var raw int64
		n := 0
		for raw < int64(o.BatchBytes) && c.Lines < int64(o.Lines) {
			e := gen.Next()
			if e.Timestamp >= end.UnixNano() {
				e.Timestamp = end.UnixNano() - 1
			}
			if c.Lines >= needleAt && len(found) < len(needleShapes) {
				for _, ns := range needleShapes {
					if m := ns.re.FindStringSubmatch(e.Line); m != nil && !found[ns.shape] {
						found[ns.shape] = true
						c.Needles = append(c.Needles, benchNeedle{Shape: ns.shape, Value: m[1]})
					}
				}
			}
			key := e.Labels.String()
			j, ok := pos[key]
			if !ok {
				j = len(req.Streams)
				pos[key] = j
				req.Streams = append(req.Streams, push.Stream{Labels: key})
			}
			req.Streams[j].Entries = append(req.Streams[j].Entries, push.Entry{Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata})
			raw += int64(len(e.Line))
			c.Lines++
			n++
		}
		c.RawBytes += raw
		c.Bodies = append(c.Bodies, push.EncodeProto(req))
		c.BodyLines = append(c.BodyLines, n)
		if time.Now().After(next) {
			fmt.Fprintf(progress, "generate: %d / %d lines\n", c.Lines, o.Lines)
			next = time.Now().Add(2 * time.Second)
		}
	}
	slices.SortFunc(c.Needles, func(a, b benchNeedle) int { return strings.Compare(a.Shape, b.Shape) })
	return c
}

// countNeedles counts the lines holding each needle (a second pass over the
// generator, so that the corpus need not be kept as lines).
func countNeedles(o benchOptions, c *benchCorpus) {
	gen := loggen.New(loggen.Config{
		Seed: o.Seed, TenantIDs: []tenant.ID{tenant.ID(o.Tenant)},
		Namespaces: o.Namespaces, Apps: o.Apps, PodsPerApp: o.Pods,
		Start: c.Start, Rate: float64(o.Lines) / o.Span.Seconds(),
	})
	batch := make([]loggen.Entry, 0, 4096)
	for left := o.Lines; left > 0; {
		batch = gen.Fill(batch[:0:min(left, 4096)])
		left -= len(batch)
		for _, e := range batch {
			for i := range c.Needles {
				if strings.Contains(e.Line, c.Needles[i].Value) {
					c.Needles[i].Lines++
				}
			}
		}
	}
}

// benchQuery is one query of the suite.
type benchQuery struct {
	Name  string
	Query string
	Range time.Duration // ending at the corpus end
	Step  time.Duration // 0 for log queries
	Limit int
}

func benchSuite(c *benchCorpus) []benchQuery {
	var qs []benchQuery
	for _, n := range c.Needles {
		qs = append(qs, benchQuery{Name: "needle " + n.Shape, Query: fmt.Sprintf(`{namespace=~".+"} |= %q`, n.Value), Range: c.End.Sub(c.Start), Limit: 100})
	}
	span := c.End.Sub(c.Start)
	return append(qs,
		benchQuery{Name: "keyword |= limit 100", Query: `{namespace="prod"} |= "timeout"`, Range: span, Limit: 100},
		benchQuery{Name: "regex |~ limit 100", Query: `{namespace="prod"} |~ "status=5[0-9][0-9]"`, Range: span, Limit: 100},
		benchQuery{Name: "json | filter limit 100", Query: `{namespace="payments"} | json | level="error" | latency_ms > 500`, Range: span, Limit: 100},
		benchQuery{Name: "last 100", Query: `{namespace="prod"}`, Range: span, Limit: 100},
		benchQuery{Name: "count by level 1h", Query: `sum by (level) (count_over_time({namespace=~".+"}[5m]))`, Range: time.Hour, Step: time.Minute},
		benchQuery{Name: "count by level 1d", Query: `sum by (level) (count_over_time({namespace=~".+"}[5m]))`, Range: 24 * time.Hour, Step: 5 * time.Minute},
		benchQuery{Name: "count by level 7d", Query: `sum by (level) (count_over_time({namespace=~".+"}[1h]))`, Range: 7 * 24 * time.Hour, Step: time.Hour},
		benchQuery{Name: "rate |= 1d", Query: `sum(rate({namespace=~".+"} |= "error" [5m]))`, Range: 24 * time.Hour, Step: 5 * time.Minute},
	)
}

// queryResult is one query's measurements on one target.
type queryResult struct {
	Name      string    `json:"name"`
	Query     string    `json:"query"`
	Cold      float64   `json:"cold_seconds"`
	Warm      []float64 `json:"warm_seconds"`
	P50, P95  float64   `json:"-"`
	Results   int       `json:"results"`            // entries or series of the cold answer
	Bytes     int64     `json:"bytes_read"`         // compressed bytes read by the cold run
	Processed int64     `json:"bytes_processed"`    // decompressed bytes processed by the cold run
	GETs      int64     `json:"gets"`               // requests to the store by the cold run
	GETsFrom  string    `json:"gets_from"`          // where GETs came from
	Error     string    `json:"error,omitempty"`    //
	WarmBytes int64     `json:"warm_bytes_read"`    // of the last warm run
	CPU       float64   `json:"server_cpu_seconds"` // all runs of this query
}

// targetResult is what one target measured.
type targetResult struct {
	Target        benchTarget   `json:"target"`
	PushSeconds   float64       `json:"push_seconds"`
	PushedLines   int64         `json:"pushed_lines"`
	PushedBytes   int64         `json:"pushed_bytes"`
	PushFailures  int           `json:"push_failures"`
	IngestCPU     float64       `json:"ingest_cpu_seconds"` // push and flush
	PeakRSS       int64         `json:"peak_rss_bytes"`
	StoredBytes   int64         `json:"stored_bytes"`
	StoredObjects int           `json:"stored_objects"`
	Queries       []queryResult `json:"queries"`
	CPUFrom       string        `json:"cpu_from"`
}

// benchReport is the whole run.
type benchReport struct {
	Lines    int64          `json:"lines"`
	RawBytes int64          `json:"raw_bytes"`
	Streams  int            `json:"streams"`
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end"`
	Needles  []benchNeedle  `json:"needles"`
	Targets  []targetResult `json:"targets"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	t0 := time.Now()
	c := genBench(o, t0, stderr)
	countNeedles(o, c)
	fmt.Fprintf(stderr, "corpus: %d lines, %s raw, %d streams, %s to %s, %d pushes; generated in %s\n",
		c.Lines, fmtBytes(float64(c.RawBytes)), c.Streams, c.Start.Format(time.RFC3339), c.End.Format(time.RFC3339), len(c.Bodies), time.Since(t0).Round(time.Millisecond))
	for _, n := range c.Needles {
		fmt.Fprintf(stderr, "needle %-14s %s in %d lines\n", n.Shape, n.Value, n.Lines)
	}
	rep := benchReport{Lines: c.Lines, RawBytes: c.RawBytes, Streams: c.Streams, Start: c.Start, End: c.End, Needles: c.Needles}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, ForceAttemptHTTP2: true}}
	for _, t := range o.Targets {
		r, err := benchTargetRun(ctx, o, c, t, client, stderr)
		if err != nil {
			return fmt.Errorf("kmlog bench: %s: %w", t.Name, err)
		}
		rep.Targets = append(rep.Targets, r)
	}
	writeBenchTable(stdout, rep)
	if o.JSON != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.JSON, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("kmlog bench: write %s: %w", o.JSON, err)
		}
	}
	return nil
}

func benchTargetRun(ctx context.Context, o benchOptions, c *benchCorpus, t benchTarget, client *http.Client, progress io.Writer) (targetResult, error) {
	r := targetResult{Target: t}
	mon := newProcMonitor(t, client)
	defer mon.stop()
	r.CPUFrom = mon.source()
	cpu0 := mon.cpu()
	if !o.SkipPush {
		if err := benchPush(ctx, o, c, t, client, &r, progress); err != nil {
			return r, err
		}
		if err := benchFlush(ctx, o, t, client, progress); err != nil {
			return r, err
		}
	}
	r.IngestCPU = mon.cpu() - cpu0
	r.StoredBytes, r.StoredObjects = walkStored(t.Dirs)
	for _, q := range benchSuite(c) {
		cq0 := mon.cpu()
		qr := runBenchQuery(ctx, o, c, t, client, q)
		qr.CPU = mon.cpu() - cq0
		r.Queries = append(r.Queries, qr)
		status := fmt.Sprintf("cold %.3fs, warm p50 %.3fs p95 %.3fs, %d results, read %s, %d GETs", qr.Cold, qr.P50, qr.P95, qr.Results, fmtBytes(float64(qr.Bytes)), qr.GETs)
		if qr.Error != "" {
			status = "error: " + qr.Error
		}
		fmt.Fprintf(progress, "query %s: %-26s %s\n", t.Name, q.Name, status)
	}
	r.PeakRSS = mon.peakRSS()
	return r, nil
}

func benchPush(ctx context.Context, o benchOptions, c *benchCorpus, t benchTarget, client *http.Client, r *targetResult, progress io.Writer) error {
	var next atomic.Int64
	var lines, failures atomic.Int64
	var firstErr error
	var mu sync.Mutex
	start := time.Now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := lines.Load()
				fmt.Fprintf(progress, "push %s: %d / %d lines (%.0f lines/s)\n", t.Name, n, c.Lines, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(c.Bodies) {
					return
				}
				// Retry 429 and 5xx a few times: a slow server must not
				// lose lines from the corpus.
				var err error
				for attempt := range 10 {
					var code int
					var msg string
					code, msg, err = benchPushOnce(ctx, client, t.URL, o.Tenant, c.Bodies[i])
					if err == nil && code/100 == 2 {
						break
					}
					if err == nil {
						err = fmt.Errorf("push: status %d: %s", code, msg)
						if code/100 == 4 && code != http.StatusTooManyRequests {
							break
						}
					}
					failures.Add(1)
					time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				lines.Add(int64(c.BodyLines[i]))
			}
		})
	}
	wg.Wait()
	close(done)
	r.PushSeconds = time.Since(start).Seconds()
	r.PushedLines = lines.Load()
	r.PushedBytes = c.RawBytes * r.PushedLines / max(1, c.Lines)
	r.PushFailures = int(failures.Load())
	fmt.Fprintf(progress, "push %s: %d lines in %.1fs (%.0f lines/s, %.1f MB/s), %d retried pushes\n", t.Name, r.PushedLines, r.PushSeconds,
		float64(r.PushedLines)/r.PushSeconds, float64(r.PushedBytes)/r.PushSeconds/1e6, r.PushFailures)
	if err := cmpOr(firstErr, ctx.Err()); err != nil {
		return err
	}
	return nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func benchPushOnce(ctx context.Context, client *http.Client, base, tid string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", push.ContentTypeProto)
	req.Header.Set("X-Scope-OrgID", tid)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, string(bytes.TrimSpace(msg)), nil
}

// benchFlush asks the target to flush (Loki's and kmlog's POST /flush) and
// waits until the stored size stops changing.
func benchFlush(ctx context.Context, o benchOptions, t benchTarget, client *http.Client, progress io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/flush", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Scope-OrgID", o.Tenant)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("flush: status %s", resp.Status)
	}
	if len(t.Dirs) == 0 {
		return nil
	}
	deadline := time.Now().Add(o.FlushWait)
	last, stable := int64(-1), 0
	for stable < 3 && time.Now().Before(deadline) {
		size, n := walkStored(t.Dirs)
		if size == last && size > 0 {
			stable++
		} else {
			stable = 0
			fmt.Fprintf(progress, "flush %s: %s in %d objects\n", t.Name, fmtBytes(float64(size)), n)
		}
		last = size
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return nil
}

// walkStored sums the sizes of the regular files under dirs, leaving out
// write-ahead logs (paths with a "wal" element).
func walkStored(dirs []string) (size int64, objects int) {
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if e.IsDir() {
				if e.Name() == "wal" {
					return filepath.SkipDir
				}
				return nil
			}
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				size += info.Size()
				objects++
			}
			return nil
		})
	}
	return size, objects
}

func runBenchQuery(ctx context.Context, o benchOptions, c *benchCorpus, t benchTarget, client *http.Client, q benchQuery) queryResult {
	qr := queryResult{Name: q.Name, Query: q.Query}
	one := func() (float64, benchAnswer, error) {
		t0 := time.Now()
		a, err := benchQueryOnce(ctx, client, t.URL, o.Tenant, q, c.End)
		return time.Since(t0).Seconds(), a, err
	}
	d, a, err := one()
	if err != nil {
		qr.Error = err.Error()
		return qr
	}
	qr.Cold, qr.Results, qr.Bytes, qr.Processed, qr.GETs, qr.GETsFrom = d, a.results, a.bytes, a.processed, a.gets, a.getsFrom
	for range o.Warm {
		d, a, err := one()
		if err != nil {
			qr.Error = err.Error()
			return qr
		}
		qr.Warm = append(qr.Warm, d)
		qr.WarmBytes = a.bytes
	}
	ws := slices.Sorted(slices.Values(qr.Warm))
	qr.P50 = ws[len(ws)/2]
	qr.P95 = ws[min(len(ws)-1, int(math.Ceil(0.95*float64(len(ws))))-1)]
	return qr
}

// benchAnswer is what one query answer reports.
type benchAnswer struct {
	results                int
	bytes, processed, gets int64
	getsFrom               string
}

// GetRequestsHeader is the response header in which kmlog's frontend
// reports the store requests a query made (Loki's stats have no field
// for it).
const getRequestsHeader = "X-Kmlog-Get-Requests"

func benchQueryOnce(ctx context.Context, client *http.Client, base, tid string, q benchQuery, end time.Time) (benchAnswer, error) {
	v := url.Values{}
	v.Set("query", q.Query)
	v.Set("start", strconv.FormatInt(end.Add(-q.Range).UnixNano(), 10))
	v.Set("end", strconv.FormatInt(end.UnixNano(), 10))
	if q.Step > 0 {
		v.Set("step", strconv.FormatFloat(q.Step.Seconds(), 'f', -1, 64))
	} else {
		v.Set("limit", strconv.Itoa(q.Limit))
		v.Set("direction", "backward")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/loki/api/v1/query_range?"+v.Encode(), nil)
	if err != nil {
		return benchAnswer{}, err
	}
	req.Header.Set("X-Scope-OrgID", tid)
	// No results cache on the first run of a query: Loki's cache is
	// keyed by query and range, kmlog's by shard; both are bypassed only
	// by Cache-Control.
	resp, err := client.Do(req)
	if err != nil {
		return benchAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return benchAnswer{}, err
	}
	if resp.StatusCode != 200 {
		return benchAnswer{}, fmt.Errorf("status %s: %s", resp.Status, bytes.TrimSpace(body[:min(len(body), 300)]))
	}
	var ans struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Values []json.RawMessage `json:"values"`
			} `json:"result"`
			Stats struct {
				Summary struct {
					TotalBytesProcessed int64 `json:"totalBytesProcessed"`
				} `json:"summary"`
				Querier struct {
					Store benchStoreStats `json:"store"`
				} `json:"querier"`
				Ingester struct {
					Store benchStoreStats `json:"store"`
				} `json:"ingester"`
			} `json:"stats"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return benchAnswer{}, fmt.Errorf("decode answer: %w", err)
	}
	a := benchAnswer{processed: ans.Data.Stats.Summary.TotalBytesProcessed}
	for _, r := range ans.Data.Result {
		if ans.Data.ResultType == "streams" {
			a.results += len(r.Values)
		} else {
			a.results++
		}
	}
	st := ans.Data.Stats
	a.bytes = st.Querier.Store.Chunk.CompressedBytes + st.Ingester.Store.Chunk.CompressedBytes
	if h := resp.Header.Get(getRequestsHeader); h != "" {
		a.gets, _ = strconv.ParseInt(h, 10, 64)
		a.getsFrom = "header"
	} else {
		a.gets = st.Querier.Store.TotalChunksDownloaded
		a.getsFrom = "chunks downloaded"
	}
	return a, nil
}

type benchStoreStats struct {
	TotalChunksDownloaded int64 `json:"totalChunksDownloaded"`
	Chunk                 struct {
		CompressedBytes int64 `json:"compressedBytes"`
	} `json:"chunk"`
}

// procMonitor follows a server's CPU seconds and peak RSS: from
// /proc/<pid> when a pid is given, else by scraping its /metrics
// (process_cpu_seconds_total, process_resident_memory_bytes) every 500 ms.
type procMonitor struct {
	t      benchTarget
	client *http.Client
	peak   atomic.Int64
	done   chan struct{}
	wg     sync.WaitGroup
}

func newProcMonitor(t benchTarget, client *http.Client) *procMonitor {
	m := &procMonitor{t: t, client: client, done: make(chan struct{})}
	m.wg.Go(func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if t.PID == 0 {
				if _, rss, ok := m.scrape(); ok {
					m.peak.Store(max(m.peak.Load(), rss))
				}
			}
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
		}
	})
	return m
}

func (m *procMonitor) stop() {
	close(m.done)
	m.wg.Wait()
}

func (m *procMonitor) source() string {
	if m.t.PID != 0 {
		return "/proc"
	}
	return "/metrics"
}

// cpu returns the server's CPU seconds so far (user and system).
func (m *procMonitor) cpu() float64 {
	if m.t.PID != 0 {
		s, _ := procCPU(m.t.PID)
		return s
	}
	s, _, _ := m.scrape()
	return s
}

// peakRSS returns the peak resident set size seen.
func (m *procMonitor) peakRSS() int64 {
	if m.t.PID != 0 {
		return procPeakRSS(m.t.PID)
	}
	return m.peak.Load()
}

func (m *procMonitor) scrape() (cpu float64, rss int64, ok bool) {
	resp, err := m.client.Get(m.t.URL + "/metrics")
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, val, ok := strings.Cut(line, " "); ok {
			switch name {
			case "process_cpu_seconds_total":
				cpu, _ = strconv.ParseFloat(val, 64)
			case "process_resident_memory_bytes":
				f, _ := strconv.ParseFloat(val, 64)
				rss = int64(f)
			}
		}
	}
	return cpu, rss, true
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU reads utime+stime of /proc/<pid>/stat in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(b)
}

func parseProcStatCPU(b []byte) (float64, error) {
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("parse /proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("parse /proc stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("parse /proc stat: bad utime or stime")
	}
	return float64(u+s) / clockTicks, nil
}

// procPeakRSS reads VmHWM of /proc/<pid>/status in bytes.
func procPeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return parseVmHWM(b)
}

func parseVmHWM(b []byte) int64 {
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// writeBenchTable prints the report as a Markdown table: one column per
// target, and the ratio of the first to the second when there are two.
func writeBenchTable(w io.Writer, rep benchReport) {
	ts := rep.Targets
	fmt.Fprintf(w, "\ncorpus: %d lines, %s raw (%.1f MB), %d streams, %s .. %s\n\n", rep.Lines, fmtBytes(float64(rep.RawBytes)), float64(rep.RawBytes)/1e6, rep.Streams,
		rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339))
	head := "| figure |"
	sep := "|---|"
	for _, t := range ts {
		head += " " + t.Target.Name + " |"
		sep += "---|"
	}
	if len(ts) >= 2 {
		head += fmt.Sprintf(" %s / %s |", ts[0].Target.Name, ts[1].Target.Name)
		sep += "---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	row := func(name string, val func(t targetResult) float64, format func(float64) string) {
		line := "| " + name + " |"
		var vs []float64
		for _, t := range ts {
			v := val(t)
			vs = append(vs, v)
			line += " " + format(v) + " |"
		}
		if len(ts) >= 2 {
			if vs[1] != 0 && !math.IsNaN(vs[0]/vs[1]) {
				line += fmt.Sprintf(" %.2f |", vs[0]/vs[1])
			} else {
				line += " – |"
			}
		}
		fmt.Fprintln(w, line)
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	mb := func(v float64) string { return fmt.Sprintf("%.1f MB", v/1e6) }
	mib := func(v float64) string { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }
	ratio := func(v float64) string { return fmt.Sprintf("%.2f×", v) }
	row("push lines/s (wall)", func(t targetResult) float64 { return float64(t.PushedLines) / t.PushSeconds }, num)
	row("push MB/s (wall)", func(t targetResult) float64 { return float64(t.PushedBytes) / t.PushSeconds / 1e6 }, func(v float64) string { return fmt.Sprintf("%.1f", v) })
	row("server CPU s, push+flush", func(t targetResult) float64 { return t.IngestCPU }, func(v float64) string { return fmt.Sprintf("%.1f", v) })
	row("lines per server CPU-second", func(t targetResult) float64 { return float64(t.PushedLines) / t.IngestCPU }, num)
	row("peak RSS", func(t targetResult) float64 { return float64(t.PeakRSS) }, mib)
	row("stored bytes", func(t targetResult) float64 { return float64(t.StoredBytes) }, mb)
	row("stored objects", func(t targetResult) float64 { return float64(t.StoredObjects) }, num)
	row("compression (raw/stored)", func(t targetResult) float64 { return float64(rep.RawBytes) / float64(t.StoredBytes) }, ratio)
	if len(ts) == 0 {
		return
	}
	// Queries: one row each; per target the cold time, the warm p50 and
	// p95, the bytes read cold (share of stored) and the GETs.
	fmt.Fprintln(w)
	head = "| query |"
	sep = "|---|"
	for _, t := range ts {
		head += " " + t.Target.Name + ": cold / warm p50 / p95 s | read (of stored) | GETs | results |"
		sep += "---|---|---|---|"
	}
	if len(ts) >= 2 {
		head += " read ratio | cold time ratio |"
		sep += "---|---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for i, q := range ts[0].Queries {
		line := "| " + strings.ReplaceAll(q.Name, "|", `\|`) + " |"
		var qs []queryResult
		for _, t := range ts {
			var r queryResult
			if i < len(t.Queries) {
				r = t.Queries[i]
			}
			qs = append(qs, r)
			if r.Error != "" {
				line += " error | | | |"
				continue
			}
			share := ""
			if t.StoredBytes > 0 {
				share = fmt.Sprintf(" (%.1f%%)", 100*float64(r.Bytes)/float64(t.StoredBytes))
			}
			line += fmt.Sprintf(" %.3f / %.3f / %.3f | %.2f MB%s | %d | %d |", r.Cold, r.P50, r.P95, float64(r.Bytes)/1e6, share, r.GETs, r.Results)
		}
		if len(ts) >= 2 {
			rat := func(a, b float64) string {
				if b == 0 {
					return "–"
				}
				return fmt.Sprintf("%.2f", a/b)
			}
			line += " " + rat(float64(qs[0].Bytes), float64(qs[1].Bytes)) + " | " + rat(qs[0].Cold, qs[1].Cold) + " |"
		}
		fmt.Fprintln(w, line)
	}
	for _, t := range ts {
		for _, q := range t.Queries {
			if q.Error != "" {
				fmt.Fprintf(w, "\n%s: %s: %s", t.Target.Name, q.Name, q.Error)
			}
		}
	}
	fmt.Fprintln(w)
}
