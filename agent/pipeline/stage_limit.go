package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// bucket is a token bucket: rate tokens a second, at most burst, starting
// full (golang.org/x/time/rate's semantics).
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

func (b *bucket) advance(now time.Time) {
	if now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
}

// allow takes a token if one is there.
func (b *bucket) allow(now time.Time) bool {
	b.advance(now)
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// reserve takes a token, going into debt, and returns how long to wait
// for it.
func (b *bucket) reserve(now time.Time) time.Duration {
	b.advance(now)
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// limit rate-limits entries with a token bucket (rate per second, burst).
// With drop: true entries over the limit are dropped (counted as
// ratelimit_drop_stage); otherwise the stage waits for a token, holding
// up the pipeline, as Promtail does. With by_label_name each value of that
// label has its own bucket (drop must then be true; entries without the
// label are not limited); past max_distinct_labels values (at least
// 10000) the buckets start afresh.
type limitStage struct {
	link
	rate        float64
	burst       int
	drop        bool
	byLabel     string
	maxDistinct int
	now         func() time.Time

	bucket  *bucket
	buckets map[string]*bucket
	drops   prometheus.Counter
	byValue *prometheus.CounterVec
	onDrop  func(e *Entry, reason string)
}

func (s *limitStage) dropped(e *Entry) {
	if s.onDrop != nil {
		s.onDrop(e, ReasonRateLimit)
	}
}

const minMaxDistinctLabels = 10000

func newLimit(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		Rate              float64 `yaml:"rate"`
		Burst             int     `yaml:"burst"`
		Drop              bool    `yaml:"drop"`
		ByLabelName       string  `yaml:"by_label_name"`
		MaxDistinctLabels int     `yaml:"max_distinct_labels"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if !(c.Rate > 0) {
		return nil, errKey("rate", "must be positive, got %v", c.Rate)
	}
	if c.Burst <= 0 {
		return nil, errKey("burst", "must be positive, got %d", c.Burst)
	}
	if c.ByLabelName != "" && !c.Drop {
		return nil, errKey("drop", "when rate-limiting by_label_name, drop must be true")
	}
	s := &limitStage{rate: c.Rate, burst: c.Burst, drop: c.Drop, byLabel: c.ByLabelName, maxDistinct: c.MaxDistinctLabels, now: b.p.opts.Now, onDrop: b.p.opts.OnDrop}
	s.drops = b.p.drops.WithLabelValues(ReasonRateLimit)
	if s.byLabel != "" {
		if s.maxDistinct < minMaxDistinctLabels {
			if c.MaxDistinctLabels != 0 {
				b.p.opts.Logger.Warn("limit stage: max_distinct_labels raised to the minimum", "min", minMaxDistinctLabels)
			}
			s.maxDistinct = minMaxDistinctLabels
		}
		s.buckets = make(map[string]*bucket)
		vec, err := byLabelCounter(b.p.opts.Registerer)
		if err != nil {
			return nil, err
		}
		s.byValue = vec
	} else {
		s.bucket = newBucket(c.Rate, c.Burst, s.now())
	}
	return s, nil
}

func byLabelCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kmlog_agent_dropped_entries_by_label_total",
		Help: "Log entries dropped by a limit stage with by_label_name, by label value.",
	}, []string{"label_name", "label_value"})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}

func (s *limitStage) run(ctx context.Context, e *Entry) {
	now := s.now()
	switch {
	case s.byLabel != "":
		v, ok := e.Labels.Lookup(s.byLabel)
		if ok {
			bk := s.buckets[v]
			if bk == nil {
				if len(s.buckets) >= s.maxDistinct {
					clear(s.buckets)
					s.byValue.Reset()
				}
				bk = newBucket(s.rate, s.burst, now)
				s.buckets[v] = bk
			}
			if !bk.allow(now) {
				s.drops.Inc()
				s.byValue.WithLabelValues(s.byLabel, v).Inc()
				s.dropped(e)
				return
			}
		}
	case s.drop:
		if !s.bucket.allow(now) {
			s.drops.Inc()
			s.dropped(e)
			return
		}
	default:
		if d := s.bucket.reserve(now); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	s.next(ctx, e)
}
