package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// builder builds stages and remembers what the pipeline needs to know
// about them.
type builder struct {
	p       *Pipeline
	minWait time.Duration
}

// stageNames lists the supported stages, for error messages.
var stageNames = []string{
	"cri", "decolorize", "docker", "drop", "json", "labelallow", "labeldrop",
	"labels", "limit", "logfmt", "match", "metrics", "multiline", "output",
	"pack", "regex", "replace", "sampling", "static_labels",
	"structured_metadata", "template", "tenant", "timestamp",
}

func (b *builder) buildList(nodes []yaml.Node, path string) ([]stage, error) {
	out := make([]stage, 0, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			n = n.Content[0]
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		if n.Kind != yaml.MappingNode {
			return nil, &ConfigError{Path: p, Line: n.Line, Err: fmt.Errorf("a stage must be a mapping with one key, the stage name (e.g. `- cri: {}`), got %s", describe(n))}
		}
		if len(n.Content) != 2 {
			return nil, &ConfigError{Path: p, Line: n.Line, Err: fmt.Errorf("a stage must have exactly one key, got %d", len(n.Content)/2)}
		}
		name, cfg := n.Content[0].Value, n.Content[1]
		p += "." + name
		s, err := b.build(name, cfg, p)
		if err != nil {
			ce := &ConfigError{Path: p, Line: cfg.Line, Err: err}
			if ke, ok := errors.AsType[*keyError](err); ok && ke.key != "" {
				ce.Key, ce.Err, ce.Line = ke.key, ke.err, ke.line
				if ce.Line == 0 {
					ce.Line = keyLine(cfg, ke.key)
				}
			}
			if nested, ok := errors.AsType[*ConfigError](err); ok {
				return nil, nested
			}
			return nil, ce
		}
		out = append(out, s)
	}
	return out, nil
}

func (b *builder) build(name string, cfg *yaml.Node, path string) (stage, error) {
	switch name {
	case "cri":
		return newCRI(b, cfg)
	case "docker":
		return newDocker(b, cfg)
	case "multiline":
		return newMultiline(b, cfg)
	case "json":
		return newJSON(b, cfg)
	case "logfmt":
		return newLogfmt(cfg)
	case "regex":
		return newRegex(cfg)
	case "labels":
		return newLabels(cfg)
	case "labeldrop":
		return newLabelDrop(cfg)
	case "labelallow":
		return newLabelAllow(cfg)
	case "static_labels":
		return newStaticLabels(cfg)
	case "structured_metadata":
		return newStructuredMetadata(cfg)
	case "replace":
		return newReplace(cfg)
	case "template":
		return newTemplate(cfg)
	case "timestamp":
		return newTimestamp(b, cfg)
	case "output":
		return newOutput(cfg)
	case "match":
		return newMatch(b, cfg, path)
	case "drop":
		return newDrop(b, cfg)
	case "limit":
		return newLimit(b, cfg)
	case "tenant":
		return newTenant(cfg)
	case "metrics":
		return newMetrics(b, cfg)
	case "pack":
		return newPack(b, cfg)
	case "decolorize":
		return newDecolorize(cfg)
	case "sampling":
		return newSampling(b, cfg)
	}
	if slices.Contains([]string{"geoip", "eventlogmessage", "windowsevent", "docker_recombine"}, name) {
		return nil, fmt.Errorf("stage %q is not supported by kmlog agent", name)
	}
	return nil, fmt.Errorf("unknown stage %q (supported: %v)", name, stageNames)
}

// link is embedded by stages to hold their successor.
type link struct{ next emitFunc }

func (l *link) bind(next emitFunc) { l.next = next }

// emptyConfig accepts a null or empty mapping (decolorize: {}).
func emptyConfig(cfg *yaml.Node) error {
	var c struct{}
	return decodeStrict(cfg, &c)
}
