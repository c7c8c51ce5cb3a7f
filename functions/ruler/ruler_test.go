package ruler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

const errorsExpr = `sum by (app) (count_over_time({app="trading-service", level="error"}[5m])) > 10`

const tradingGroup = `
name: trading
interval: 1m
rules:
  - alert: TradingErrors
    expr: ` + errorsExpr + `
    for: 2m
    labels:
      severity: page
      team: "{{ $labels.app }}-owners"
    annotations:
      summary: "{{ $labels.app }} logged {{ $value }} errors in 5m"
`

// Each tick runs in a fresh Ruler over the same bucket: nothing survives
// between ticks but the bucket, as on Knative or Lambda.
func TestForPendingFiringResolved(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	am := newAMRecorder(t)
	fresh := func() *Ruler {
		return newTestRuler(t, bkt, q, func(c *Config) { c.Alertmanager.URL = am.srv.URL })
	}
	tn := tenant.MustParse("tenant-financial")
	mustPut(t, fresh(), tn, "prod", tradingGroup)

	// 12:00 no errors.
	st := mustTick(t, fresh(), t0)
	if st.Evaluated != 1 || st.Pending+st.Firing != 0 {
		t.Fatalf("tick 0: %+v", st)
	}
	// 12:01 errors cross 10: pending, nothing sent.
	q.set(tn, errorsExpr, sample(12, "app", "trading-service"))
	st = mustTick(t, fresh(), t0.Add(time.Minute+7*time.Second))
	if st.Pending != 1 || st.Firing != 0 || len(am.take()) != 0 {
		t.Fatalf("tick 1: %+v", st)
	}
	as := alertsOf(t, bkt, tn, "prod", "trading")
	if len(as) != 1 || !as[0].ActiveAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("pending alert: %+v", as)
	}
	// 12:02 still pending (held 1m < 2m).
	if st = mustTick(t, fresh(), t0.Add(2*time.Minute)); st.Pending != 1 {
		t.Fatalf("tick 2: %+v", st)
	}
	// 12:03 held 2m: firing and sent.
	q.set(tn, errorsExpr, sample(15, "app", "trading-service"))
	if st = mustTick(t, fresh(), t0.Add(3*time.Minute)); st.Firing != 1 || st.AlertsSent != 1 {
		t.Fatalf("tick 3: %+v", st)
	}
	sent := am.take()
	if len(sent) != 1 {
		t.Fatalf("sent %d alerts", len(sent))
	}
	a := sent[0]
	want := map[string]string{"alertname": "TradingErrors", "app": "trading-service", "severity": "page", "team": "trading-service-owners", "tenant": "tenant-financial"}
	if fmt.Sprint(a.Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if a.Annotations["summary"] != "trading-service logged 15 errors in 5m" {
		t.Errorf("summary %q", a.Annotations["summary"])
	}
	if !a.StartsAt.Equal(t0.Add(3*time.Minute)) || !a.EndsAt.Equal(t0.Add(7*time.Minute)) {
		t.Errorf("startsAt %s endsAt %s", a.StartsAt, a.EndsAt)
	}
	if !strings.HasPrefix(a.GeneratorURL, "http://kmlog.example/graph?g0.expr=sum+by") {
		t.Errorf("generatorURL %q", a.GeneratorURL)
	}
	// 12:03:30 again (same aligned time): not evaluated twice.
	if st = mustTick(t, fresh(), t0.Add(3*time.Minute+30*time.Second)); st.Evaluated != 0 || st.Skipped != 1 {
		t.Fatalf("repeat tick: %+v", st)
	}
	// 12:04 firing, resend delay (1m) passed: sent again.
	if st = mustTick(t, fresh(), t0.Add(4*time.Minute)); st.AlertsSent != 1 {
		t.Fatalf("tick 4: %+v", st)
	}
	am.take()
	// 12:05 errors stop: resolved and sent with endsAt = resolution time.
	q.set(tn, errorsExpr)
	if st = mustTick(t, fresh(), t0.Add(5*time.Minute)); st.Firing != 0 || st.AlertsSent != 1 {
		t.Fatalf("tick 5: %+v", st)
	}
	sent = am.take()
	if len(sent) != 1 || !sent[0].EndsAt.Equal(t0.Add(5*time.Minute)) || !sent[0].StartsAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("resolution: %+v", sent)
	}
	// Resolved alerts are resent for 15 minutes, then dropped.
	mustTick(t, fresh(), t0.Add(6*time.Minute))
	if got := am.take(); len(got) != 1 || !got[0].EndsAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("resolution resent: %+v", got)
	}
	mustTick(t, fresh(), t0.Add(21*time.Minute))
	if as := alertsOf(t, bkt, tn, "prod", "trading"); len(as) != 0 {
		t.Fatalf("resolved alert kept past retention: %+v", as[0])
	}
}

func TestKeepFiringFor(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	tn := tenant.MustParse("t1")
	r := newTestRuler(t, bkt, q, nil)
	mustPut(t, r, tn, "ns", `
name: g
rules:
  - alert: Flappy
    expr: count_over_time({app="x"}[1m]) > 0
    keep_firing_for: 3m
`)
	const expr = `count_over_time({app="x"}[1m]) > 0`
	q.set(tn, expr, sample(1, "app", "x"))
	mustTick(t, r, t0)
	if as := alertsOf(t, bkt, tn, "ns", "g"); len(as) != 1 || as[0].State != StateFiring {
		t.Fatalf("for 0 fires at once: %+v", as)
	}
	q.set(tn, expr)
	for i := 1; i <= 3; i++ { // 12:01, 12:02, 12:03: kept firing (gone for 0, 1, 2 minutes)
		mustTick(t, r, t0.Add(time.Duration(i)*time.Minute))
		as := alertsOf(t, bkt, tn, "ns", "g")
		if len(as) != 1 || as[0].State != StateFiring || !as[0].KeepFiringSince.Equal(t0.Add(time.Minute)) {
			t.Fatalf("minute %d: %+v", i, as)
		}
	}
	// Back before the 3m are over: keep-firing start clears.
	q.set(tn, expr, sample(1, "app", "x"))
	mustTick(t, r, t0.Add(4*time.Minute))
	if as := alertsOf(t, bkt, tn, "ns", "g"); as[0].State != StateFiring || !as[0].KeepFiringSince.IsZero() {
		t.Fatalf("condition back: %+v", as[0])
	}
	q.set(tn, expr)
	for i := 5; i <= 7; i++ {
		mustTick(t, r, t0.Add(time.Duration(i)*time.Minute))
	}
	if as := alertsOf(t, bkt, tn, "ns", "g"); as[0].State != StateFiring {
		t.Fatalf("12:07, gone 2m: %+v", as[0])
	}
	mustTick(t, r, t0.Add(8*time.Minute))
	if as := alertsOf(t, bkt, tn, "ns", "g"); as[0].State != StateInactive || !as[0].ResolvedAt.Equal(t0.Add(8*time.Minute)) {
		t.Fatalf("12:08, gone 3m: %+v", as[0])
	}
}

func TestMissedTicks(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	am := newAMRecorder(t)
	tn := tenant.MustParse("t1")
	r := newTestRuler(t, bkt, q, func(c *Config) { c.Alertmanager.URL = am.srv.URL })
	mustPut(t, r, tn, "ns", tradingGroup)
	q.set(tn, errorsExpr, sample(50, "app", "trading-service"))
	mustTick(t, r, t0)
	mustTick(t, r, t0.Add(2*time.Minute))
	if got := am.take(); len(got) != 1 {
		t.Fatalf("fired: %d", len(got))
	}
	// 40 minutes of missed ticks: one evaluation, one send, no catch-up.
	st := mustTick(t, r, t0.Add(42*time.Minute))
	if st.Evaluated != 1 || st.Missed != 39 || st.AlertsSent != 1 || q.count(tn, errorsExpr) != 3 {
		t.Fatalf("after the gap: %+v, %d queries", st, q.count(tn, errorsExpr))
	}
	if as := alertsOf(t, bkt, tn, "ns", "g"); len(as) != 0 {
		t.Fatal("wrong group")
	}
	as := alertsOf(t, bkt, tn, "ns", "trading")
	if len(as) != 1 || as[0].State != StateFiring || !as[0].FiredAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("firing alert after the gap: %+v", as)
	}
	am.take()
	// A pending alert across a gap longer than for_outage_tolerance
	// starts its 'for' afresh.
	q.set(tn, errorsExpr, sample(50, "app", "trading-service"), sample(50, "app", "other"))
	mustTick(t, r, t0.Add(43*time.Minute))
	mustTick(t, r, t0.Add(43*time.Minute+2*time.Hour))
	for _, a := range alertsOf(t, bkt, tn, "ns", "trading") {
		if a.Labels["app"] == "other" && (a.State != StatePending || !a.ActiveAt.Equal(t0.Add(43*time.Minute+2*time.Hour))) {
			t.Fatalf("pending across an outage: %+v", a)
		}
	}
}

func TestTemplates(t *testing.T) {
	d := &templateData{Labels: map[string]string{"app": "trading", "pod": "trading-xyz"}, Value: 1234.5678, ExternalLabels: map[string]string{"cluster": "c1"}}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"{{ $labels.app }}", "trading"},
		{"{{ .Labels.pod }} {{ .Value }}", "trading-xyz 1234.5678"},
		{"{{ $value | humanize }}", "1.235k"},
		{"{{ $value }}", "1234.5678"},
		{"{{ printf \"%.0f\" $value }}", "1235"},
		{"{{ $externalLabels.cluster }}", "c1"},
		{"{{ $labels.missing }}", ""},
		{"{{ 90 | humanizeDuration }}", "1m 30s"},
		{"{{ 0.25 | humanizePercentage }}", "25%"},
		{"{{ 0.0015 | humanize }}", "1.5m"},
		{"{{ 0.25 | humanizeDuration }}", "250ms"},
		{"{{ 0.0000025 | humanizeDuration }}", "2.5us"},
		{"{{ 2048 | humanize1024 }}", "2ki"},
		{"{{ 3221225472 | humanize1024 }}", "3Gi"},
		{"{{ 2.5e9 | humanize }}", "2.5G"},
		{"{{ -1500 | humanize }}", "-1.5k"},
		{"{{ $labels.app | toUpper }}", "TRADING"},
		{`{{ if match "^trading" $labels.app }}yes{{ end }}`, "yes"},
		{`{{ reReplaceAll "-.*" "" $labels.pod }}`, "trading"},
		{`{{ reReplaceAll "(" "" $labels.pod }}`, "<error expanding template: "},
	} {
		got := expand("t", tc.in, d)
		if got != tc.want && !(strings.HasSuffix(tc.want, ": ") && strings.HasPrefix(got, tc.want)) {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTenantSeparation(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	am := newAMRecorder(t)
	r := newTestRuler(t, bkt, q, func(c *Config) { c.Alertmanager.URL = am.srv.URL })
	a, b := tenant.MustParse("a"), tenant.MustParse("b")
	mustPut(t, r, a, "prod", tradingGroup)
	mustPut(t, r, b, "prod", strings.Replace(tradingGroup, "for: 2m", "for: 0s", 1))
	q.set(a, errorsExpr, sample(11, "app", "trading-service"))
	q.set(b, errorsExpr, sample(99, "app", "trading-service"))
	mustTick(t, r, t0)
	if as := alertsOf(t, bkt, a, "prod", "trading"); len(as) != 1 || as[0].State != StatePending || as[0].Value != 11 {
		t.Fatalf("tenant a: %+v", as)
	}
	if as := alertsOf(t, bkt, b, "prod", "trading"); len(as) != 1 || as[0].State != StateFiring || as[0].Value != 99 {
		t.Fatalf("tenant b: %+v", as)
	}
	sent := am.take()
	if len(sent) != 1 || sent[0].Labels["tenant"] != "b" {
		t.Fatalf("sent %+v", sent)
	}
	// Deleting a's group leaves b's rules and state alone.
	if err := r.Store().Delete(context.Background(), a, "prod", "trading"); err != nil {
		t.Fatal(err)
	}
	if gs, _ := r.Store().Groups(context.Background(), a, ""); len(gs) != 0 {
		t.Fatal("a still has groups")
	}
	if gs, _ := r.Store().Groups(context.Background(), b, ""); len(gs) != 1 {
		t.Fatal("b lost its group")
	}
	if as := alertsOf(t, bkt, b, "prod", "trading"); len(as) != 1 {
		t.Fatal("b lost its state")
	}
}

// Concurrent invocations of the same tick (fresh Rulers over one bucket)
// evaluate each group exactly once.
func TestConcurrentTicksEvaluateOnce(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	tn := tenant.MustParse("t1")
	r := newTestRuler(t, bkt, q, nil)
	const groups = 20
	for i := range groups {
		mustPut(t, r, tn, "ns", fmt.Sprintf("name: g%d\nrules:\n  - record: r:x%d\n    expr: count_over_time({app=\"%d\"}[1m])\n", i, i, i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Go(func() {
			st, err := newTestRuler(t, bkt, q, nil).Tick(context.Background(), t0.Add(10*time.Second))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += st.Evaluated
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != groups {
		t.Fatalf("evaluated %d groups, want %d", total, groups)
	}
	for i := range groups {
		if n := q.count(tn, fmt.Sprintf(`count_over_time({app="%d"}[1m])`, i)); n != 1 {
			t.Fatalf("group %d queried %d times", i, n)
		}
	}
}

func TestAlertmanagerAuthAndURLs(t *testing.T) {
	am1, am2 := newAMRecorder(t), newAMRecorder(t)
	for _, tc := range []struct {
		client AlertmanagerClient
		want   string
	}{
		{AlertmanagerClient{BasicAuthUsername: "u", BasicAuthPassword: "p"}, "Basic dTpw"},
		{AlertmanagerClient{Credentials: "tok"}, "Bearer tok"},
	} {
		n := newNotifier(AlertmanagerConfig{URL: am1.srv.URL + ", " + am2.srv.URL + "/", Client: tc.client}, nil)
		if err := n.send(context.Background(), []amAlert{{Labels: map[string]string{"alertname": "x"}}}); err != nil {
			t.Fatal(err)
		}
		for _, am := range []*amRecorder{am1, am2} {
			am.mu.Lock()
			if len(am.auth) == 0 || am.auth[len(am.auth)-1] != tc.want {
				t.Errorf("auth %v, want %q", am.auth, tc.want)
			}
			am.mu.Unlock()
		}
	}
	// One Alertmanager down: still sent; all down: an error.
	am2.srv.Close()
	n := newNotifier(AlertmanagerConfig{URL: am1.srv.URL + "," + am2.srv.URL}, nil)
	if err := n.send(context.Background(), []amAlert{{Labels: map[string]string{"alertname": "x"}}}); err != nil {
		t.Fatal(err)
	}
	am1.status = 500
	if err := n.send(context.Background(), []amAlert{{Labels: map[string]string{"alertname": "x"}}}); err == nil {
		t.Fatal("no error with every Alertmanager failing")
	}
}

// An Alertmanager that is down does not lose the notification: the
// alert is sent at the next tick.
func TestSendRetriedNextTick(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	am := newAMRecorder(t)
	am.status = 503
	tn := tenant.MustParse("t1")
	r := newTestRuler(t, bkt, q, func(c *Config) { c.Alertmanager.URL = am.srv.URL; c.ResendDelay = time.Hour })
	mustPut(t, r, tn, "ns", strings.Replace(tradingGroup, "for: 2m", "for: 0s", 1))
	q.set(tn, errorsExpr, sample(50, "app", "trading-service"))
	if st := mustTick(t, r, t0); st.AlertsSent != 0 {
		t.Fatalf("%+v", st)
	}
	am.take()
	am.mu.Lock()
	am.status = 200
	am.mu.Unlock()
	if st := mustTick(t, r, t0.Add(time.Minute)); st.AlertsSent != 1 {
		t.Fatalf("%+v", st)
	}
	if st := mustTick(t, r, t0.Add(2*time.Minute)); st.AlertsSent != 0 {
		t.Fatalf("resent before resend_delay: %+v", st)
	}
}

func TestLimit(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	tn := tenant.MustParse("t1")
	r := newTestRuler(t, bkt, q, nil)
	mustPut(t, r, tn, "ns", "name: g\nlimit: 1\nrules:\n  - alert: A\n    expr: count_over_time({app=~\".+\"}[1m]) > 0\n")
	q.set(tn, `count_over_time({app=~".+"}[1m]) > 0`, sample(1, "app", "a"), sample(1, "app", "b"))
	st := mustTick(t, r, t0)
	if st.Failed != 1 || len(alertsOf(t, bkt, tn, "ns", "g")) != 0 {
		t.Fatalf("%+v", st)
	}
}

// The built-in LogStorm group runs for default_rules_tenants and for
// tenants with rules, and a tenant's own group of its name replaces it.
func TestDefaultRules(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	am := newAMRecorder(t)
	r := newTestRuler(t, bkt, q, func(c *Config) {
		c.DefaultRules, c.DefaultRulesTenants, c.Alertmanager.URL = true, []string{"fake"}, am.srv.URL
	})
	storm := DefaultGroups()[0].Rules[0].Expr
	fake, other := tenant.MustParse("fake"), tenant.MustParse("other")
	q.set(fake, storm, sample(5000, "namespace", "prod", "pod", "trading-xyz", "container", "app", "reason", "ratelimit_drop_stage"))
	q.set(other, storm, sample(1, "pod", "p"))
	st := mustTick(t, r, t0)
	if st.Tenants != 1 || st.Evaluated != 1 || st.AlertsSent != 1 {
		t.Fatalf("%+v", st)
	}
	a := am.take()[0]
	if a.Labels["alertname"] != "LogStorm" || a.Labels["pod"] != "trading-xyz" || a.Labels["tenant"] != "fake" ||
		a.Annotations["summary"] != "Log storm: the kmlog agent dropped 5000 lines of prod/trading-xyz in 5 minutes (ratelimit_drop_stage)" {
		t.Fatalf("storm alert %+v", a)
	}
	// A tenant with rules gets the default group too.
	mustPut(t, r, other, "ns", "name: g\nrules:\n  - record: r:x\n    expr: count_over_time({a=\"b\"}[1m])\n")
	if st := mustTick(t, r, t0.Add(time.Minute)); st.Tenants != 2 || st.Evaluated != 3 {
		t.Fatalf("%+v", st)
	}
	// Its own group named log-storms in kmlog-defaults replaces it.
	mustPut(t, r, other, DefaultNamespace, "name: log-storms\nrules:\n  - alert: Mine\n    expr: count_over_time({a=\"b\"}[1m]) > 1\n")
	before := q.count(other, storm)
	mustTick(t, r, t0.Add(2*time.Minute))
	if q.count(other, storm) != before || q.count(other, `count_over_time({a="b"}[1m]) > 1`) != 1 {
		t.Fatal("the tenant's own log-storms group did not replace the default")
	}
}

// Leases do not pile up: the steady state keeps one per group; leases
// left by evaluations that died half-way go after the next gap.
func TestLeasesRetired(t *testing.T) {
	bkt := bucket.NewMem()
	q := newScript()
	tn := tenant.MustParse("t1")
	r := newTestRuler(t, bkt, q, nil)
	mustPut(t, r, tn, "ns", tradingGroup)
	leases := func() int {
		n := 0
		_ = bkt.List(context.Background(), "t1/ruler/lease/", func(bucket.ObjectInfo) error { n++; return nil })
		return n
	}
	for i := range 5 {
		mustTick(t, r, t0.Add(time.Duration(i)*time.Minute))
	}
	if n := leases(); n != 1 {
		t.Fatalf("%d leases after 5 ticks", n)
	}
	// An invocation that took the lease for 12:10 and died.
	if err := bucket.PutBytes(context.Background(), bkt, leaseKey(tn, "ns", "trading", t0.Add(10*time.Minute)), []byte("x")); err != nil {
		t.Fatal(err)
	}
	mustTick(t, r, t0.Add(10*time.Minute)) // skipped: leased
	st := mustTick(t, r, t0.Add(12*time.Minute))
	if st.Evaluated != 1 || st.Missed == 0 {
		t.Fatalf("%+v", st)
	}
	if n := leases(); n != 1 {
		t.Fatalf("%d leases after the gap", n)
	}
	// A late invocation for a time already done leaves nothing behind.
	if st := mustTick(t, r, t0.Add(11*time.Minute)); st.Skipped != 1 {
		t.Fatalf("%+v", st)
	}
	if n := leases(); n != 1 {
		t.Fatalf("%d leases after a late invocation", n)
	}
}

// gated holds the queries of one evaluation time until released, so that
// a test can overlap two ticks.
type gated struct {
	Querier
	at      time.Time
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Query(ctx context.Context, t tenant.ID, p engine.Params) (engine.Result, error) {
	if p.Start.Equal(g.at) {
		close(g.entered)
		<-g.release
	}
	return g.Querier.Query(ctx, t, p)
}

// A slow tick overlapped by the next one (a PingSource fires every minute
// whatever the last invocation is doing) must not overwrite the newer
// tick's state with its older one: the state would go back in time, and
// what the newer tick did (alerts fired, sent) would be lost.
func TestOverlappingTicksKeepNewerState(t *testing.T) {
	bkt := bucket.NewMem()
	tn := tenant.MustParse("t1")
	q := newScript()
	q.set(tn, errorsExpr, sample(12, "app", "trading-service"))
	mustPut(t, newTestRuler(t, bkt, q, nil), tn, "ns", tradingGroup)
	mustTick(t, newTestRuler(t, bkt, q, nil), t0)

	slow := &gated{Querier: q, at: t0.Add(time.Minute), entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := newTestRuler(t, bkt, slow, nil).Tick(context.Background(), t0.Add(time.Minute))
		done <- err
	}()
	<-slow.entered
	// The next tick runs to the end while the slow one is mid-evaluation:
	// the alert (for: 2m) fires at t0+2m.
	mustTick(t, newTestRuler(t, bkt, q, nil), t0.Add(2*time.Minute))
	as := alertsOf(t, bkt, tn, "ns", "trading")
	if len(as) != 1 || as[0].State != StateFiring {
		t.Fatalf("after the newer tick: %+v, want one firing alert", as)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _, err := loadState(context.Background(), bkt, tn, "ns", "trading")
	if err != nil {
		t.Fatal(err)
	}
	if !st.EvaluatedAt.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("state evaluated at %s after the slow tick, want the newer %s", st.EvaluatedAt, t0.Add(2*time.Minute))
	}
	as = alertsOf(t, bkt, tn, "ns", "trading")
	if len(as) != 1 || as[0].State != StateFiring {
		t.Fatalf("after the slow tick: %+v, want the newer tick's firing alert", as)
	}
}

// cancelling is a Querier that cancels the tick's context on its first
// query.
type cancelling struct {
	Querier
	once   sync.Once
	cancel context.CancelFunc
}

func (c *cancelling) Query(ctx context.Context, t tenant.ID, p engine.Params) (engine.Result, error) {
	c.once.Do(c.cancel)
	return c.Querier.Query(ctx, t, p)
}

// A tick whose context ends part-way (a Lambda's deadline, a shutdown)
// stops starting groups and returns the context's error with those of the
// groups that were running (run with -race: the errors are gathered from
// several goroutines).
func TestTickCancelled(t *testing.T) {
	bkt := bucket.NewMem()
	tn := tenant.MustParse("t1")
	q := newScript()
	r := newTestRuler(t, bkt, q, func(c *Config) { c.Concurrency = 4 })
	for i := range 40 {
		mustPut(t, r, tn, "ns", fmt.Sprintf("name: g%02d\nrules:\n  - record: r:x%d\n    expr: count_over_time({app=\"%d\"}[1m])\n", i, i, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.q = &cancelling{Querier: q, cancel: cancel}
	st, err := r.Tick(ctx, t0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("tick: %v, want context.Canceled", err)
	}
	if st.Evaluated >= 40 {
		t.Fatalf("evaluated %d groups after the context ended", st.Evaluated)
	}
}

// A tick dated ahead of the clock (a bogus ce-time, a skewed scheduler)
// is refused: evaluated, it would store a future evaluation time, and
// every real tick until then would be skipped as late — alerting off.
func TestFutureTickRefused(t *testing.T) {
	bkt := bucket.NewMem()
	tn := tenant.MustParse("t1")
	q := newScript()
	q.set(tn, errorsExpr, sample(12, "app", "trading-service"))
	now := t0
	clock := func(c *Config) { c.Now = func() time.Time { return now } }
	mustPut(t, newTestRuler(t, bkt, q, clock), tn, "ns", tradingGroup)
	st, err := newTestRuler(t, bkt, q, clock).Tick(context.Background(), t0.Add(24*time.Hour))
	if err == nil || st.Evaluated != 0 {
		t.Fatalf("tick a day ahead: %+v, %v; want it refused", st, err)
	}
	// A tick at the clock's minute, and one a few seconds ahead of it
	// (schedulers stamp the scheduled time), are evaluated.
	for i, at := range []time.Time{t0, t0.Add(time.Minute)} {
		now = at.Add(-5 * time.Second)
		if st := mustTick(t, newTestRuler(t, bkt, q, clock), at); st.Evaluated != 1 {
			t.Fatalf("tick %d at %s: %+v, want the group evaluated", i, at, st)
		}
	}
}
