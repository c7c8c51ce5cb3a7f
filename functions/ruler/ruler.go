package ruler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

// Querier runs an instant LogQL query for a tenant through the same path
// as users' queries (the query frontend, its queriers and the ingesters'
// recent data). cmd/kmlog wires the frontend in.
type Querier interface {
	Query(ctx context.Context, t tenant.ID, p engine.Params) (engine.Result, error)
}

// QuerierFunc adapts a function to Querier.
type QuerierFunc func(ctx context.Context, t tenant.ID, p engine.Params) (engine.Result, error)

// Query implements Querier.
func (f QuerierFunc) Query(ctx context.Context, t tenant.ID, p engine.Params) (engine.Result, error) {
	return f(ctx, t, p)
}

// Pusher stores the samples of recording rules as log lines (see doc.go),
// through the distributor as any push. nil disables recording rules'
// output (they are still evaluated).
type Pusher interface {
	Push(ctx context.Context, t tenant.ID, req *push.Request) error
}

// Config configures the ruler, with Loki's field names where Loki has one.
type Config struct {
	// EvaluationInterval is the interval of groups that set none, and the
	// period of the all-in-one process's timer.
	EvaluationInterval time.Duration `yaml:"evaluation_interval"`
	// ResendDelay is how often a firing alert is sent again.
	ResendDelay time.Duration `yaml:"resend_delay"`
	// OutageTolerance: after a gap in a group's evaluations longer than
	// this, pending alerts start their 'for' afresh (Prometheus's
	// for_outage_tolerance).
	OutageTolerance time.Duration `yaml:"for_outage_tolerance"`
	// ExternalURL is the base of the generatorURL sent with each alert
	// (a link back to the query).
	ExternalURL string `yaml:"external_url"`
	// ExternalLabels are added to every alert that lacks them.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// Concurrency is how many groups one tick evaluates at once.
	Concurrency int `yaml:"concurrency"`
	// DefaultRules evaluates kmlog's built-in groups (DefaultGroups: the
	// LogStorm alert) for every tenant with rules and for each tenant of
	// DefaultRulesTenants.
	DefaultRules        bool     `yaml:"default_rules"`
	DefaultRulesTenants []string `yaml:"default_rules_tenants"`

	Alertmanager AlertmanagerConfig `yaml:",inline"`

	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time `yaml:"-"`
	// HTTPClient posts to Alertmanager; nil means a default client.
	HTTPClient *http.Client `yaml:"-"`
}

// DefaultConfig returns Loki's defaults.
func DefaultConfig() Config {
	return Config{
		EvaluationInterval:  time.Minute,
		ResendDelay:         time.Minute,
		OutageTolerance:     time.Hour,
		ExternalURL:         "",
		Concurrency:         16,
		DefaultRules:        true,
		DefaultRulesTenants: []string{string(tenant.Fake)},
		Alertmanager: AlertmanagerConfig{
			Timeout:     10 * time.Second,
			TenantLabel: "tenant",
		},
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.EvaluationInterval < time.Second:
		return fmt.Errorf("ruler.evaluation_interval: %s is shorter than 1s", c.EvaluationInterval)
	case c.ResendDelay <= 0:
		return errors.New("ruler.resend_delay: must be positive")
	case c.OutageTolerance <= 0:
		return errors.New("ruler.for_outage_tolerance: must be positive")
	case c.Concurrency < 1:
		return errors.New("ruler.concurrency: must be at least 1")
	case c.Alertmanager.Timeout < 0:
		return errors.New("ruler.notification_timeout: must not be negative")
	}
	for _, u := range c.Alertmanager.URLs() {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("ruler.alertmanager_url: %q is not an http(s) URL", u)
		}
	}
	if c.ExternalURL != "" {
		if _, err := url.Parse(c.ExternalURL); err != nil {
			return fmt.Errorf("ruler.external_url: %w", err)
		}
	}
	if c.Alertmanager.TenantLabel != "" && !labels.ValidName(c.Alertmanager.TenantLabel) {
		return fmt.Errorf("ruler.tenant_label: %q is not a label name", c.Alertmanager.TenantLabel)
	}
	for _, t := range c.DefaultRulesTenants {
		if _, err := tenant.Parse(t); err != nil {
			return fmt.Errorf("ruler.default_rules_tenants: %w", err)
		}
	}
	for n := range c.ExternalLabels {
		if !labels.ValidName(n) {
			return fmt.Errorf("ruler.external_labels: %q is not a label name", n)
		}
	}
	return nil
}

// resolvedRetention is how long a resolved alert is kept (and resent),
// as in Prometheus.
const resolvedRetention = 15 * time.Minute

// Ruler evaluates the rule groups of every tenant, one tick at a time,
// keeping all state in the bucket: any number of instances may run ticks
// concurrently, and a fresh instance carries on where another stopped.
// It is safe for concurrent use.
type Ruler struct {
	cfg   Config
	bkt   bucket.Bucket
	lease bucket.CreateOnly
	store *Store
	q     Querier
	push  Pusher
	notif *notifier
	log   *slog.Logger
	m     *metrics
	now   func() time.Time

	defaults []RuleGroup
}

type metrics struct {
	evals, evalFailures, groupsSkipped, missed, sent, sendErrors prometheus.Counter
	ticks                                                        prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		evals:         f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ruler_evaluations_total", Help: "Rule evaluations."}),
		evalFailures:  f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ruler_evaluation_failures_total", Help: "Rule evaluations that failed."}),
		groupsSkipped: f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ruler_groups_skipped_total", Help: "Groups a tick left alone: not due, or leased by another invocation."}),
		missed:        f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ruler_iterations_missed_total", Help: "Group evaluations skipped because ticks were missed."}),
		sent:          f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ruler_alerts_sent_total", Help: "Alerts sent to Alertmanager."}),
		sendErrors:    f.NewCounter(prometheus.CounterOpts{Name: "kmlog_ruler_notification_errors_total", Help: "Batches of alerts no Alertmanager took."}),
		ticks:         f.NewHistogram(prometheus.HistogramOpts{Name: "kmlog_ruler_tick_duration_seconds", Help: "Duration of a ruler tick.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)}),
	}
}

// New returns a Ruler. bkt must support CreateOnly (every kmlog bucket
// does): evaluation leases depend on it. push may be nil; logger and reg
// may be nil.
func New(cfg Config, bkt bucket.Bucket, q Querier, p Pusher, logger *slog.Logger, reg prometheus.Registerer) (*Ruler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if q == nil {
		panic("BUG: ruler.New without a Querier")
	}
	lease, ok := bkt.(bucket.CreateOnly)
	if !ok {
		return nil, errors.New("ruler: the bucket has no create-only put, which evaluation leases need")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	r := &Ruler{
		cfg: cfg, bkt: bkt, lease: lease, store: NewStore(bkt), q: q, push: p,
		notif: newNotifier(cfg.Alertmanager, cfg.HTTPClient),
		log:   logger.With("component", "ruler"), m: newMetrics(reg), now: cfg.Now,
		defaults: DefaultGroups(),
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Store returns the rule store.
func (r *Ruler) Store() *Store { return r.store }

// TickStats is what one tick did.
type TickStats struct {
	Tenants      int `json:"tenants"`
	Groups       int `json:"groups"`
	Evaluated    int `json:"evaluated"`     // groups evaluated by this tick
	Skipped      int `json:"skipped"`       // not due, or leased by another invocation
	Missed       int `json:"missed"`        // evaluations left out after missed ticks
	Rules        int `json:"rules"`         // rules evaluated
	Failed       int `json:"failed"`        // rules whose query failed
	AlertsSent   int `json:"alerts_sent"`   // alerts posted to Alertmanager
	Firing       int `json:"firing"`        // alerts firing after the tick
	Pending      int `json:"pending"`       // alerts pending after the tick
	SamplesSaved int `json:"samples_saved"` // recording-rule samples pushed
}

func (s *TickStats) add(o TickStats) {
	s.Evaluated += o.Evaluated
	s.Skipped += o.Skipped
	s.Missed += o.Missed
	s.Rules += o.Rules
	s.Failed += o.Failed
	s.AlertsSent += o.AlertsSent
	s.Firing += o.Firing
	s.Pending += o.Pending
	s.SamplesSaved += o.SamplesSaved
}

// maxTickAhead is how far ahead of the ruler's clock a tick's time may
// be: schedulers stamp the scheduled time, a little ahead of a slow clock.
const maxTickAhead = time.Minute

// Tick evaluates every group that is due at time at: each group at its
// interval's aligned time at or before at, once, whichever invocation gets
// its lease first. Missed ticks are not caught up: a group late by several
// intervals is evaluated once, at the newest aligned time. Errors of one
// group do not stop the others; Tick returns them joined.
func (r *Ruler) Tick(ctx context.Context, at time.Time) (TickStats, error) {
	start := r.now()
	var st TickStats
	if at.After(start.Add(maxTickAhead)) {
		// Evaluated, it would store a future time, and every real tick
		// until then would be skipped as late.
		return st, fmt.Errorf("tick at %s is ahead of the clock (%s) by more than %s", at.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339), maxTickAhead)
	}
	tenants, err := r.store.Tenants(ctx)
	if err != nil {
		return st, err
	}
	tenants = r.tickTenants(tenants)
	st.Tenants = len(tenants)
	type job struct {
		t   tenant.ID
		ref groupRef
	}
	var jobs []job
	var errs []error
	for _, t := range tenants {
		refs, err := r.store.list(ctx, t, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ref := range r.withDefaults(refs) {
			jobs = append(jobs, job{t, ref})
		}
	}
	st.Groups = len(jobs)
	var mu sync.Mutex
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		if ctx.Err() != nil {
			mu.Lock() // running groups append their errors too
			errs = append(errs, ctx.Err())
			mu.Unlock()
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			gs, err := r.tickGroup(ctx, j.t, j.ref, at)
			mu.Lock()
			defer mu.Unlock()
			st.add(gs)
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s group %s/%s: %w", j.t, j.ref.ns, j.ref.name, err))
			}
		})
	}
	wg.Wait()
	dur := r.now().Sub(start)
	r.m.ticks.Observe(dur.Seconds())
	err = errors.Join(errs...)
	r.log.Info("ruler tick", "at", at.UTC().Format(time.RFC3339), "duration", dur, "tenants", st.Tenants,
		"groups", st.Groups, "evaluated", st.Evaluated, "skipped", st.Skipped, "missed", st.Missed,
		"rules", st.Rules, "failed", st.Failed, "alerts_sent", st.AlertsSent, "firing", st.Firing,
		"pending", st.Pending, "err", err)
	return st, err
}

// tickGroup evaluates one group if it is due and this invocation wins its
// lease.
func (r *Ruler) tickGroup(ctx context.Context, t tenant.ID, ref groupRef, at time.Time) (TickStats, error) {
	var st TickStats
	g, err := r.loadRef(ctx, ref)
	if errors.Is(err, ErrGroupNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	interval := r.interval(g.RuleGroup)
	ts := at.UTC().Truncate(interval)
	// The lease: of all invocations that see this group due at ts, the
	// one whose create-only put succeeds evaluates it.
	body := []byte(at.UTC().Format(time.RFC3339Nano))
	err = r.lease.PutIfAbsent(ctx, leaseKey(t, ref.ns, ref.name, ts), bytes.NewReader(body), int64(len(body)))
	if errors.Is(err, bucket.ErrExist) {
		st.Skipped++
		r.m.groupsSkipped.Inc()
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("take lease: %w", err)
	}
	prev, _, err := loadState(ctx, r.bkt, t, ref.ns, ref.name)
	if err != nil {
		return st, err
	}
	if !prev.EvaluatedAt.IsZero() && !prev.EvaluatedAt.Before(ts) {
		// A late invocation: a later time is done already. The lease it
		// just took is of no use to anyone.
		st.Skipped++
		r.m.groupsSkipped.Inc()
		if err := r.bkt.Delete(ctx, leaseKey(t, ref.ns, ref.name, ts)); err != nil {
			r.log.Warn("delete stale lease", "tenant", t, "err", err)
		}
		return st, nil
	}
	gc := prev.EvaluatedAt.IsZero()
	if !prev.EvaluatedAt.IsZero() {
		if n := int(ts.Sub(prev.EvaluatedAt)/interval) - 1; n > 0 {
			st.Missed += n
			r.m.missed.Add(float64(n))
			gc = true
		}
	}
	next, gs := r.evalGroup(ctx, t, g, ts, interval, &prev)
	newer, err := r.newerEvaluation(ctx, t, ref, ts, interval)
	if err != nil {
		return st, err
	}
	if newer {
		// A slow tick overlapped by a later one: the later state wins,
		// and this one is dropped rather than stored over it.
		st.Skipped++
		r.m.groupsSkipped.Inc()
		return st, nil
	}
	st.add(gs)
	st.Evaluated++
	if _, err := saveState(ctx, r.bkt, t, ref.ns, ref.name, next); err != nil {
		return st, err
	}
	switch {
	case gc:
		// After a gap (or a lost state) leases of evaluations that died
		// half-way may be left: list them once and delete all before ts.
		r.deleteLeasesBefore(ctx, t, ref, ts)
	case !prev.EvaluatedAt.IsZero():
		// The previous lease is no longer needed: the state says ts is done.
		if err := r.bkt.Delete(ctx, leaseKey(t, ref.ns, ref.name, prev.EvaluatedAt)); err != nil {
			r.log.Warn("delete old lease", "tenant", t, "err", err)
		}
	}
	return st, nil
}

// newerEvaluation reports whether another invocation has started or
// finished evaluating the group at a time after ts: the lease of the next
// aligned time exists, or the stored state is of a later time. (A
// window remains between this check and the state's put; it is as
// narrow as one GET.)
func (r *Ruler) newerEvaluation(ctx context.Context, t tenant.ID, ref groupRef, ts time.Time, interval time.Duration) (bool, error) {
	_, err := r.bkt.Stat(ctx, leaseKey(t, ref.ns, ref.name, ts.Add(interval)))
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, bucket.ErrNotExist):
		return false, fmt.Errorf("check lease: %w", err)
	}
	cur, _, err := loadState(ctx, r.bkt, t, ref.ns, ref.name)
	if err != nil {
		return false, err
	}
	return cur.EvaluatedAt.After(ts), nil
}

// deleteLeasesBefore deletes a group's leases of times before ts.
func (r *Ruler) deleteLeasesBefore(ctx context.Context, t tenant.ID, ref groupRef, ts time.Time) {
	prefix := strings.TrimSuffix(leaseKey(t, ref.ns, ref.name, ts), strconv.FormatInt(ts.UnixMilli(), 10))
	var old []string
	err := r.bkt.List(ctx, prefix, func(oi bucket.ObjectInfo) error {
		ms, err := strconv.ParseInt(strings.TrimPrefix(oi.Key, prefix), 10, 64)
		if err == nil && ms < ts.UnixMilli() {
			old = append(old, oi.Key)
		}
		return nil
	})
	for _, k := range old {
		if err == nil {
			err = r.bkt.Delete(ctx, k)
		}
	}
	if err != nil {
		r.log.Warn("delete old leases", "tenant", t, "err", err)
	}
}

// loadRef reads a stored group, or returns a built-in one (no key).
func (r *Ruler) loadRef(ctx context.Context, ref groupRef) (StoredGroup, error) {
	if ref.key == "" {
		if g, ok := r.defaultGroup(ref.name); ok {
			return g, nil
		}
		return StoredGroup{}, ErrGroupNotFound
	}
	return r.store.load(ctx, ref)
}

func (r *Ruler) interval(g RuleGroup) time.Duration {
	if g.Interval > 0 {
		return time.Duration(g.Interval)
	}
	return r.cfg.EvaluationInterval
}

// evalGroup evaluates the rules of g in order at ts and sends what needs
// sending.
func (r *Ruler) evalGroup(ctx context.Context, t tenant.ID, g StoredGroup, ts time.Time, interval time.Duration, prev *groupState) (*groupState, TickStats) {
	var st TickStats
	start := r.now()
	byID := make(map[string]ruleState, len(prev.Rules))
	for _, rs := range prev.Rules {
		byID[rs.ID] = rs
	}
	outage := !prev.EvaluatedAt.IsZero() && ts.Sub(prev.EvaluatedAt) > r.cfg.OutageTolerance
	next := &groupState{EvaluatedAt: ts, Rules: make([]ruleState, len(g.Rules))}
	var out []amAlert
	for i, rule := range g.Rules {
		old, ok := byID[ruleID(rule)]
		if !ok {
			old = ruleState{ID: ruleID(rule), Health: healthUnknown}
		}
		rstart := r.now()
		var rs ruleState
		if rule.Alert != "" {
			rs = r.evalAlert(ctx, t, g.RuleGroup, rule, old, ts, outage)
		} else {
			var n int
			rs, n = r.evalRecord(ctx, t, g.RuleGroup, rule, ts)
			st.SamplesSaved += n
		}
		rs.ID, rs.LastEvaluation, rs.EvalSeconds = ruleID(rule), ts, r.now().Sub(rstart).Seconds()
		st.Rules++
		r.m.evals.Inc()
		if rs.Health == healthErr {
			st.Failed++
			r.m.evalFailures.Inc()
			r.log.Warn("rule evaluation failed", "tenant", t, "namespace", g.Namespace, "group", g.Name, "rule", rule.Name(), "err", rs.LastError)
		}
		for _, a := range rs.Alerts {
			switch a.State {
			case StateFiring:
				st.Firing++
			case StatePending:
				st.Pending++
			}
			if a.needsSending(ts, r.cfg.ResendDelay) {
				out = append(out, r.toAM(t, rule, a, ts, interval))
			}
		}
		next.Rules[i] = rs
	}
	if len(out) > 0 && r.notif.enabled() {
		if err := r.notif.send(ctx, out); err != nil {
			r.m.sendErrors.Inc()
			r.log.Error("send alerts", "tenant", t, "namespace", g.Namespace, "group", g.Name, "alerts", len(out), "err", err)
		} else {
			st.AlertsSent += len(out)
			r.m.sent.Add(float64(len(out)))
			for i := range next.Rules {
				for _, a := range next.Rules[i].Alerts {
					if a.needsSending(ts, r.cfg.ResendDelay) {
						a.LastSentAt = ts
					}
				}
			}
		}
	}
	next.EvalSeconds = r.now().Sub(start).Seconds()
	return next, st
}

// toAM converts an alert to Alertmanager's shape, as Prometheus does:
// startsAt is when it fired, endsAt when it resolved or, while firing,
// four resend periods ahead (so Alertmanager resolves it itself if the
// ruler stops).
func (r *Ruler) toAM(t tenant.ID, rule Rule, a *Alert, ts time.Time, interval time.Duration) amAlert {
	ls := maps.Clone(a.Labels)
	for n, v := range r.cfg.ExternalLabels {
		if _, ok := ls[n]; !ok {
			ls[n] = v
		}
	}
	if tl := r.cfg.Alertmanager.TenantLabel; tl != "" {
		ls[tl] = string(t)
	}
	a.ValidUntil = ts.Add(4 * max(r.cfg.ResendDelay, interval))
	out := amAlert{Labels: ls, Annotations: a.Annotations, StartsAt: a.FiredAt, EndsAt: a.ValidUntil, GeneratorURL: r.generatorURL(rule.Expr)}
	if !a.ResolvedAt.IsZero() {
		out.EndsAt = a.ResolvedAt
	}
	return out
}

// generatorURL links back to the query, in Prometheus's form.
func (r *Ruler) generatorURL(expr string) string {
	return r.cfg.ExternalURL + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
}

// vectorOf returns the samples of an instant result.
func vectorOf(v engine.Value) (engine.Vector, error) {
	switch v := v.(type) {
	case engine.Vector:
		return v, nil
	case engine.Scalar:
		return engine.Vector{{T: v.T, V: v.V}}, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("rule result is a %s, not a vector", v.Type())
}

func (r *Ruler) query(ctx context.Context, t tenant.ID, expr string, ts time.Time) (engine.Vector, error) {
	res, err := r.q.Query(ctx, t, engine.Params{Query: expr, Start: ts, End: ts, Limit: engine.DefaultLimit})
	if err != nil {
		return nil, err
	}
	return vectorOf(res.Value)
}

// evalAlert is Prometheus's AlertingRule.Eval over stored state.
func (r *Ruler) evalAlert(ctx context.Context, t tenant.ID, g RuleGroup, rule Rule, old ruleState, ts time.Time, outage bool) ruleState {
	rs := ruleState{Health: healthOK}
	vec, err := r.query(ctx, t, rule.Expr, ts)
	if err != nil {
		// The alerts stay as they were, as in Prometheus.
		rs.Health, rs.LastError, rs.Alerts = healthErr, err.Error(), old.Alerts
		return rs
	}
	active := make(map[string]*Alert, len(old.Alerts))
	for _, a := range old.Alerts {
		if outage && a.State == StatePending {
			continue // its 'for' starts afresh after an outage
		}
		active[a.key()] = a
	}
	seen := make(map[string]bool, len(vec))
	for _, s := range vec {
		sl := s.Labels.Map()
		delete(sl, "__name__")
		data := &templateData{Labels: sl, ExternalLabels: r.cfg.ExternalLabels, Value: s.V, ExternalURL: r.cfg.ExternalURL}
		ls := maps.Clone(sl)
		for n, v := range rule.Labels {
			ls[n] = expand("label "+n, v, data)
		}
		ls["alertname"] = rule.Alert
		ann := make(map[string]string, len(rule.Annotations))
		for n, v := range rule.Annotations {
			ann[n] = expand("annotation "+n, v, data)
		}
		a := &Alert{Labels: ls, Annotations: ann, State: StatePending, Value: s.V, ActiveAt: ts}
		k := a.key()
		if seen[k] {
			rs.Health, rs.LastError = healthErr, "vector contains metrics with the same labelset after applying alert labels"
			rs.Alerts = old.Alerts
			return rs
		}
		seen[k] = true
		if cur, ok := active[k]; ok && cur.State != StateInactive {
			cur.Value, cur.Annotations = s.V, ann
			continue
		}
		active[k] = a
	}
	n := 0
	for k, a := range active {
		if !seen[k] {
			switch a.State {
			case StatePending:
				delete(active, k)
				continue
			case StateInactive:
				if ts.Sub(a.ResolvedAt) > resolvedRetention {
					delete(active, k)
				}
				continue
			}
			// Firing: keep_firing_for holds it while the condition is gone.
			if rule.KeepFiringFor > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = ts
				}
				if ts.Sub(a.KeepFiringSince) < time.Duration(rule.KeepFiringFor) {
					n++
					continue
				}
			}
			a.State, a.ResolvedAt = StateInactive, ts
			continue
		}
		a.KeepFiringSince = time.Time{}
		if a.State == StatePending && ts.Sub(a.ActiveAt) >= time.Duration(rule.For) {
			a.State, a.FiredAt = StateFiring, ts
		}
		n++
	}
	if g.Limit > 0 && n > g.Limit {
		rs.Health, rs.LastError = healthErr, fmt.Sprintf("exceeded limit of %d with %d alerts", g.Limit, n)
		return rs // Prometheus drops all the rule's alerts
	}
	rs.Alerts = slices.SortedFunc(maps.Values(active), func(a, b *Alert) int {
		return labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels))
	})
	return rs
}

// RecordLabel is the stream label that names a recording rule's series.
const RecordLabel = "record"

// evalRecord evaluates a recording rule and pushes its samples as log
// lines (see doc.go).
func (r *Ruler) evalRecord(ctx context.Context, t tenant.ID, g RuleGroup, rule Rule, ts time.Time) (ruleState, int) {
	rs := ruleState{Health: healthOK}
	vec, err := r.query(ctx, t, rule.Expr, ts)
	if err != nil {
		rs.Health, rs.LastError = healthErr, err.Error()
		return rs, 0
	}
	if g.Limit > 0 && len(vec) > g.Limit {
		rs.Health, rs.LastError = healthErr, fmt.Sprintf("exceeded limit of %d with %d series", g.Limit, len(vec))
		return rs, 0
	}
	if r.push == nil || len(vec) == 0 {
		return rs, 0
	}
	req := &push.Request{Streams: make([]push.Stream, 0, len(vec))}
	for _, s := range vec {
		b := labels.NewBuilder(s.Labels).Del("__name__")
		for n, v := range rule.Labels {
			b.Set(n, v)
		}
		b.Set(RecordLabel, rule.Record)
		req.Streams = append(req.Streams, push.Stream{
			Labels:  b.Labels().String(),
			Entries: []push.Entry{{Timestamp: ts.UnixNano(), Line: "value=" + strconv.FormatFloat(s.V, 'g', -1, 64)}},
		})
	}
	if err := r.push.Push(ctx, t, req); err != nil {
		rs.Health, rs.LastError = healthErr, "push recorded samples: "+err.Error()
		return rs, 0
	}
	return rs, len(vec)
}
