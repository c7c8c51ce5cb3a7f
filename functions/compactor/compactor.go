package compactor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/manifest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// errLostRace: another compactor committed the generation first.
var errLostRace = errors.New("another compactor committed this generation first")

// Compactor merges, de-duplicates, retains and deletes. It keeps no state
// between runs but metrics; it is safe for concurrent use, and several
// compactors (processes, functions) may run at once on one bucket.
type Compactor struct {
	cfg    Config
	bkt    bucket.Bucket
	create bucket.CreateOnly
	limits Overrides
	logger *slog.Logger
	m      metrics
	holder string // names this compactor in its leases

	hook func(point string) // fault injection, tests only
	now  func() time.Time

	mu sync.Mutex // one Run at a time in this process
}

// New returns a Compactor over bkt, which must have the CreateOnly
// capability (every kmlog bucket has). limits may be nil (no retention).
func New(cfg Config, bkt bucket.Bucket, limits Overrides, logger *slog.Logger, reg prometheus.Registerer) (*Compactor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("compactor config: %w", err)
	}
	co, ok := bkt.(bucket.CreateOnly)
	if !ok {
		return nil, errors.New("compactor: the bucket has no create-only put")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if limits == nil {
		limits = func(tenant.ID) Limits { return Limits{} }
	}
	return &Compactor{
		cfg: cfg, bkt: bkt, create: co, limits: limits,
		logger: logger.With("component", "compactor"),
		m:      newMetrics(reg),
		holder: objkey.MustNewULID().String(),
		now:    time.Now,
	}, nil
}

// SetHook installs a function called at each named step of a compaction
// ("lease", "output-data", "output-index", "commit", "committed",
// "cleanup"); it may panic or block to simulate a crash there. For fault
// tests only.
func (c *Compactor) SetHook(h func(point string)) { c.hook = h }

func (c *Compactor) at(point string) {
	if c.hook != nil {
		c.hook(point)
	}
}

// Report is what one run did; the run's log line, its metrics and its
// HTTP answer carry it.
type Report struct {
	Tenants          int      `json:"tenants"`
	Days             int      `json:"days"`
	DaysCompacted    int      `json:"days_compacted"`
	Generations      int      `json:"generations"`
	DaysRetained     int      `json:"days_deleted_by_retention"`
	FilesIn          int      `json:"files_in"`
	FilesOut         int      `json:"files_out"`
	BytesIn          int64    `json:"bytes_in"`
	BytesOut         int64    `json:"bytes_out"`
	EntriesIn        int64    `json:"entries_in"`
	EntriesOut       int64    `json:"entries_out"`
	Duplicates       int64    `json:"duplicates_removed"`
	DeletedEntries   int64    `json:"entries_deleted_by_requests"`
	RetentionEntries int64    `json:"entries_deleted_by_retention"`
	ObjectsDeleted   int      `json:"objects_deleted"`
	DaysBusy         int      `json:"days_leased_elsewhere"`
	DurationSeconds  float64  `json:"duration_seconds"`
	Errors           []string `json:"errors,omitempty"`
}

func (r *Report) add(o Report) {
	r.FilesIn += o.FilesIn
	r.FilesOut += o.FilesOut
	r.BytesIn += o.BytesIn
	r.BytesOut += o.BytesOut
	r.EntriesIn += o.EntriesIn
	r.EntriesOut += o.EntriesOut
	r.Duplicates += o.Duplicates
	r.DeletedEntries += o.DeletedEntries
	r.RetentionEntries += o.RetentionEntries
}

// listed is one object of a day.
type listed struct {
	o    objkey.DayObject
	info bucket.ObjectInfo
}

// Run compacts every tenant's days once, as of now. Errors of one day
// are reported and the other days still run; the error returned joins
// them.
func (c *Compactor) Run(ctx context.Context, now time.Time) (Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	var rep Report
	err := c.run(ctx, now, &rep)
	rep.DurationSeconds = time.Since(start).Seconds()
	c.m.observe(&rep, err)
	attrs := []any{"tenants", rep.Tenants, "days", rep.Days, "days_compacted", rep.DaysCompacted,
		"generations", rep.Generations, "days_deleted_by_retention", rep.DaysRetained,
		"files_in", rep.FilesIn, "files_out", rep.FilesOut, "bytes_in", rep.BytesIn, "bytes_out", rep.BytesOut,
		"entries_in", rep.EntriesIn, "entries_out", rep.EntriesOut, "duplicates_removed", rep.Duplicates,
		"entries_deleted_by_requests", rep.DeletedEntries, "entries_deleted_by_retention", rep.RetentionEntries,
		"objects_deleted", rep.ObjectsDeleted, "days_leased_elsewhere", rep.DaysBusy, "duration_seconds", rep.DurationSeconds}
	if err != nil {
		c.logger.Error("compaction run failed", append(attrs, "err", err)...)
		return rep, err
	}
	c.logger.Info("compaction run done", attrs...)
	return rep, nil
}

func (c *Compactor) run(ctx context.Context, now time.Time, rep *Report) error {
	days := map[tenant.ID]map[objkey.Day][]listed{}
	err := c.bkt.List(ctx, "", func(oi bucket.ObjectInfo) error {
		o, err := objkey.ParseDayObject(oi.Key)
		if err != nil {
			return nil // not a day's object: caches, delete requests, leases
		}
		m := days[o.Tenant]
		if m == nil {
			m = map[objkey.Day][]listed{}
			days[o.Tenant] = m
		}
		m[o.Day] = append(m[o.Day], listed{o: o, info: oi})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list bucket: %w", err)
	}
	tenants := make([]tenant.ID, 0, len(days))
	for t := range days {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	var errs []error
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		rep.Tenants++
		if err := c.runTenant(ctx, now, t, days[t], rep); err != nil {
			errs = append(errs, err)
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	return errors.Join(errs...)
}

func (c *Compactor) runTenant(ctx context.Context, now time.Time, t tenant.ID, days map[objkey.Day][]listed, rep *Report) error {
	lim := c.limits(t)
	reqs, err := c.deleteRequests(ctx, t)
	if err != nil {
		return err
	}
	order := make([]objkey.Day, 0, len(days))
	for d := range days {
		order = append(order, d)
	}
	slices.Sort(order)
	var errs []error
	for _, d := range order {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		rep.Days++
		if err := c.runDay(ctx, now, t, d, days[d], &lim, reqs, rep); err != nil {
			errs = append(errs, fmt.Errorf("compact %s %s: %w", t, d, err))
		}
	}
	if err := c.finishDeletes(ctx, t, reqs); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dayState is one listing of a day.
type dayState struct {
	t       tenant.ID
	d       objkey.Day
	objs    []listed
	listing manifest.Listing
	newest  uint64
	newInfo bucket.ObjectInfo // the newest manifest's object
	m       *manifest.Manifest
}

func (c *Compactor) listDay(ctx context.Context, t tenant.ID, d objkey.Day) ([]listed, error) {
	var objs []listed
	err := c.bkt.List(ctx, objkey.DayPrefix(t, d), func(oi bucket.ObjectInfo) error {
		if o, err := objkey.ParseDayObject(oi.Key); err == nil {
			objs = append(objs, listed{o: o, info: oi})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list day: %w", err)
	}
	return objs, nil
}

// state reads a day's listing and its newest manifest.
func (c *Compactor) state(ctx context.Context, t tenant.ID, d objkey.Day, objs []listed) (*dayState, error) {
	st := &dayState{t: t, d: d, objs: objs}
	for _, l := range objs {
		st.listing.Add(l.o)
		if l.o.Leaf == objkey.LeafManifest && l.o.Gen >= st.newest {
			st.newest, st.newInfo = l.o.Gen, l.info
		}
	}
	if st.newest > 0 {
		b, err := bucket.ReadAll(ctx, c.bkt, st.newInfo.Key)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		if st.m, err = manifest.Decode(b); err != nil {
			return nil, fmt.Errorf("decode manifest %s: %w", st.newInfo.Key, err)
		}
	}
	return st, nil
}

func (c *Compactor) runDay(ctx context.Context, now time.Time, t tenant.ID, d objkey.Day, objs []listed, lim *Limits, reqs *tenantDeletes, rep *Report) error {
	if wholeDayExpired(lim, d, now) {
		return c.dropDay(ctx, t, d, objs, reqs, rep)
	}
	st, err := c.state(ctx, t, d, objs)
	if err != nil {
		return err
	}
	if err := c.cleanup(ctx, now, st, reqs, rep); err != nil {
		return err
	}
	if !c.needsWork(ctx, now, st, lim, reqs) {
		return nil
	}
	release, ok, err := c.acquire(ctx, t, d, now)
	if err != nil {
		return err
	}
	if !ok {
		rep.DaysBusy++
		return nil
	}
	defer release()
	c.at("lease")
	// Rounds of at most MaxFanIn files, each committing a generation.
	// The day is listed again under the lease: another compactor may have
	// merged it since the run's listing.
	for first := true; ; first = false {
		objs, err := c.listDay(ctx, t, d)
		if err != nil {
			return err
		}
		st, err := c.state(ctx, t, d, objs)
		if err != nil {
			return err
		}
		if first && !c.needsWork(ctx, now, st, lim, reqs) {
			return nil
		}
		done, err := c.round(ctx, now, st, lim, reqs, rep)
		if err != nil {
			return err
		}
		rep.Generations++
		if first {
			rep.DaysCompacted++
		}
		if done {
			return nil
		}
	}
}

// needsWork says whether a day has flushes to merge, deletes to apply or
// entries past retention.
func (c *Compactor) needsWork(ctx context.Context, now time.Time, st *dayState, lim *Limits, reqs *tenantDeletes) bool {
	live := manifest.Resolve(&st.listing, st.m)
	for _, f := range live {
		if !f.Compacted {
			return true
		}
	}
	if len(reqs.applicable(&st.listing, st.m, now, c.cfg.DeleteRequestCancelPeriod)) > 0 {
		return true
	}
	cut := minCutoff(lim, now)
	if cut <= st.d.StartNano() || len(live) == 0 {
		return false
	}
	// Some stream may hold entries past its retention: look at the
	// outputs' indexes.
	for _, f := range live {
		ix, err := c.readIndex(ctx, st.t, st.d, f)
		if err != nil {
			return true // the round reports it
		}
		for _, s := range ix.Streams {
			if p := lim.period(s.Labels); p > 0 && s.MinTime < now.Add(-p).UnixNano() {
				return true
			}
		}
	}
	return false
}
