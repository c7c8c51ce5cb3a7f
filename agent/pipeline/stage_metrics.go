package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/labels"
)

// metrics defines counters, gauges and histograms updated from extracted
// values, with Promtail's configuration: per metric name, type, description,
// source (default the name), prefix (default promtail_custom_),
// max_idle_duration (default 5m; series idle longer are removed) and
// config: {action, value, match_all, count_entry_bytes, buckets}. Each
// series is labelled with the entry's stream labels at this stage.
type metricsStage struct {
	link
	metrics []*metricVec
}

type metricConfig struct {
	Type            string    `yaml:"type"`
	Description     string    `yaml:"description"`
	Source          *string   `yaml:"source"`
	Prefix          string    `yaml:"prefix"`
	MaxIdleDuration *duration `yaml:"max_idle_duration"`
	Config          struct {
		Action          string    `yaml:"action"`
		Value           *string   `yaml:"value"`
		MatchAll        bool      `yaml:"match_all"`
		CountEntryBytes bool      `yaml:"count_entry_bytes"`
		Buckets         []float64 `yaml:"buckets"`
	} `yaml:"config"`
}

func newMetrics(b *builder, cfg *yaml.Node) (stage, error) {
	var cs map[string]metricConfig
	if err := decodeStrict(cfg, &cs); err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, errors.New("empty metric stage configuration")
	}
	names := make([]string, 0, len(cs))
	for n := range cs {
		names = append(names, n)
	}
	sort.Strings(names)
	s := &metricsStage{}
	for _, name := range names {
		m, err := newMetricVec(name, cs[name], b.p.opts.Now)
		if err != nil {
			return nil, err
		}
		if reg := b.p.opts.Registerer; reg != nil {
			if err := reg.Register(m); err != nil {
				return nil, errKey(name, "register metric %s: %v", m.fqName, err)
			}
		}
		s.metrics = append(s.metrics, m)
	}
	return s, nil
}

func newMetricVec(name string, c metricConfig, now func() time.Time) (*metricVec, error) {
	m := &metricVec{now: now, series: map[uint64]*series{}, maxIdle: 5 * time.Minute}
	m.typ = strings.ToLower(c.Type)
	m.source = name
	if c.Source != nil {
		m.source = *c.Source
	}
	prefix := "promtail_custom_"
	if c.Prefix != "" {
		prefix = c.Prefix
	}
	m.fqName = prefix + name
	if !labels.ValidName(m.fqName) {
		return nil, errKey(name, "invalid metric name %q", m.fqName)
	}
	if c.MaxIdleDuration != nil {
		d := time.Duration(*c.MaxIdleDuration)
		if d < time.Second {
			return nil, errKey(name+".max_idle_duration", "max_idle_duration less than 1s not allowed")
		}
		m.maxIdle = d
	}
	m.action, m.value, m.matchAll, m.countBytes = c.Config.Action, c.Config.Value, c.Config.MatchAll, c.Config.CountEntryBytes
	key := name + ".config.action"
	switch m.typ {
	case "counter":
		m.vt = prometheus.CounterValue
		switch m.action {
		case "inc", "add":
		case "":
			return nil, errKey(key, "counter action must be defined as either `inc` or `add`")
		default:
			return nil, errKey(key, "action %s is not valid, action must be either `inc` or `add`", m.action)
		}
		if m.matchAll && m.value != nil {
			return nil, errKey(name+".config.match_all", "`match_all: true` cannot be combined with `value`")
		}
		if m.countBytes && !m.matchAll {
			return nil, errKey(name+".config.count_entry_bytes", "`count_entry_bytes: true` can only be set with `match_all: true`")
		}
		if m.countBytes && m.action != "add" {
			return nil, errKey(name+".config.count_entry_bytes", "`count_entry_bytes: true` can only be used with `action: add`")
		}
	case "gauge":
		m.vt = prometheus.GaugeValue
		switch m.action {
		case "set", "inc", "dec", "add", "sub":
		default:
			return nil, errKey(key, "gauge action must be defined as `set`, `inc`, `dec`, `add`, or `sub`, got %q", m.action)
		}
	case "histogram":
		m.buckets = slices.Clone(c.Config.Buckets)
		if len(m.buckets) == 0 {
			m.buckets = prometheus.DefBuckets
		}
		if !slices.IsSorted(m.buckets) {
			return nil, errKey(name+".config.buckets", "buckets must be in increasing order")
		}
	default:
		return nil, errKey(name+".type", "invalid metric type '%s', metric type must be one of 'counter', 'gauge', or 'histogram'", c.Type)
	}
	if (m.typ != "counter") && (m.matchAll || m.countBytes) {
		return nil, errKey(name+".config.match_all", "match_all and count_entry_bytes apply to counters only")
	}
	desc := c.Description
	if desc == "" {
		desc = "custom metric from the " + name + " pipeline stage"
	}
	m.help = desc
	return m, nil
}

func (s *metricsStage) run(ctx context.Context, e *Entry) {
	for _, m := range s.metrics {
		m.record(e)
	}
	s.next(ctx, e)
}

// metricVec is one configured metric: a collector of series keyed by
// label set, each expiring after maxIdle without an update.
type metricVec struct {
	typ, source, fqName, help string
	action                    string
	value                     *string
	matchAll, countBytes      bool
	buckets                   []float64
	vt                        prometheus.ValueType
	maxIdle                   time.Duration
	now                       func() time.Time

	mu     sync.Mutex
	series map[uint64]*series
}

type series struct {
	ls      labels.Labels
	value   float64
	count   uint64
	sum     float64
	counts  []uint64 // per bucket, not cumulative
	updated time.Time
}

func (m *metricVec) get(ls labels.Labels) *series {
	h := ls.Hash()
	s := m.series[h]
	if s == nil {
		s = &series{ls: ls}
		if m.typ == "histogram" {
			s.counts = make([]uint64, len(m.buckets))
		}
		m.series[h] = s
	}
	s.updated = m.now()
	return s
}

func (m *metricVec) record(e *Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.matchAll {
		if m.countBytes {
			m.get(e.Labels).value += float64(len(e.Line))
		} else {
			m.get(e.Labels).value++
		}
		return
	}
	v, ok := e.Extracted[m.source]
	if !ok {
		return
	}
	if m.value != nil {
		s, ok := getString(v)
		if !ok || s != *m.value {
			return
		}
	}
	switch m.typ {
	case "counter":
		if m.action == "inc" {
			m.get(e.Labels).value++
			return
		}
		f, ok := getFloat(v)
		if !ok || f < 0 {
			return
		}
		m.get(e.Labels).value += f
	case "gauge":
		switch m.action {
		case "inc":
			m.get(e.Labels).value++
			return
		case "dec":
			m.get(e.Labels).value--
			return
		}
		f, ok := getFloat(v)
		if !ok {
			return
		}
		s := m.get(e.Labels)
		switch m.action {
		case "set":
			s.value = f
		case "add":
			s.value += f
		case "sub":
			s.value -= f
		}
	case "histogram":
		f, ok := getFloat(v)
		if !ok {
			return
		}
		s := m.get(e.Labels)
		s.count++
		s.sum += f
		if i, _ := slices.BinarySearch(m.buckets, f); i < len(m.buckets) {
			s.counts[i]++
		}
	}
}

// Describe implements prometheus.Collector; the metric is unchecked, as
// its label names vary with the streams.
func (m *metricVec) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector and expires idle series.
func (m *metricVec) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for h, s := range m.series {
		if now.Sub(s.updated) > m.maxIdle {
			delete(m.series, h)
			continue
		}
		names := make([]string, len(s.ls))
		vals := make([]string, len(s.ls))
		for i, l := range s.ls {
			names[i], vals[i] = l.Name, l.Value
		}
		desc := prometheus.NewDesc(m.fqName, m.help, names, nil)
		var (
			pm  prometheus.Metric
			err error
		)
		if m.typ == "histogram" {
			cum := make(map[float64]uint64, len(m.buckets))
			var acc uint64
			for i, ub := range m.buckets {
				acc += s.counts[i]
				cum[ub] = acc
			}
			pm, err = prometheus.NewConstHistogram(desc, s.count, s.sum, cum, vals...)
		} else {
			pm, err = prometheus.NewConstMetric(desc, m.vt, s.value, vals...)
		}
		if err != nil {
			pm = prometheus.NewInvalidMetric(desc, fmt.Errorf("metric %s: %w", m.fqName, err))
		}
		ch <- pm
	}
}
