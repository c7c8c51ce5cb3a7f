package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// pack replaces the line with a JSON object holding the named labels or
// extracted values and the line under "_entry" — {"app":"api",
// "_entry":"original line"}, keys sorted, _entry last — and removes the
// packed names from the stream labels. With ingest_timestamp (the
// default) the timestamp becomes the time of packing. Loki's `| unpack`
// reverses it.
type packStage struct {
	link
	names     []string
	ingestNow bool
	now       func() time.Time
}

func newPack(b *builder, cfg *yaml.Node) (stage, error) {
	var c struct {
		Labels          []string `yaml:"labels"`
		IngestTimestamp *bool    `yaml:"ingest_timestamp"`
	}
	if err := decodeStrict(cfg, &c); err != nil {
		return nil, err
	}
	names := slices.Clone(c.Labels)
	slices.Sort(names)
	names = slices.Compact(names)
	return &packStage{names: names, ingestNow: c.IngestTimestamp == nil || *c.IngestTimestamp, now: b.p.opts.Now}, nil
}

func (s *packStage) run(ctx context.Context, e *Entry) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	var found []string
	for _, n := range s.names {
		v, ok := e.Extracted[n]
		if !ok {
			continue
		}
		str, ok := getString(v)
		if !ok {
			continue
		}
		writeJSONString(&buf, n)
		buf.WriteByte(':')
		writeJSONString(&buf, str)
		buf.WriteByte(',')
		found = append(found, n)
	}
	buf.WriteString(`"_entry":`)
	writeJSONString(&buf, e.Line)
	buf.WriteByte('}')
	for _, n := range found {
		e.Labels = withoutLabel(e.Labels, n)
	}
	e.Line = buf.String()
	if s.ingestNow {
		e.Timestamp = s.now()
	}
	s.next(ctx, e)
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}
