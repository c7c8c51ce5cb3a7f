package compactor

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/syntax"
)

// Config tunes the compactor.
type Config struct {
	// Interval is how often the all-in-one process compacts (0: never).
	// Knative and Lambda deployments run on their trigger's schedule.
	Interval time.Duration `yaml:"compaction_interval"`
	// TargetFileBytes is the stored size at which an output file is cut.
	// A day smaller than this becomes one file.
	TargetFileBytes int64 `yaml:"target_file_bytes"`
	// MaxFanIn bounds the files merged at once, and so the memory of a
	// merge (see the package doc). A day with more live files is merged
	// in rounds, each committing a generation.
	MaxFanIn int `yaml:"max_fan_in"`
	// Grace is how long files a generation replaced stay readable after
	// its commit: longer than the longest query.
	Grace time.Duration `yaml:"grace_period"`
	// LeaseTTL is how long a day's lease holds without its holder.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// OrphanAge is the age after which a data file without an index, or a
	// compaction output no manifest names, is deleted. It must exceed the
	// longest compaction of a day: a compaction older than half of it does
	// not commit.
	OrphanAge time.Duration `yaml:"orphan_age"`
	// DataFile is the encoding of compacted files (see the package doc).
	DataFile datafile.Config `yaml:"data_file"`
	// Index builds the outputs' indexes.
	Index index.Config `yaml:"index"`
	// TempDir holds outputs while they are written ("" is the system's).
	TempDir string `yaml:"temp_dir"`
	// DeleteRequestCancelPeriod is how long after its creation a delete
	// request can be cancelled without force (Loki's
	// delete_request_cancel_period).
	DeleteRequestCancelPeriod time.Duration `yaml:"delete_request_cancel_period"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	df := datafile.DefaultConfig()
	// Compacted files are written once and read many times. On a day
	// of loggen lines (BenchmarkEncoding, 16 MiB): the flush encoding
	// (zstd fastest, 1 MiB row groups, 64 KiB block page cuts) stores
	// 4.93x; zstd "better" with 4 MiB row groups 5.18x; the same with
	// 256 KiB block page cuts 5.48x and writes faster (fewer, larger
	// pages), for slightly larger reads of one small block; the best
	// level with 8 MiB row groups 5.26x at a third of the speed.
	df.ZstdLevel = 3
	df.RowGroupBytes = 4 << 20
	df.BlockPageBytes = 256 << 10
	return Config{
		Interval:                  10 * time.Minute,
		TargetFileBytes:           512 << 20,
		MaxFanIn:                  64,
		Grace:                     10 * time.Minute,
		LeaseTTL:                  20 * time.Minute,
		OrphanAge:                 2 * time.Hour,
		DataFile:                  df,
		Index:                     index.DefaultConfig(),
		DeleteRequestCancelPeriod: 24 * time.Hour,
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0:
		return errors.New("compaction_interval must not be negative")
	case c.TargetFileBytes < 64<<10:
		return errors.New("target_file_bytes must be at least 64 KiB")
	case c.MaxFanIn < 2:
		return errors.New("max_fan_in must be at least 2")
	case c.Grace <= 0:
		return errors.New("grace_period must be positive")
	case c.LeaseTTL <= 0:
		return errors.New("lease_ttl must be positive")
	case c.OrphanAge < 2*c.LeaseTTL:
		return errors.New("orphan_age must be at least twice lease_ttl")
	case c.DeleteRequestCancelPeriod < 0:
		return errors.New("delete_request_cancel_period must not be negative")
	}
	if err := c.DataFile.Validate(); err != nil {
		return fmt.Errorf("data_file: %w", err)
	}
	return nil
}

// Duration is a duration in the config: Go's form (744h) or Prometheus's
// (30d, 1w, 1y), as Loki's retention settings take.
type Duration time.Duration

// UnmarshalYAML reads a Duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes a Duration in Go's form.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration reads a Duration.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		return Duration(d), nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		unit := map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour,
			'h': time.Hour, 'm': time.Minute, 's': time.Second}[rest[i]]
		if strings.HasPrefix(rest[i:], "ms") {
			unit, i = time.Millisecond, i+1
		}
		if unit == 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		if n > int64(math.MaxInt64/unit) || total+time.Duration(n)*unit < total {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	return Duration(total), nil
}

// Limits are a tenant's retention settings, Loki's names in
// limits_config and the overrides file.
type Limits struct {
	// RetentionPeriod keeps entries this long (0: forever).
	RetentionPeriod Duration `yaml:"retention_period"`
	// RetentionStream sets other periods for the streams a selector
	// matches; of several matching, the highest priority wins, then the
	// shortest period.
	RetentionStream []StreamRetention `yaml:"retention_stream"`
}

// StreamRetention is one retention_stream rule.
type StreamRetention struct {
	Period   Duration `yaml:"period"`
	Priority int      `yaml:"priority"`
	Selector string   `yaml:"selector"`

	matchers []*labels.Matcher
}

// Validate checks the selectors.
func (l *Limits) Validate() error {
	for i := range l.RetentionStream {
		r := &l.RetentionStream[i]
		ms, err := parseSelector(r.Selector)
		if err != nil {
			return fmt.Errorf("retention_stream[%d].selector: %w", i, err)
		}
		r.matchers = ms
	}
	return nil
}

// period returns the retention of a stream: 0 keeps it forever.
func (l *Limits) period(ls labels.Labels) time.Duration {
	best, found := -1<<31, false
	var p Duration
	for i := range l.RetentionStream {
		r := &l.RetentionStream[i]
		ms := r.matchers
		if ms == nil {
			var err error
			if ms, err = parseSelector(r.Selector); err != nil {
				continue
			}
		}
		if !labels.MatchLabels(ls, ms...) {
			continue
		}
		if !found || r.Priority > best || r.Priority == best && r.Period < p {
			best, p, found = r.Priority, r.Period, true
		}
	}
	if found {
		return time.Duration(p)
	}
	return time.Duration(l.RetentionPeriod)
}

// Overrides gives a tenant's Limits.
type Overrides func(tenant.ID) Limits

func parseSelector(s string) ([]*labels.Matcher, error) {
	return syntax.ParseMatchers(s)
}
