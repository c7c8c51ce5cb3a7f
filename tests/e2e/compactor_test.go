package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

// liveDay reads a day as a querier resolves it (format/manifest), checks
// each live index against its data file, and returns the entries of the
// live files and their number.
func liveDay(t testing.TB, b bucket.Bucket, tid tenant.ID, d objkey.Day) (map[Rec]int, int) {
	t.Helper()
	ctx := context.Background()
	var l manifest.Listing
	var newest string
	var gen uint64
	if err := b.List(ctx, objkey.IndexPrefix(tid, d), func(oi bucket.ObjectInfo) error {
		if o, err := objkey.ParseDayObject(oi.Key); err == nil {
			l.Add(o)
			if o.Leaf == objkey.LeafManifest && o.Gen > gen {
				gen, newest = o.Gen, oi.Key
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var m *manifest.Manifest
	if gen > 0 {
		raw, err := bucket.ReadAll(ctx, b, newest)
		if err != nil {
			t.Fatal(err)
		}
		if m, err = manifest.Decode(raw); err != nil {
			t.Fatal(err)
		}
	}
	recs := map[Rec]int{}
	files := manifest.Resolve(&l, m)
	for _, f := range files {
		raw, err := bucket.ReadAll(ctx, b, f.IndexKey(tid, d))
		if err != nil {
			t.Fatal(err)
		}
		ix, err := index.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		ra := bucket.NewReaderAt(ctx, b, objkey.Data(tid, d, f.ID), ix.DataSize)
		if err := index.Check(ctx, ix, ra, ix.DataSize); err != nil {
			t.Errorf("index.Check %s: %v", f.IndexKey(tid, d), err)
		}
		rd, err := datafile.Open(ctx, ra, ix.DataSize, datafile.OpenOptions{Tail: ix.Tail})
		if err != nil {
			t.Fatal(err)
		}
		for e, err := range rd.Read(ctx, datafile.Selection{Columns: datafile.ColLine}) {
			if err != nil {
				t.Fatal(err)
			}
			recs[Rec{Tenant: tid, Stream: rd.Streams()[e.Stream].String(), TS: e.Timestamp, Line: string(e.Line)}]++
		}
	}
	return recs, len(files)
}

// runCompaction POSTs /compactor/run and returns the report.
func runCompaction(t testing.TB, p *Proc) map[string]any {
	t.Helper()
	resp, err := p.Client.Post(p.URL("/compactor/run"), "", nil)
	if err != nil {
		t.Fatalf("compactor run: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var rep map[string]any
	if err := json.Unmarshal(body, &rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("compactor run: %s %s %v", resp.Status, body, err)
	}
	return rep
}

// TestCompactor ingests two days through a gateway and three ingesters
// (replication factor 3) into MinIO, then compacts them with a
// -target=compactor process: each day becomes one file holding each
// entry once, queries answer as the engine over the pushed entries before
// and after (index/stats and volume exactly), queries run in a loop
// during compaction without failing, a compactor killed with SIGKILL
// mid-way is finished by the next run, and a delete request and
// retention work over HTTP.
func TestCompactor(t *testing.T) {
	srv := miniotest.StartShared(t)
	bkt, storage := minioBucket(t, srv, t.Name())
	ings := make([]*Proc, 3)
	members := make([]string, 3)
	for i := range ings {
		ings[i] = NewProc(t, fmt.Sprintf("ingester-%d", i))
		members[i] = ings[i].Addr
	}
	lim := queryLimits(false)
	ingCfg := cfgOf(storage, Config{"target": "ingester", "ring": Config{"members": members}, "limits_config": lim,
		"ingester": Config{"flush_size": 256 << 10, "flush_check_period": "200ms"}})
	for _, ing := range ings {
		ing.Start(ingCfg)
	}
	gw := NewProc(t, "gateway")
	gw.Start(Config{"target": "gateway", "ring": Config{"members": members},
		"distributor": Config{"replication_factor": 3}, "limits_config": lim})
	// Queries: an all-in-one process on the same bucket (its own ingester
	// holds nothing) without a results cache, and no compaction timer.
	q := NewProc(t, "query")
	q.Start(cfgOf(allInOneQueryConfig(storage, false), Config{"compactor": Config{"compaction_interval": "0s"}}))
	compCfg := cfgOf(storage, Config{"target": "compactor", "limits_config": lim, "compactor": Config{
		"compaction_interval": "0s", "grace_period": "1s", "lease_ttl": "3s", "orphan_age": "1m",
		"delete_request_cancel_period": "0s", "target_file_bytes": 64 << 20}})

	// The query cases span five days; entries land on the third and fourth.
	d := &dataset{Days: pastDays(5)}
	days := d.Days[2:4]
	for i, day := range days {
		entries := dayTraffic(day, uint64(300+i), 6000, qTenant)
		for _, e := range entries {
			if id, ok := loggen.NeedleTraceID(e); ok && d.Needle == "" {
				d.Needle = id
			}
		}
		for len(entries) > 0 {
			n := min(len(entries), 1000)
			for tid, req := range requests(entries[:n]) {
				gw.MustPush(protoPush(tid, req), 204)
			}
			for _, e := range entries[:n] {
				d.add(e.Tenant, engineEntry(e))
			}
			entries = entries[n:]
		}
	}
	for _, ing := range ings {
		ing.Flush()
	}
	c := newLokiClient(q.URL(""))
	src := d.Source(qTenant)
	cases := queryCases(d, d.End())
	check := func(what string) {
		t.Helper()
		for _, qc := range cases {
			if qc.Query != "" {
				c.checkQuery(t, qTenant, src, qc)
			}
		}
		if t.Failed() {
			t.Fatalf("queries differ %s", what)
		}
	}
	check("before compaction")
	want := map[Rec]bool{}
	for _, e := range d.Entries(qTenant) {
		want[Rec{Tenant: qTenant, Stream: e.Labels.String(), TS: e.Timestamp, Line: string(e.Line)}] = true
	}
	var flushes int
	for _, day := range days {
		_, n := liveDay(t, bkt, qTenant, objkey.DayOfTime(day))
		flushes += n
	}
	t.Logf("%d entries on 2 days in %d flush files", len(want), flushes)

	// A compactor killed with SIGKILL just before its commit: queries
	// answer as before; the next run (after the lease expires) finishes.
	comp := NewProc(t, "compactor")
	comp.Env = []string{"KMLOG_COMPACTOR_FAULT_PAUSE_AT=commit"}
	comp.Start(compCfg)
	go func() { _, _ = comp.Client.Post(comp.URL("/compactor/run"), "", nil) }()
	waitFor(t, "the compactor to pause before its commit", 2*time.Minute, func() bool {
		return strings.Contains(comp.LogTail(64<<10), "compactor paused for a fault test")
	})
	comp.Kill()
	check("after a compactor was killed before its commit")
	time.Sleep(3 * time.Second) // the killed compactor's lease expires

	// Compaction while queries run in a loop.
	comp.Env = nil
	comp.Start(nil)
	var stop atomic.Bool
	var ran atomic.Int64
	var wg sync.WaitGroup
	loop := []qcase{cases[0], cases[len(cases)-1]}
	wg.Go(func() {
		for !stop.Load() {
			for _, qc := range loop {
				path, form, _ := qc.params()
				code, body := c.get(t, qTenant, path, form)
				if code != 200 {
					t.Errorf("query during compaction: %d %s", code, body)
					return
				}
				ran.Add(1)
			}
		}
	})
	rep := runCompaction(t, comp)
	time.Sleep(1500 * time.Millisecond) // past the grace period
	rep2 := runCompaction(t, comp)      // retires the inputs
	stop.Store(true)
	wg.Wait()
	t.Logf("report %v; then %v; %d queries during compaction", rep, rep2, ran.Load())
	if rep["duplicates_removed"].(float64) < float64(len(want)) || rep["files_out"].(float64) != 2 {
		t.Errorf("report %v: want 2 files out and at least %d duplicates removed", rep, len(want))
	}
	for _, day := range days {
		recs, files := liveDay(t, bkt, qTenant, objkey.DayOfTime(day))
		if files != 1 {
			t.Errorf("%s: %d live files after compaction, want 1", day.Format(time.DateOnly), files)
		}
		for r, n := range recs {
			if n != 1 || !want[r] {
				t.Fatalf("%s: entry stored %d times (pushed: %v): %s", day.Format(time.DateOnly), n, want[r], r)
			}
		}
		if wantN := countDay(want, day); len(recs) != wantN {
			t.Errorf("%s: %d entries after compaction, want %d", day.Format(time.DateOnly), len(recs), wantN)
		}
	}
	check("after compaction")
	// index/stats, index/volume and the other meta answers count each
	// entry once now.
	c.checkMeta(t, d, qTenant, d.Days[1], d.Days[3])
	c.checkMeta(t, d, qTenant, d.First(), d.End())
	if t.Failed() {
		t.FailNow()
	}

	// A delete request over HTTP: hidden at once, removed by compaction.
	sel := `{namespace="prod"} |= "error"`
	var gone int
	var rest []engine.Entry
	for _, e := range d.Entries(qTenant) {
		if e.Labels.Get("namespace") == "prod" && strings.Contains(string(e.Line), "error") {
			gone++
		} else {
			rest = append(rest, e)
		}
	}
	if gone == 0 {
		t.Fatal("no entry matches the delete request")
	}
	form := url.Values{"query": {sel}, "start": {fmt.Sprint(days[0].Unix())}, "end": {fmt.Sprint(d.End().Unix() - 1)}}
	req, _ := http.NewRequest(http.MethodPost, q.URL("/loki/api/v1/delete?"+form.Encode()), nil)
	req.Header.Set("X-Scope-OrgID", string(qTenant))
	resp, err := q.Client.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp.Body.Close()
	afterDelete := engine.NewMemSource(rest)
	for _, qc := range cases[:3] {
		c.checkQuery(t, qTenant, afterDelete, qc)
	}
	rep = runCompaction(t, comp)
	if rep["entries_deleted_by_requests"].(float64) != float64(gone) {
		t.Errorf("report %v: want %d entries deleted", rep, gone)
	}
	for _, qc := range cases[:3] {
		c.checkQuery(t, qTenant, afterDelete, qc)
	}

	// Retention: a period of one day deletes both (past) days whole.
	comp.Stop()
	compCfg["limits_config"].(Config)["retention_period"] = "1d"
	comp.Start(compCfg)
	rep = runCompaction(t, comp)
	// (The delete request's range ends on the fifth day, which holds its
	// marker: a third day.)
	if rep["days_deleted_by_retention"].(float64) < 2 {
		t.Errorf("report %v: want the 2 days deleted by retention", rep)
	}
	for _, day := range days {
		if recs, _ := liveDay(t, bkt, qTenant, objkey.DayOfTime(day)); len(recs) != 0 {
			t.Errorf("%s: %d entries left past retention", day.Format(time.DateOnly), len(recs))
		}
	}
}

func countDay(want map[Rec]bool, day time.Time) int {
	n := 0
	for r := range want {
		if objkey.DayOf(r.TS) == objkey.DayOfTime(day) {
			n++
		}
	}
	return n
}
