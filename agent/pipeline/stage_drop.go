package pipeline

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/logql/log"
)

// drop drops entries that meet every configured condition: longer_than
// (line bytes), older_than (timestamp age), source (all named extracted
// values present), and expression or value (a regex, or an exact value,
// matched against the line, or against the source values joined by
// separator, default ";"). Dropped entries are counted under
// drop_counter_reason (default drop_stage).
type dropStage struct {
	link
	sources    []string
	re         *regexp.Regexp
	sep        string
	olderThan  time.Duration
	hasOlder   bool
	longerThan int
	hasLonger  bool
	now        func() time.Time
	drops      prometheus.Counter
}

func newDrop(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		Source     stringOrList `yaml:"source"`
		Value      *string      `yaml:"value"`
		Expression *string      `yaml:"expression"`
		OlderThan  *duration    `yaml:"older_than"`
		LongerThan *byteSize    `yaml:"longer_than"`
		Separator  *string      `yaml:"separator"`
		DropReason string       `yaml:"drop_counter_reason"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.Source == nil && c.Expression == nil && c.OlderThan == nil && c.LongerThan == nil {
		return nil, errors.New("drop stage config must contain at least one of `source`, `expression`, `older_than` or `longer_than`")
	}
	if c.Value != nil && c.Source == nil {
		return nil, errKey("value", "drop stage config must contain `source` if `value` is specified")
	}
	if c.Value != nil && c.Expression != nil {
		return nil, errKey("value", "`value` and `expression` cannot both be defined")
	}
	s := &dropStage{sources: c.Source, sep: ";", now: b.p.opts.Now}
	if c.Separator != nil {
		s.sep = *c.Separator
	}
	if c.Expression != nil {
		re, err := regexp.Compile(*c.Expression)
		if err != nil {
			return nil, errKey("expression", "compile regular expression: %v", err)
		}
		s.re = re
	}
	if c.Value != nil {
		s.re = regexp.MustCompile("^" + regexp.QuoteMeta(*c.Value) + "$")
	}
	if c.OlderThan != nil {
		s.olderThan, s.hasOlder = time.Duration(*c.OlderThan), true
	}
	if c.LongerThan != nil {
		s.longerThan, s.hasLonger = int(*c.LongerThan), true
	}
	reason := ReasonDropStage
	if c.DropReason != "" {
		reason = c.DropReason
	}
	s.drops = b.p.drops.WithLabelValues(reason)
	return s, nil
}

func (s *dropStage) run(ctx context.Context, e *Entry) {
	if s.shouldDrop(e) {
		s.drops.Inc()
		return
	}
	s.next(ctx, e)
}

func (s *dropStage) shouldDrop(e *Entry) bool {
	if s.hasLonger && len(e.Line) <= s.longerThan {
		return false
	}
	if s.hasOlder && !e.Timestamp.Before(s.now().Add(-s.olderThan)) {
		return false
	}
	if s.sources != nil && s.re == nil {
		for _, src := range s.sources {
			if _, ok := e.Extracted[src]; !ok {
				return false
			}
		}
	}
	if s.re != nil {
		if s.sources == nil {
			return s.re.MatchString(e.Line)
		}
		vals := make([]string, 0, len(s.sources))
		for _, src := range s.sources {
			v, ok := e.Extracted[src]
			if !ok {
				continue
			}
			str, ok := getString(v)
			if !ok {
				return false
			}
			vals = append(vals, str)
		}
		return s.re.MatchString(strings.Join(vals, s.sep))
	}
	return true
}

// sampling keeps each entry with probability rate and drops the others,
// counted under drop_counter_reason (default sampling_stage). Like
// Promtail, rate 0 drops everything and rate 1 keeps everything.
type samplingStage struct {
	link
	boundary uint64
	rng      *rand.Rand
	drops    prometheus.Counter
}

const maxRandom = uint64(1)<<63 - 1

func newSampling(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		Rate       float64 `yaml:"rate"`
		DropReason string  `yaml:"drop_counter_reason"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.Rate < 0 || c.Rate > 1 || math.IsNaN(c.Rate) {
		return nil, errKey("rate", "sampling rate must be between 0.0 and 1.0, got %v", c.Rate)
	}
	reason := ReasonSamplingStage
	if c.DropReason != "" {
		reason = c.DropReason
	}
	seed := b.p.opts.Seed
	if seed == 0 {
		seed = uint64(b.p.opts.Now().UnixNano())
	}
	return &samplingStage{
		boundary: uint64(float64(maxRandom) * c.Rate),
		rng:      rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		drops:    b.p.drops.WithLabelValues(reason),
	}, nil
}

func (s *samplingStage) run(ctx context.Context, e *Entry) {
	r := s.rng.Uint64() & maxRandom
	for r == 0 {
		r = s.rng.Uint64() & maxRandom
	}
	if r > s.boundary {
		s.drops.Inc()
		return
	}
	s.next(ctx, e)
}

// decolorize removes ANSI colour sequences from the line.
type decolorizeStage struct {
	link
	d log.Decolorizer
}

func newDecolorize(cfg *yaml.Node) (stage, error) {
	if err := emptyConfig(cfg); err != nil {
		return nil, err
	}
	return &decolorizeStage{d: log.NewDecolorizer()}, nil
}

func (s *decolorizeStage) run(ctx context.Context, e *Entry) {
	if strings.IndexByte(e.Line, 0x1b) >= 0 || strings.Contains(e.Line, "\u009b") {
		out, _ := s.d.Process(0, []byte(e.Line), nil)
		e.Line = string(out)
	}
	s.next(ctx, e)
}
