package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// match runs nested stages on the entries whose labels match a LogQL
// stream selector, optionally followed by line filters
// ({app="api"} |= "error" != "debug"), or drops them (action: drop).
// Other entries pass on unchanged. The nested stages see the current
// labels copied into the extracted map, as a Promtail pipeline does.
type matchStage struct {
	link
	matchers []*labels.Matcher
	filter   log.Filterer // nil without line filters
	drop     bool
	drops    prometheus.Counter
	stages   []stage
	inner    emitFunc
}

func newMatch(b *builder, cfg *yaml.Node, path string) (stage, error) {
	var c struct {
		Selector     string      `yaml:"selector"`
		Stages       []yaml.Node `yaml:"stages"`
		Action       string      `yaml:"action"`
		PipelineName *string     `yaml:"pipeline_name"`
		DropReason   string      `yaml:"drop_counter_reason"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	if c.PipelineName != nil && *c.PipelineName == "" {
		return nil, errKey("pipeline_name", "match stage pipeline name can be omitted but cannot be an empty string")
	}
	if c.Selector == "" {
		return nil, errKey("selector", "selector statement required for match stage")
	}
	switch c.Action {
	case "":
		c.Action = "keep"
	case "keep", "drop":
	default:
		return nil, errKey("action", "match stage action should be 'keep' or 'drop', got %q", c.Action)
	}
	if c.Action == "keep" && len(c.Stages) == 0 {
		return nil, errKey("stages", "match stage requires at least one additional stage to be defined in '- stages'")
	}
	if c.Action == "drop" && len(c.Stages) != 0 {
		return nil, errKey("stages", "match stage configured to drop entries cannot contain stages")
	}
	sel, err := syntax.ParseLogSelectorAnyMatchers(c.Selector)
	if err != nil {
		return nil, errKey("selector", "invalid selector syntax for match stage: %v", err)
	}
	s := &matchStage{matchers: sel.Matchers, drop: c.Action == "drop"}
	var fs []log.Filterer
	for _, st := range sel.Pipeline {
		lf, ok := st.(*syntax.LineFilter)
		if !ok {
			return nil, errKey("selector", "only line filters may follow the stream selector")
		}
		f, err := lineFilter(lf)
		if err != nil {
			return nil, errKey("selector", "%v", err)
		}
		fs = append(fs, f)
	}
	if len(fs) > 0 {
		s.filter = log.NewAndFilter(fs...)
	}
	reason := ReasonMatchStage
	if c.DropReason != "" {
		reason = c.DropReason
	}
	s.drops = b.p.drops.WithLabelValues(reason)
	if !s.drop {
		st, err := b.buildList(c.Stages, path+".stages")
		if err != nil {
			return nil, err
		}
		s.stages = st
	}
	return s, nil
}

func lineFilter(st *syntax.LineFilter) (log.Filterer, error) {
	var mt log.LineMatchType
	switch st.Op {
	case syntax.LineContains, syntax.LineNotContains:
		mt = log.LineMatchEqual
	case syntax.LineMatchRegexp, syntax.LineNotRegexp:
		mt = log.LineMatchRegexp
	case syntax.LineMatchPattern, syntax.LineNotPattern:
		mt = log.LineMatchPattern
	default:
		return nil, fmt.Errorf("unsupported line filter %v", st.Op)
	}
	var fs []log.Filterer
	var plain []string
	for _, v := range st.Values {
		if v.IP {
			f, err := log.NewIPFilter(v.Value, log.LineMatchEqual)
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
			continue
		}
		plain = append(plain, v.Value)
	}
	if len(plain) > 0 {
		f, err := log.NewLineFilter(mt, plain...)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil, errors.New("empty line filter")
	}
	f := log.NewOrFilter(fs...)
	if st.Op.Negated() {
		f = log.NewNotFilter(f)
	}
	return f, nil
}

func (s *matchStage) bind(next emitFunc) {
	s.next = next
	if s.stages != nil {
		head := chain(s.stages, next)
		s.inner = func(ctx context.Context, e *Entry) {
			initExtracted(e)
			head(ctx, e)
		}
	}
}

func (s *matchStage) matches(e *Entry) bool {
	for _, m := range s.matchers {
		if !m.Matches(e.Labels.Get(m.Name)) {
			return false
		}
	}
	return s.filter == nil || s.filter.Filter([]byte(e.Line))
}

func (s *matchStage) run(ctx context.Context, e *Entry) {
	if !s.matches(e) {
		s.next(ctx, e)
		return
	}
	if s.drop {
		s.drops.Inc()
		return
	}
	s.inner(ctx, e)
}

func (s *matchStage) flush(ctx context.Context, now time.Time, force bool) {
	for _, st := range s.stages {
		if f, ok := st.(flusher); ok {
			f.flush(ctx, now, force)
		}
	}
}

func (s *matchStage) held(fn func(Origin)) {
	for _, st := range s.stages {
		if f, ok := st.(flusher); ok {
			f.held(fn)
		}
	}
}

func (s *matchStage) pending() bool {
	for _, st := range s.stages {
		if f, ok := st.(flusher); ok && f.pending() {
			return true
		}
	}
	return false
}
