package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// loadOptions are the flags of `kmlog load`.
type loadOptions struct {
	URL         string
	Tenant      string
	Token       string
	Duration    time.Duration
	Pushes      int
	BatchBytes  int
	Concurrency int
	Seed        uint64
	Rate        float64 // lines per second; 0 pushes as fast as acknowledged
}

// Bounds of the load flags: a load run is a short, bounded test.
const (
	maxLoadDuration    = time.Hour
	maxLoadBatchBytes  = 64 << 20
	maxLoadConcurrency = 256
	loadPoolBytes      = 32 << 20 // generated once, then replayed
)

func parseLoadFlags(args []string, stderr io.Writer) (loadOptions, error) {
	var o loadOptions
	fs := flag.NewFlagSet("kmlog load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kmlog load [flags]\n\nPushes generated Kubernetes logs (format/loggen) as snappy protobuf to a running kmlog and reports the rate.")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:3100", "base URL of kmlog (the push goes to <url>/loki/api/v1/push)")
	fs.StringVar(&o.Tenant, "tenant", "", "tenant sent as X-Scope-OrgID (none when empty: the server's default, or the token's tenant)")
	fs.StringVar(&o.Token, "token", "", "bearer token (JWT) for a gateway with auth enabled")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to push (at most 1h)")
	fs.IntVar(&o.Pushes, "pushes", 0, "stop after this many pushes (0: only -duration bounds the run)")
	fs.IntVar(&o.BatchBytes, "batch-bytes", 1<<20, "raw line bytes per push")
	fs.IntVar(&o.Concurrency, "concurrency", 2, "pushes in flight at once")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator seed")
	fs.Float64Var(&o.Rate, "rate", 0, "lines per second to hold (pushes are paced; 0: as fast as the server acknowledges)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("kmlog load: unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return o, fmt.Errorf("kmlog load: -url %q: want http://host:port or https://host:port", o.URL)
	case o.Duration <= 0 || o.Duration > maxLoadDuration:
		return o, fmt.Errorf("kmlog load: -duration %s: want more than 0 and at most %s", o.Duration, maxLoadDuration)
	case o.Pushes < 0:
		return o, fmt.Errorf("kmlog load: -pushes %d: must not be negative", o.Pushes)
	case o.BatchBytes < 1 || o.BatchBytes > maxLoadBatchBytes:
		return o, fmt.Errorf("kmlog load: -batch-bytes %d: want 1 to %d", o.BatchBytes, maxLoadBatchBytes)
	case o.Rate < 0:
		return o, fmt.Errorf("kmlog load: -rate %g: must not be negative", o.Rate)
	case o.Concurrency < 1 || o.Concurrency > maxLoadConcurrency:
		return o, fmt.Errorf("kmlog load: -concurrency %d: want 1 to %d", o.Concurrency, maxLoadConcurrency)
	}
	if o.Tenant != "" {
		if _, err := tenant.Parse(o.Tenant); err != nil {
			return o, fmt.Errorf("kmlog load: -tenant: %w", err)
		}
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	return o, nil
}

// loadPool is pre-generated traffic. Push n sends batch n%len(batches)
// with its timestamps moved by (n/len(batches))*span, so that replaying
// the pool never repeats an entry (which the ingester would drop as a
// duplicate) and time keeps moving forward.
type loadPool struct {
	batches []*push.Request
	lines   []int   // entries per batch
	bytes   []int64 // raw line bytes per batch
	span    int64   // ns from the pool's first to past its last entry
}

func newLoadPool(o loadOptions, now time.Time) *loadPool {
	tid := tenant.Fake
	if o.Tenant != "" {
		tid = tenant.ID(o.Tenant)
	}
	n := max(2*o.Concurrency, int((loadPoolBytes+int64(o.BatchBytes)-1)/int64(o.BatchBytes)))
	n = min(n, max(2*o.Concurrency, 4096))
	if o.Pushes > 0 {
		n = min(n, o.Pushes)
	}
	// Replayed timestamps advance by one generated second per million
	// lines pushed, so below a million lines per second they fall behind
	// the clock, never ahead: starting a minute back, they stay valid.
	gen := loggen.New(loggen.Config{Seed: o.Seed, TenantIDs: []tenant.ID{tid}, Start: now.Add(-time.Minute), Rate: 1_000_000})
	p := &loadPool{}
	var first, last int64
	for i := range n {
		entries := gen.TakeBytes(int64(o.BatchBytes))
		if i == 0 {
			first = entries[0].Timestamp
		}
		last = entries[len(entries)-1].Timestamp
		req := &push.Request{}
		pos := map[string]int{}
		var raw int64
		for _, e := range entries {
			key := e.Labels.String()
			j, ok := pos[key]
			if !ok {
				j = len(req.Streams)
				pos[key] = j
				req.Streams = append(req.Streams, push.Stream{Labels: key})
			}
			req.Streams[j].Entries = append(req.Streams[j].Entries, push.Entry{Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata})
			raw += int64(len(e.Line))
		}
		p.batches = append(p.batches, req)
		p.lines = append(p.lines, len(entries))
		p.bytes = append(p.bytes, raw)
	}
	p.span = last - first + int64(time.Millisecond)
	return p
}

// body encodes push n into scratch (reused by one worker).
func (p *loadPool) body(n int, scratch *push.Request) []byte {
	src := p.batches[n%len(p.batches)]
	shift := int64(n/len(p.batches)) * p.span
	if shift == 0 {
		return push.EncodeProto(src)
	}
	scratch.Streams = scratch.Streams[:0]
	for _, s := range src.Streams {
		es := make([]push.Entry, len(s.Entries))
		for i, e := range s.Entries {
			e.Timestamp += shift
			es[i] = e
		}
		scratch.Streams = append(scratch.Streams, push.Stream{Labels: s.Labels, Entries: es})
	}
	return push.EncodeProto(scratch)
}

// loadResult is what a load run measured.
type loadResult struct {
	Elapsed   time.Duration
	OK        int
	Failed    map[string]int // by status code ("429") or "transport"
	Lines     int64          // entries of acknowledged pushes
	Bytes     int64          // raw line bytes of acknowledged pushes
	Latencies []time.Duration
}

func (r loadResult) percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(len(r.Latencies)-1, int(q*float64(len(r.Latencies))))]
}

// runLoad is `kmlog load`: it pushes generated logs at a running kmlog.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseLoadFlags(args, stderr)
	if err != nil {
		return err
	}
	genStart := time.Now()
	pool := newLoadPool(o, genStart)
	var poolBytes int64
	for _, b := range pool.bytes {
		poolBytes += b
	}
	fmt.Fprintf(stdout, "kmlog load: %s to %s/loki/api/v1/push, %d in flight, %s batches; generated %d batches (%s) in %s\n",
		o.Duration, o.URL, o.Concurrency, fmtBytes(float64(o.BatchBytes)), len(pool.batches), fmtBytes(float64(poolBytes)), time.Since(genStart).Round(time.Millisecond))
	res := load(ctx, o, pool, &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: o.Concurrency,
		ForceAttemptHTTP2:   true,
	}})
	secs := res.Elapsed.Seconds()
	failed := 0
	for _, n := range res.Failed {
		failed += n
	}
	fmt.Fprintf(stdout, "pushes:   %d ok, %d failed in %s\n", res.OK, failed, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "lines:    %d (%.0f lines/s)\n", res.Lines, float64(res.Lines)/secs)
	fmt.Fprintf(stdout, "raw:      %s (%.1f MB/s of line bytes)\n", fmtBytes(float64(res.Bytes)), float64(res.Bytes)/secs/1e6)
	fmt.Fprintf(stdout, "latency:  p50 %s, p99 %s\n", res.percentile(0.50).Round(time.Microsecond), res.percentile(0.99).Round(time.Microsecond))
	if failed > 0 {
		keys := make([]string, 0, len(res.Failed))
		for k := range res.Failed {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var sb strings.Builder
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%s: %d", k, res.Failed[k])
		}
		fmt.Fprintf(stdout, "errors:   %s\n", sb.String())
	}
	if res.OK == 0 {
		return errors.New("kmlog load: no push succeeded")
	}
	return nil
}

// load pushes until o.Duration has passed, o.Pushes were sent, or ctx ends.
func load(ctx context.Context, o loadOptions, pool *loadPool, client *http.Client) loadResult {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{Failed: map[string]int{}}
	start := time.Now()
	// With -rate, push n starts no earlier than the time its first line
	// is due at that rate (the pool's mean batch size).
	var perPush time.Duration
	if o.Rate > 0 {
		var lines int
		for _, n := range pool.lines {
			lines += n
		}
		perPush = time.Duration(float64(lines) / float64(len(pool.lines)) / o.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			var scratch push.Request
			var lat []time.Duration
			var ok int
			var lines, raw int64
			failed := map[string]int{}
			for ctx.Err() == nil {
				n := int(next.Add(1) - 1)
				if o.Pushes > 0 && n >= o.Pushes {
					break
				}
				if perPush > 0 {
					if wait := time.Until(start.Add(time.Duration(n) * perPush)); wait > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(wait):
						}
						if ctx.Err() != nil {
							break
						}
					}
				}
				body := pool.body(n, &scratch)
				t0 := time.Now()
				code, err := pushOnce(ctx, client, o, body)
				d := time.Since(t0)
				switch {
				case err != nil && ctx.Err() != nil:
					// Cut off by the end of the run: not a failure.
				case err != nil:
					failed["transport"]++
				case code/100 == 2:
					ok++
					lines += int64(pool.lines[n%len(pool.batches)])
					raw += pool.bytes[n%len(pool.batches)]
					lat = append(lat, d)
				default:
					failed[fmt.Sprint(code)]++
					lat = append(lat, d)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.OK += ok
			res.Lines += lines
			res.Bytes += raw
			res.Latencies = append(res.Latencies, lat...)
			for k, v := range failed {
				res.Failed[k] += v
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

func pushOnce(ctx context.Context, client *http.Client, o loadOptions, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL+"/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", push.ContentTypeProto)
	if o.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", o.Tenant)
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
