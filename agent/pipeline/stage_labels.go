package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/labels"
)

// withLabel returns ls with name set to value. ls is never modified: a
// changed set is a new slice.
func withLabel(ls labels.Labels, name, value string) labels.Labels {
	i, found := slices.BinarySearchFunc(ls, name, func(l labels.Label, n string) int { return strings.Compare(l.Name, n) })
	if found {
		if ls[i].Value == value {
			return ls
		}
		out := slices.Clone(ls)
		out[i].Value = value
		return out
	}
	out := make(labels.Labels, len(ls)+1)
	copy(out, ls[:i])
	out[i] = labels.Label{Name: name, Value: value}
	copy(out[i+1:], ls[i:])
	return out
}

// withoutLabel returns ls without name, sharing ls when it is absent.
func withoutLabel(ls labels.Labels, name string) labels.Labels {
	i, found := slices.BinarySearchFunc(ls, name, func(l labels.Label, n string) int { return strings.Compare(l.Name, n) })
	if !found {
		return ls
	}
	out := make(labels.Labels, 0, len(ls)-1)
	out = append(out, ls[:i]...)
	return append(out, ls[i+1:]...)
}

// setStreamLabel sets a stream label the way Promtail's labels stage
// does: an empty value is kept (dry runs show it; the agent does not send
// empty labels, which mean "absent" to Loki).
func setStreamLabel(e *Entry, name, value string) {
	e.Labels = withLabel(e.Labels, name, value)
}

// labelMapping is a labels-style config, label name -> extracted key
// (the name itself when empty), in name order.
type labelMapping []struct{ name, source string }

func parseLabelMapping(cfg *yaml.Node) (labelMapping, error) {
	if isNull(cfg) {
		return nil, errors.New("config cannot be empty")
	}
	var m map[string]*string
	if err := decodeStrict(cfg, &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, errors.New("config cannot be empty")
	}
	out := make(labelMapping, 0, len(m))
	for name, src := range m {
		if !labels.ValidName(name) {
			return nil, errKey(name, "invalid label name %q", name)
		}
		s := name
		if src != nil && *src != "" {
			s = *src
		}
		out = append(out, struct{ name, source string }{name, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// each calls fn for every mapped label whose extracted value converts to a
// valid (UTF-8) string.
func (lm labelMapping) each(e *Entry, fn func(name, value string)) {
	for _, l := range lm {
		v, ok := e.Extracted[l.source]
		if !ok {
			continue
		}
		s, ok := getString(v)
		if !ok || !utf8.ValidString(s) {
			continue
		}
		fn(l.name, s)
	}
}

// labels: promote extracted values to stream labels.
type labelsStage struct {
	link
	m labelMapping
}

func newLabels(cfg *yaml.Node) (stage, error) {
	m, err := parseLabelMapping(cfg)
	if err != nil {
		return nil, err
	}
	return &labelsStage{m: m}, nil
}

func (s *labelsStage) run(ctx context.Context, e *Entry) {
	s.m.each(e, func(name, value string) { setStreamLabel(e, name, value) })
	s.next(ctx, e)
}

// structured_metadata: extracted values, and stream labels of the same
// source name, become structured metadata; such labels leave the stream.
type metadataStage struct {
	link
	m labelMapping
}

func newStructuredMetadata(cfg *yaml.Node) (stage, error) {
	m, err := parseLabelMapping(cfg)
	if err != nil {
		return nil, err
	}
	return &metadataStage{m: m}, nil
}

func (s *metadataStage) run(ctx context.Context, e *Entry) {
	s.m.each(e, func(name, value string) { e.Metadata = withLabel(e.Metadata, name, value) })
	for _, l := range s.m {
		if v, ok := e.Labels.Lookup(l.source); ok {
			e.Metadata = withLabel(e.Metadata, l.name, v)
			e.Labels = withoutLabel(e.Labels, l.source)
		}
	}
	s.next(ctx, e)
}

// static_labels: fixed labels; an empty or null value is skipped.
type staticLabelsStage struct {
	link
	ls labels.Labels
}

func newStaticLabels(cfg *yaml.Node) (stage, error) {
	if isNull(cfg) {
		return nil, errors.New("config cannot be empty")
	}
	var m map[string]*string
	if err := decodeStrict(cfg, &m); err != nil {
		return nil, err
	}
	var ls []labels.Label
	for name, v := range m {
		if !labels.ValidName(name) {
			return nil, errKey(name, "invalid label name %q", name)
		}
		if v == nil || *v == "" {
			continue
		}
		if !utf8.ValidString(*v) {
			return nil, errKey(name, "label value is not valid UTF-8")
		}
		ls = append(ls, labels.Label{Name: name, Value: *v})
	}
	return &staticLabelsStage{ls: labels.New(ls...)}, nil
}

func (s *staticLabelsStage) run(ctx context.Context, e *Entry) {
	for _, l := range s.ls {
		e.Labels = withLabel(e.Labels, l.Name, l.Value)
	}
	s.next(ctx, e)
}

// labeldrop and labelallow.
type labelFilterStage struct {
	link
	names []string
	allow bool
}

func newLabelDrop(cfg *yaml.Node) (stage, error)  { return newLabelFilter(cfg, false) }
func newLabelAllow(cfg *yaml.Node) (stage, error) { return newLabelFilter(cfg, true) }

func newLabelFilter(cfg *yaml.Node, allow bool) (stage, error) {
	var names []string
	if err := decodeStrict(cfg, &names); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("config cannot be empty: list the label names")
	}
	for _, n := range names {
		if !labels.ValidName(n) {
			return nil, fmt.Errorf("invalid label name %q", n)
		}
	}
	return &labelFilterStage{names: names, allow: allow}, nil
}

func (s *labelFilterStage) run(ctx context.Context, e *Entry) {
	if s.allow {
		keep := true
		for _, l := range e.Labels {
			if !slices.Contains(s.names, l.Name) {
				keep = false
				break
			}
		}
		if !keep {
			e.Labels = e.Labels.Only(s.names...)
		}
	} else {
		for _, n := range s.names {
			e.Labels = withoutLabel(e.Labels, n)
		}
	}
	s.next(ctx, e)
}
