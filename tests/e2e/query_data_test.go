package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

// The tenants of the query tests: qTenant holds several days of loggen
// traffic, qOther a little of its own (it must never show up in qTenant's
// answers), goldenTenant a small hand-written set for the golden files.
const (
	qTenant      tenant.ID = "tenant-q"
	qOther       tenant.ID = "tenant-other"
	goldenTenant tenant.ID = "tenant-golden"
)

// dataset is what the query tests pushed, per tenant, as the engine sees
// it: the ground truth every HTTP answer is compared with.
type dataset struct {
	// Days are the UTC midnights of the days of qTenant's data, oldest
	// first; the data lies in [Days[0], Days[len-1]+24h).
	Days    []time.Time
	entries map[tenant.ID][]engine.Entry
	// Needle is a trace ID that occurs on exactly one line, in Days[2].
	Needle string
}

// add records pushed entries of t.
func (d *dataset) add(t tenant.ID, es ...engine.Entry) {
	if d.entries == nil {
		d.entries = map[tenant.ID][]engine.Entry{}
	}
	d.entries[t] = append(d.entries[t], es...)
}

// Source returns an engine source over every entry of t pushed so far.
func (d *dataset) Source(t tenant.ID) *engine.MemSource {
	return engine.NewMemSource(d.entries[t])
}

// Entries returns t's entries (do not modify them).
func (d *dataset) Entries(t tenant.ID) []engine.Entry { return d.entries[t] }

// First and End bound qTenant's days: [First, End).
func (d *dataset) First() time.Time { return d.Days[0] }
func (d *dataset) End() time.Time   { return d.Days[len(d.Days)-1].Add(24 * time.Hour) }

// engineEntry converts a generated entry.
func engineEntry(e loggen.Entry) engine.Entry {
	return engine.Entry{Labels: e.Labels, Timestamp: e.Timestamp, Line: []byte(e.Line), Metadata: e.Metadata}
}

// pastDays returns the UTC midnights of n days ending the day before
// yesterday: old enough that every shard of them is cacheable whatever
// the time of day, and young enough for the distributor's age limit.
func pastDays(n int) []time.Time {
	last := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = last.AddDate(0, 0, i-n+1)
	}
	return out
}

// dayTraffic generates one day of qTenant's traffic: lines entries at an
// even rate from 00:30 to about 20:30 UTC, with a topology (pods) of the
// day's own seed, as pods come and go.
func dayTraffic(day time.Time, seed uint64, lines int, t tenant.ID) []loggen.Entry {
	gen := loggen.New(loggen.Config{
		Seed: seed, TenantIDs: []tenant.ID{t}, Namespaces: 2, Apps: 4, PodsPerApp: 2,
		Start: day.Add(30 * time.Minute), Rate: float64(lines) / (20 * 3600),
	})
	return gen.Take(lines)
}

// pushDay pushes entries to p in requests of about 1 MiB of lines, POSTs
// /flush so that the day lands in the bucket as data files, and records
// them in d (unless d is nil).
func pushDay(t testing.TB, p *Proc, d *dataset, entries []loggen.Entry) {
	t.Helper()
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && size < 1<<20 {
			size += len(entries[n].Line)
			n++
		}
		for tid, req := range requests(entries[:n]) {
			p.MustPush(protoPush(tid, req), 204)
		}
		if d != nil {
			for _, e := range entries[:n] {
				d.add(e.Tenant, engineEntry(e))
			}
		}
		entries = entries[n:]
	}
	p.Flush()
}

// ingestDays pushes days of qTenant's traffic (and a little of qOther's)
// through p's push API, flushing after each day, and returns the dataset.
func ingestDays(t testing.TB, p *Proc, days []time.Time, linesPerDay int) *dataset {
	t.Helper()
	d := &dataset{Days: days}
	for i, day := range days {
		es := dayTraffic(day, uint64(100+i), linesPerDay, qTenant)
		if i == 2 {
			for _, e := range es {
				if id, ok := loggen.NeedleTraceID(e); ok {
					d.Needle = id
					break
				}
			}
		}
		if i == 1 {
			es = append(es, dayTraffic(day, 7, 500, qOther)...)
		}
		pushDay(t, p, d, es)
	}
	if d.Needle == "" {
		t.Fatal("no needle trace ID in the generated traffic")
	}
	return d
}

// goldenPushes is goldenTenant's hand-written data: three streams over two
// days (day 0 and day 1 of base), lines in logfmt and JSON, one entry with
// structured metadata. Timestamps are offsets from base.
func goldenPushes(base time.Time) *push.Request {
	at := func(day int, hms string) int64 {
		d, err := time.ParseDuration(hms)
		if err != nil {
			panic("BUG: bad offset " + hms)
		}
		return base.AddDate(0, 0, day).Add(d).UnixNano()
	}
	return &push.Request{Streams: []push.Stream{
		{Labels: `{app="checkout", env="prod", level="info"}`, Entries: []push.Entry{
			{Timestamp: at(0, "1h"), Line: `level=info msg="order placed" order=1001 duration=12ms`},
			{Timestamp: at(0, "2h"), Line: `level=info msg="order placed" order=1002 duration=30ms`},
			{Timestamp: at(0, "3h30m"), Line: `level=info msg="order shipped" order=1001 duration=5ms`},
			{Timestamp: at(1, "1h"), Line: `level=info msg="order placed" order=1003 duration=18ms`},
			{Timestamp: at(1, "4h"), Line: `level=info msg="order shipped" order=1002 duration=7ms`},
		}},
		{Labels: `{app="checkout", env="prod", level="error"}`, Entries: []push.Entry{
			{Timestamp: at(0, "2h30m"), Line: `level=error msg="payment failed" order=1002 duration=250ms`,
				Metadata: labels.FromStrings("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")},
			{Timestamp: at(1, "2h"), Line: `level=error msg="payment failed" order=1003 duration=900ms`},
		}},
		{Labels: `{app="nginx", env="staging", level="info"}`, Entries: []push.Entry{
			{Timestamp: at(0, "1h15m"), Line: `{"status":200,"path":"/api/cart","bytes":512}`},
			{Timestamp: at(1, "1h15m"), Line: `{"status":404,"path":"/api/missing","bytes":0}`},
			{Timestamp: at(1, "5h"), Line: `{"status":200,"path":"/api/cart","bytes":1024}`},
		}},
	}}
}

// ingestGolden pushes goldenPushes(base) to p, flushes, and records it.
func ingestGolden(t testing.TB, p *Proc, d *dataset, base time.Time) {
	t.Helper()
	req := goldenPushes(base)
	p.MustPush(protoPush(goldenTenant, req), 204)
	p.Flush()
	for _, s := range req.Streams {
		ls, err := labels.Parse(s.Labels)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.Entries {
			d.add(goldenTenant, engine.Entry{Labels: ls, Timestamp: e.Timestamp, Line: []byte(e.Line), Metadata: e.Metadata})
		}
	}
}

// streamsIn returns the distinct label sets of t's streams with entries
// in [from, through), sorted.
func (d *dataset) streamsIn(t tenant.ID, from, through time.Time, ms ...*labels.Matcher) []labels.Labels {
	seen := map[string]labels.Labels{}
	f, th := from.UnixNano(), through.UnixNano()
	for _, e := range d.entries[t] {
		if e.Timestamp >= f && e.Timestamp < th && labels.MatchLabels(e.Labels, ms...) {
			seen[e.Labels.String()] = e.Labels
		}
	}
	out := make([]labels.Labels, 0, len(seen))
	for _, ls := range seen {
		out = append(out, ls)
	}
	slices.SortFunc(out, labels.Compare)
	return out
}

// loggenRecent is n entries of qTenant's traffic from start on, at 5
// lines a second.
func loggenRecent(start time.Time, n int) []loggen.Entry {
	gen := loggen.New(loggen.Config{
		Seed: 99, TenantIDs: []tenant.ID{qTenant}, Namespaces: 2, Apps: 4, PodsPerApp: 2,
		Start: start, Rate: 5,
	})
	return gen.Take(n)
}
