package frontend

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/log"
	"github.com/kubemate/kmlog/logql/syntax"
)

// DetectedLabel is one label of detected_labels: a stream label and the
// number of its distinct values.
type DetectedLabel struct {
	Label       string `json:"label"`
	Cardinality uint64 `json:"cardinality"`
}

// DetectedLabels returns the stream labels of the streams that match
// r.Query (all if empty) with their cardinality, sorted by name.
func (f *Frontend) DetectedLabels(ctx context.Context, t tenant.ID, r MetaRequest) ([]DetectedLabel, Stats, error) {
	var sels []string
	if r.Query != "" {
		sels = []string{r.Query}
	}
	series, st, err := f.Series(ctx, t, sels, r)
	if err != nil {
		return nil, st, err
	}
	values := make(map[string]map[string]struct{})
	for _, ls := range series {
		for _, l := range ls {
			if values[l.Name] == nil {
				values[l.Name] = make(map[string]struct{})
			}
			values[l.Name][l.Value] = struct{}{}
		}
	}
	out := make([]DetectedLabel, 0, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		out = append(out, DetectedLabel{Label: name, Cardinality: uint64(len(values[name]))})
	}
	return out, st, nil
}

// DetectedField is one field of detected_fields: a key found in the
// sampled lines (by the json or logfmt parser) or in their structured
// metadata, with its type and number of distinct values. Parsers is nil
// for structured metadata, as in Loki's answer.
type DetectedField struct {
	Label       string   `json:"label"`
	Type        string   `json:"type"`
	Cardinality uint64   `json:"cardinality"`
	Parsers     []string `json:"parsers"`
}

// Defaults of detected_fields.
const (
	DefaultDetectedFieldsLimit     = 1000
	DefaultDetectedFieldsLineLimit = 1000
)

// DetectedFields samples the newest lineLimit lines of the log query q in
// [start, end) and reports the fields they carry, sorted by name, at most
// limit of them.
func (f *Frontend) DetectedFields(ctx context.Context, t tenant.ID, r MetaRequest, limit, lineLimit int) ([]DetectedField, Stats, error) {
	if limit <= 0 {
		limit = DefaultDetectedFieldsLimit
	}
	if lineLimit <= 0 {
		lineLimit = DefaultDetectedFieldsLineLimit
	}
	expr, err := syntax.Parse(r.Query)
	if err != nil {
		return nil, Stats{}, err
	}
	if !syntax.IsLogQuery(expr) {
		return nil, Stats{}, badRequest("detected_fields needs a log query")
	}
	lineLimit = min(lineLimit, f.Limits(t).MaxEntriesLimitPerQuery)
	res, err := f.Query(ctx, t, engine.Params{Expr: expr, Start: r.Start, End: r.End, Limit: lineLimit})
	if err != nil {
		return nil, res.Stats, err
	}
	type field struct {
		values  map[string]struct{}
		typ     string
		parsers map[string]struct{}
	}
	fields := make(map[string]*field)
	add := func(name, value, parser string) {
		fd, ok := fields[name]
		if !ok {
			fd = &field{values: make(map[string]struct{}), typ: fieldType(value), parsers: make(map[string]struct{})}
			fields[name] = fd
		} else if fd.typ != "string" && fieldType(value) != fd.typ {
			fd.typ = "string"
		}
		fd.values[value] = struct{}{}
		if parser != "" {
			fd.parsers[parser] = struct{}{}
		}
	}
	jsonP := log.NewPipeline(log.NewJSONParser())
	logfmtP := log.NewPipeline(log.NewLogfmtParser(false, false))
	ss, _ := res.Value.(engine.Streams)
	for _, s := range ss {
		for _, e := range s.Entries {
			base := s.Labels
			if len(e.StructuredMetadata) > 0 || len(e.Parsed) > 0 {
				base = s.Labels.Without(append(names(e.StructuredMetadata), names(e.Parsed)...)...)
			}
			for _, l := range e.StructuredMetadata {
				add(l.Name, l.Value, "")
			}
			parser := "json"
			_, lr, _ := jsonP.Process(e.Timestamp, []byte(e.Line), base, nil)
			if lr == nil || lr.Labels().Has("__error__") {
				parser = "logfmt"
				_, lr, _ = logfmtP.Process(e.Timestamp, []byte(e.Line), base, nil)
			}
			if lr == nil || lr.Labels().Has("__error__") {
				continue
			}
			for _, l := range lr.Labels() {
				if base.Has(l.Name) || l.Name == "__error__" || l.Name == "__error_details__" {
					continue
				}
				add(l.Name, l.Value, parser)
			}
		}
	}
	out := make([]DetectedField, 0, min(len(fields), limit))
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if len(out) == limit {
			break
		}
		fd := fields[name]
		df := DetectedField{Label: name, Type: fd.typ, Cardinality: uint64(len(fd.values))}
		if len(fd.parsers) > 0 {
			df.Parsers = slices.Sorted(maps.Keys(fd.parsers))
		}
		out = append(out, df)
	}
	return out, res.Stats, nil
}

func names(ls labels.Labels) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

// fieldType guesses a value's type as Loki's detected_fields does: int,
// float, boolean, duration, bytes, else string.
func fieldType(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return "int"
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return "float"
	}
	if _, err := strconv.ParseBool(v); err == nil {
		return "boolean"
	}
	if _, err := time.ParseDuration(v); err == nil {
		return "duration"
	}
	if _, err := log.ParseBytes(v); err == nil && v != "" && (v[len(v)-1] == 'B' || v[len(v)-1] == 'b') {
		return "bytes"
	}
	return "string"
}
