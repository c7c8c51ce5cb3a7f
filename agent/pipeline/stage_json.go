package pipeline

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// json: JMESPath expressions over a JSON object (the line, or an
// extracted value) become extracted values. Strings, numbers (float64),
// booleans and null are kept as they are; objects and lists are stored as
// compact JSON text. A line that is not a JSON object leaves the entry
// unchanged, or is dropped with drop_malformed.
type jsonStage struct {
	link
	source        *string
	names         []string
	exprs         []*jmesPath
	dropMalformed bool
	drops         prometheus.Counter
}

type jsonConfig struct {
	Expressions   map[string]string `yaml:"expressions"`
	Source        *string           `yaml:"source"`
	DropMalformed bool              `yaml:"drop_malformed"`
}

func newJSON(b *builder, cfg *yaml.Node) (stage, error) {
	var c jsonConfig
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	return newJSONFromConfig(b, c)
}

func newJSONFromConfig(b *builder, c jsonConfig) (*jsonStage, error) {
	if len(c.Expressions) == 0 {
		return nil, errKey("expressions", "JMES expression is required")
	}
	if err := checkSource(c.Source); err != nil {
		return nil, err
	}
	s := &jsonStage{source: c.Source, dropMalformed: c.DropMalformed, drops: b.p.drops.WithLabelValues(ReasonMalformedJSON)}
	for n := range c.Expressions {
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	for _, n := range s.names {
		src := c.Expressions[n]
		if src == "" {
			src = n
		}
		jp, err := compileJMESPath(src)
		if err != nil {
			return nil, errKey("expressions."+n, "%v", err)
		}
		s.exprs = append(s.exprs, jp)
	}
	return s, nil
}

func (s *jsonStage) run(ctx context.Context, e *Entry) {
	if !s.apply(e) && s.dropMalformed {
		s.drops.Inc()
		return
	}
	s.next(ctx, e)
}

// apply reports false when the input is not a JSON object.
func (s *jsonStage) apply(e *Entry) bool {
	in, ok := sourceInput(e, s.source)
	if !ok {
		return true
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(in), &data); err != nil {
		return false
	}
	for i, jp := range s.exprs {
		r, ok := jp.search(data)
		if !ok {
			continue
		}
		switch r.(type) {
		case string, float64, bool, nil:
			e.Extracted[s.names[i]] = r
		default:
			b, err := json.Marshal(r)
			if err != nil {
				continue
			}
			e.Extracted[s.names[i]] = string(b)
		}
	}
	return true
}
