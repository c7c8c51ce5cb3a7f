package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// faultFull runs TestFaults at full size (`make test-fault`): a 60 s
// MinIO outage and longer load phases. Without it the suite runs reduced
// under `make test`.
var faultFull = flag.Bool("fault.full", false, "run the fault suite at full size")

// quietClient pushes a few lines for one tenant at a steady, low rate and
// records each push's latency and outcome, per scenario.
type quietClient struct {
	p   *Proc
	tid tenant.ID

	mu    sync.Mutex
	lat   []time.Duration
	fails int
	acked []Rec
	seq   int
}

func (q *quietClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		q.mu.Lock()
		q.seq++
		n := q.seq
		q.mu.Unlock()
		req := &push.Request{Streams: []push.Stream{{Labels: `{app="quiet"}`}}}
		now := time.Now()
		for i := range 5 {
			req.Streams[0].Entries = append(req.Streams[0].Entries, push.Entry{Timestamp: now.Add(time.Duration(i)).UnixNano(), Line: fmt.Sprintf("quiet %d/%d", n, i)})
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		start := time.Now()
		code, _, err := q.p.Do(rctx, protoPush(q.tid, req))
		d := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return
		}
		q.mu.Lock()
		q.lat = append(q.lat, d)
		if err != nil || code != http.StatusNoContent {
			q.fails++
		} else {
			q.acked = append(q.acked, recsOf(q.tid, req)...)
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// take returns and resets what was recorded since the last take.
func (q *quietClient) take() (lat []time.Duration, fails int, acked []Rec) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lat, fails, acked = q.lat, q.fails, q.acked
	q.lat, q.fails, q.acked = nil, 0, nil
	return
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

// faultRow is one line of the figures table.
type faultRow struct {
	scenario                 string
	acked, lost, dup, failed int
	recovery                 time.Duration
	quietP99                 time.Duration
	quietOK, quietN          int
}

// TestFaults runs a cluster (MinIO, three ingesters, a gateway, RF 3) under
// steady load from a loud tenant and a quiet one, and injects one fault per
// scenario: kill -9 an ingester (down for the phase), kill and restart one,
// stop MinIO, restart the gateway, and a tenant pushing far above its rate
// limit. After each, every ingester flushes and the bucket must hold every
// acknowledged line (at least once, at most once per replica: the querier
// drops replica copies), and the quiet tenant's pushes must succeed with a
// latency close to its baseline. A figures table is printed at the end.
//
// Not covered here yet: an ingester's disk filling (unit-tested with an
// injected ENOSPC in ingestgw/ingester TestWALDiskFull), cutting the
// agent's network (TestAgentShipsThroughFaults' fault proxy), killing the
// compactor mid-run (TestCompactor*), and checking through query results
// rather than the bucket.
func TestFaults(t *testing.T) {
	srv := miniotest.Start(t) // the suite stops MinIO: a server of its own
	bkt, storage := minioBucket(t, srv, t.Name())
	phase, outage := time.Second, 3*time.Second
	if *faultFull {
		phase, outage = 20*time.Second, 60*time.Second
	}

	ings := make([]*Proc, 3)
	members := make([]string, 3)
	for i := range ings {
		ings[i] = NewProc(t, fmt.Sprintf("ingester-%d", i))
		members[i] = ings[i].Addr
	}
	ingCfg := merge(storage, Config{
		"target": "ingester",
		"ring":   Config{"members": members},
		"ingester": Config{
			"flush_size": 256 << 10, "flush_check_period": "200ms",
			"retry_min": "100ms", "retry_max": "2s",
		},
	})
	for _, ing := range ings {
		ing.Start(ingCfg)
	}
	gw := NewProc(t, "gateway")
	gwCfg := Config{
		"target":        "gateway",
		"ring":          Config{"members": members},
		"distributor":   Config{"replication_factor": 3},
		"limits_config": Config{"ingestion_rate_mb": 0},
	}
	gw.Start(gwCfg)

	quiet := &quietClient{p: gw, tid: "tenant-quiet"}
	qctx, qstop := context.WithCancel(context.Background())
	qdone := make(chan struct{})
	go func() { defer close(qdone); quiet.run(qctx) }()
	defer func() { qstop(); <-qdone }()

	var rows []faultRow
	var allAcked []Rec
	seed := uint64(100)
	// scenario runs fault (which returns when the fault is over) under
	// load, then measures recovery and checks the bucket.
	scenario := func(name string, fault func(ps *pusher)) {
		t.Helper()
		seed++
		// One loud tenant per scenario, so that each check reads only its
		// own objects (and the quiet tenant's, which stay small).
		loud := tenant.ID(fmt.Sprintf("tenant-loud-%d", seed))
		ps := startPusher(gw, generator(seed, []tenant.ID{loud}, 2000), 200)
		ps.waitPushes(t, 5)
		// The quiet tenant's figures start with the scenario (a gateway
		// reconfigured between scenarios is not part of the next one); its
		// acknowledged lines are still checked.
		_, _, before := quiet.take()
		allAcked = append(allAcked, before...)
		fault(ps)
		restored := time.Now()
		ps.waitPushes(t, 1)
		recovery := time.Since(restored)
		ps.waitPushes(t, 10)
		acked, _ := ps.stop()
		lat, qfails, qacked := quiet.take()
		acked = append(acked, qacked...)
		allAcked = append(allAcked, acked...)
		failed := 0
		for code, n := range ps.codes {
			if code != http.StatusTooManyRequests {
				failed += n
			}
		}
		if len(ps.codes) > 0 {
			t.Logf("%s: loud-tenant pushes not answered 204, by status (0: transport error): %v", name, ps.codes)
		}
		for _, ing := range ings {
			ing.Flush()
		}
		copies := map[Rec]int{}
		for _, prefix := range []string{objkey.TenantPrefix(loud), objkey.TenantPrefix(quiet.tid)} {
			for _, r := range readStoredOrphans(t, bkt, prefix).Recs {
				copies[r]++
			}
		}
		lost, dup := 0, 0
		for _, r := range acked {
			switch n := copies[r]; {
			case n == 0:
				if lost++; lost <= 3 {
					t.Errorf("%s: acknowledged entry lost: %s", name, r)
				}
			case n > 3:
				dup++
			}
		}
		rows = append(rows, faultRow{name, len(acked), lost, dup, failed, recovery, p99(lat), len(lat) - qfails, len(lat)})
		// While the gateway itself restarts no push can succeed; the quiet
		// tenant's client retries, as the agent does.
		if q := p99(lat); q > 5*time.Second {
			t.Errorf("%s: the quiet tenant's p99 push latency is %s", name, q)
		}
		if qfails > 0 && !strings.HasPrefix(name, "gateway") {
			t.Errorf("%s: %d of %d quiet-tenant pushes failed", name, qfails, len(lat))
		}
	}

	scenario("baseline (no fault)", func(ps *pusher) { time.Sleep(phase) })
	scenario("kill -9 ingester-2 (stays down)", func(ps *pusher) {
		ings[2].Kill()
		time.Sleep(phase)
		ings[2].Start(nil) // back before the check, so that it can flush its WAL
	})
	scenario("kill -9 and restart ingester-1", func(ps *pusher) {
		ings[1].Kill()
		ings[1].Start(nil)
		time.Sleep(phase)
	})
	scenario(fmt.Sprintf("MinIO stopped %s", outage), func(ps *pusher) {
		srv.Stop()
		time.Sleep(outage)
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
	})
	scenario("gateway restart (SIGTERM)", func(ps *pusher) {
		gw.Stop()
		gw.Start(nil)
		time.Sleep(phase)
	})
	// A loud tenant far above a 200 KB/s limit (its one client pushes back
	// to back, megabytes a second), the quiet one (a few KB/s) well below it.
	gw.Stop()
	gw.Start(merge(gwCfg, Config{"limits_config": Config{"ingestion_rate_mb": 0.2, "ingestion_burst_size_mb": 0.2}}))
	scenario("tenant far above its rate limit", func(ps *pusher) {
		limited := func() int {
			ps.mu.Lock()
			defer ps.mu.Unlock()
			return ps.codes[http.StatusTooManyRequests]
		}
		// The phase starts once the limit bites: on a slow machine the
		// client needs a while to push faster than the limit.
		for deadline := time.Now().Add(time.Minute); limited() == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if limited() == 0 {
			t.Errorf("the loud tenant was never limited in a minute: the scenario proves nothing")
		}
		time.Sleep(phase)
	})

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-34s %9s %5s %10s %7s %9s %10s %9s\n", "scenario", "acked", "lost", "duplicated", "failed", "recovery", "quiet p99", "quiet ok")
	base := rows[0].quietP99
	for _, r := range rows {
		fmt.Fprintf(&b, "%-34s %9d %5d %10d %7d %9s %10s %4d/%-4d\n", r.scenario, r.acked, r.lost, r.dup, r.failed,
			r.recovery.Round(time.Millisecond), r.quietP99.Round(time.Millisecond), r.quietOK, r.quietN)
	}
	fmt.Fprintf(&b, "(lines: entries acknowledged to clients in the scenario, loud and quiet tenants; lost: acknowledged, in no replica's data file; duplicated: stored more than once per replica; failed: loud-tenant pushes answered neither 204 nor 429; recovery: from the fault's end to the next acknowledged push; quiet baseline p99 %s)\n", base.Round(time.Millisecond))
	t.Log(b.String())
	fmt.Println(b.String())
}
