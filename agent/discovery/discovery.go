// Package discovery is the agent's target manager. It receives target
// groups (label sets under a source name) from static_configs and from
// Kubernetes pod discovery, applies each job's relabel_configs as
// Promtail does, expands the resulting __path__ globs into files, and
// reports which (job, file, labels) targets appear and disappear as pods
// come and go and files are created and removed.
//
// Promtail's rules, kept here: a label set that relabelling drops, whose
// __host__ label names another host, or that has no __path__ is ignored;
// after relabelling every label starting with "__" is removed (the path
// and __path_exclude__ are kept aside); identical (path, labels) targets
// are merged; each file gets a "filename" label holding its path.
//
// The package is pure Go: agent/kube feeds it through Update, with no
// client-go types crossing.
package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/agent/relabel"
	"github.com/kubemate/kmlog/format/labels"
)

// Labels with a meaning to the target manager.
const (
	LabelPath        = "__path__"
	LabelPathExclude = "__path_exclude__"
	LabelHost        = "__host__"
	LabelAddress     = "__address__"
	// LabelFilename is added to every file's labels, as Promtail does.
	LabelFilename = "filename"
)

// Target is one file to tail.
type Target struct {
	Job    string        // the scrape config's job_name: it selects the pipeline
	Path   string        // the file, as matched by the __path__ glob
	Labels labels.Labels // the stream labels, with filename=Path
}

// Key identifies a target: the same file with other labels, or in
// another job, is another target.
func (t Target) Key() string { return t.Job + "\x00" + t.Path + "\x00" + t.Labels.String() }

// Diff is a change of the target set.
type Diff struct {
	Added, Removed []Target
}

// Empty reports whether the diff changes nothing.
func (d Diff) Empty() bool { return len(d.Added) == 0 && len(d.Removed) == 0 }

// Options are a Manager's dependencies.
type Options struct {
	// Hostname is compared with a target's __host__ label (Promtail's
	// check); empty skips the check.
	Hostname string
	// SyncPeriod is how often globs are expanded again
	// (target_config.sync_period); 0 means 10s.
	SyncPeriod time.Duration
	// Logger receives glob errors; nil discards them.
	Logger *slog.Logger
}

// pattern is one relabelled target: a glob with its final labels.
type pattern struct {
	glob, exclude string
	labels        labels.Labels
}

type job struct {
	name  string
	rules []*relabel.Rule
	// groups maps a source to its relabelled patterns.
	groups map[string][]pattern
}

// Manager tracks the targets of all jobs. It is safe for concurrent use.
type Manager struct {
	opts Options
	send func(Diff)

	mu   sync.Mutex
	jobs map[string]*job
	// files maps Target.Key to the target and the sources that yield it.
	files map[string]*fileEntry
}

type fileEntry struct {
	t       Target
	sources map[string]bool // job + "\x00" + source
}

// New returns a Manager for the validated scrape configs, with their
// static_configs already loaded (nothing is globbed until Sync or Run).
// send receives every change; calls are serialised and must not call
// back into the Manager.
func New(scrapeConfigs []config.ScrapeConfig, opts Options, send func(Diff)) *Manager {
	if opts.SyncPeriod <= 0 {
		opts.SyncPeriod = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, send: send, jobs: map[string]*job{}, files: map[string]*fileEntry{}}
	for _, sc := range scrapeConfigs {
		j := &job{name: sc.JobName, rules: sc.Relabel, groups: map[string][]pattern{}}
		m.jobs[sc.JobName] = j
		for i, st := range sc.StaticConfigs {
			base := labels.FromMap(st.Labels)
			var targets []labels.Labels
			for _, addr := range st.Targets {
				targets = append(targets, labels.NewBuilder(base).Set(LabelAddress, addr).Labels())
			}
			j.groups[StaticSource(i)] = m.relabel(j, targets)
		}
	}
	return m
}

// StaticSource names the group of a job's i-th static_configs entry.
func StaticSource(i int) string { return "static/" + strconv.Itoa(i) }

// Jobs returns the job names, sorted.
func (m *Manager) Jobs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.jobs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Update replaces the target group source of job (a pod's label sets
// from agent/kube; empty when the pod is gone), globs its paths and
// reports the change. An unknown job is an error: it is a wiring bug.
func (m *Manager) Update(jobName, source string, targets []labels.Labels) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[jobName]
	if !ok {
		return fmt.Errorf("update discovery group %s: unknown job %q", source, jobName)
	}
	if len(targets) == 0 {
		delete(j.groups, source)
	} else {
		j.groups[source] = m.relabel(j, targets)
	}
	m.syncLocked(j, source)
	return nil
}

// Sync globs every pattern again and reports what changed: new files
// matching a glob, and files that are gone.
func (m *Manager) Sync() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncLocked(nil, "")
}

// Run calls Sync at once and then every SyncPeriod until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.SyncPeriod)
	defer t.Stop()
	for {
		m.Sync()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Targets returns the current targets, sorted by key.
func (m *Manager) Targets() []Target {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Target, 0, len(m.files))
	for _, e := range m.files {
		out = append(out, e.t)
	}
	slices.SortFunc(out, func(a, b Target) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// relabel turns a group's discovered label sets into patterns.
func (m *Manager) relabel(j *job, targets []labels.Labels) []pattern {
	var out []pattern
	seen := map[string]bool{}
	for _, in := range targets {
		lm := in.Map()
		if !relabel.ProcessMap(lm, j.rules...) || len(lm) == 0 {
			continue
		}
		if h, ok := lm[LabelHost]; ok && m.opts.Hostname != "" && h != m.opts.Hostname {
			continue
		}
		glob := lm[LabelPath]
		if glob == "" {
			continue
		}
		exclude := lm[LabelPathExclude]
		for k, v := range lm {
			if strings.HasPrefix(k, "__") || v == "" {
				delete(lm, k)
			}
		}
		p := pattern{glob: glob, exclude: exclude, labels: labels.FromMap(lm)}
		key := glob + "\x00" + exclude + "\x00" + p.labels.String()
		if seen[key] {
			continue // e.g. one target per container port
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// syncLocked globs the patterns of one group (j, source), or of every
// group when j is nil, and sends the difference.
func (m *Manager) syncLocked(only *job, source string) {
	want := map[string]map[string]bool{} // target key -> refs
	targets := map[string]Target{}
	visit := func(j *job, src string) {
		for _, p := range j.groups[src] {
			paths, err := Glob(p.glob)
			if err != nil {
				m.opts.Logger.Warn("expand __path__", "job", j.name, "path", p.glob, "err", err)
				continue
			}
			for _, f := range paths {
				if p.exclude != "" {
					if ex, err := Match(p.exclude, f); err != nil || ex {
						continue
					}
				}
				if !isRegular(f) {
					continue
				}
				t := Target{Job: j.name, Path: f, Labels: labels.NewBuilder(p.labels).Set(LabelFilename, f).Labels()}
				k := t.Key()
				if want[k] == nil {
					want[k] = map[string]bool{}
				}
				want[k][j.name+"\x00"+src] = true
				targets[k] = t
			}
		}
	}
	inScope := func(r string) bool {
		if only == nil {
			return true
		}
		return r == only.name+"\x00"+source
	}
	if only == nil {
		for _, j := range m.jobs {
			for src := range j.groups {
				visit(j, src)
			}
		}
	} else {
		visit(only, source)
	}
	var d Diff
	// Drop the in-scope references that are no longer wanted.
	for k, e := range m.files {
		for r := range e.sources {
			if inScope(r) && !want[k][r] {
				delete(e.sources, r)
			}
		}
		if len(e.sources) == 0 {
			delete(m.files, k)
			d.Removed = append(d.Removed, e.t)
		}
	}
	for k, refs := range want {
		e, ok := m.files[k]
		if !ok {
			e = &fileEntry{t: targets[k], sources: map[string]bool{}}
			m.files[k] = e
			d.Added = append(d.Added, e.t)
		}
		for r := range refs {
			e.sources[r] = true
		}
	}
	if d.Empty() {
		return
	}
	byKey := func(a, b Target) int { return strings.Compare(a.Key(), b.Key()) }
	slices.SortFunc(d.Added, byKey)
	slices.SortFunc(d.Removed, byKey)
	m.send(d)
}
