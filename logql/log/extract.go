package log

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/kubemate/kmlog/format/labels"
)

// Conversion is how `unwrap` turns a label value into a sample.
type Conversion int

// Unwrap conversions.
const (
	ConvertFloat    Conversion = iota // unwrap label: strconv.ParseFloat
	ConvertDuration                   // unwrap duration(label) or duration_seconds(label): seconds
	ConvertBytes                      // unwrap bytes(label): ParseBytes
)

func (c Conversion) convert(s string) (float64, error) {
	switch c {
	case ConvertDuration:
		return durationSeconds(s)
	case ConvertBytes:
		b, err := ParseBytes(s)
		return float64(b), err
	}
	return strconv.ParseFloat(s, 64)
}

// LineValue is what a line-based extractor counts.
type LineValue int

// Line-based sample values.
const (
	CountValue LineValue = iota // count_over_time, rate: 1 per line
	BytesValue                  // bytes_over_time, bytes_rate: len(line) after the pipeline
)

// Grouping lets the extractor drop labels early, as Loki pushes `by` and
// `without` of the outer aggregation into extraction. The zero value
// keeps every label. A line with __error__ keeps all its labels, so the
// engine still sees the error.
type Grouping struct {
	By       []string // keep only these labels (when Without is false)
	Without  bool     // drop the By labels instead
	NoLabels bool     // drop every label
}

// SampleExtractor turns log lines into samples for metric queries: the
// pipeline stages run first, then the value is taken (1, the line length,
// or an unwrapped label), then the post-unwrap label filters run. It
// keeps per-stream state and is not safe for concurrent use.
type SampleExtractor struct {
	stages  []Stage
	post    []Stage
	line    LineValue
	label   string // unwrap label; "" for a line extractor
	conv    Conversion
	group   Grouping
	streams map[uint64]*StreamSampleExtractor
}

// NewLineSampleExtractor is the extractor of count_over_time and rate
// (CountValue) or bytes_over_time and bytes_rate (BytesValue).
func NewLineSampleExtractor(v LineValue, stages []Stage, g Grouping) *SampleExtractor {
	return &SampleExtractor{stages: stages, line: v, group: normGrouping(g, "")}
}

// NewLabelSampleExtractor is the extractor of `| unwrap [conv(]label[)]
// | post filters`. Lines without the label (or with it empty) are
// skipped; a value that does not convert yields 0 with
// __error__=SampleExtractionErr. Unless grouping by labels, the unwrapped
// label is removed from the series labels.
func NewLabelSampleExtractor(label string, conv Conversion, stages, post []Stage, g Grouping) (*SampleExtractor, error) {
	if label == "" {
		return nil, fmt.Errorf("compile unwrap: empty label: %w", ErrInvalidLabelName)
	}
	return &SampleExtractor{stages: stages, post: post, label: label, conv: conv, group: normGrouping(g, label)}, nil
}

func normGrouping(g Grouping, unwrap string) Grouping {
	g.By = slices.Clone(g.By)
	if unwrap != "" && !g.NoLabels && (len(g.By) == 0 || g.Without) {
		g.Without = true
		g.By = append(g.By, unwrap)
	}
	slices.Sort(g.By)
	g.By = slices.Compact(g.By)
	return g
}

// ForStream returns the extractor bound to stream.
func (e *SampleExtractor) ForStream(stream labels.Labels) *StreamSampleExtractor {
	h := stream.Hash()
	if e.streams == nil {
		e.streams = make(map[uint64]*StreamSampleExtractor)
	}
	if s, ok := e.streams[h]; ok && labels.Equal(s.builder.base, stream) {
		return s
	}
	s := &StreamSampleExtractor{e: e, builder: NewLabelsBuilder(stream), cache: newResultCache(stream)}
	s.base = s.group(s.cache.base)
	e.streams[h] = s
	return s
}

// Process runs one entry of stream; see StreamSampleExtractor.Process.
func (e *SampleExtractor) Process(ts int64, line []byte, stream, metadata labels.Labels) (float64, *LabelsResult, bool) {
	return e.ForStream(stream).Process(ts, line, metadata)
}

// StreamSampleExtractor is a SampleExtractor bound to one stream.
type StreamSampleExtractor struct {
	e       *SampleExtractor
	builder *LabelsBuilder
	cache   resultCache
	grouped resultCache // interned grouped results
	base    *LabelsResult
	scratch labels.Labels
}

// Process returns the sample of one entry, its series labels, and
// whether the entry yields a sample.
func (s *StreamSampleExtractor) Process(ts int64, line []byte, metadata labels.Labels) (float64, *LabelsResult, bool) {
	b := s.builder
	b.Reset()
	if len(metadata) > 0 {
		b.AddMetadata(metadata)
	}
	line, ok := runStages(s.e.stages, ts, line, b)
	if !ok {
		return 0, nil, false
	}
	var v float64
	if s.e.label == "" {
		v = 1
		if s.e.line == BytesValue {
			v = float64(len(line))
		}
	} else {
		str, _ := b.Get(s.e.label)
		if str == "" {
			return 0, nil, false
		}
		var err error
		if v, err = s.e.conv.convert(str); err != nil {
			v = 0
			b.setError(SampleExtractionErr, err)
		}
		if _, ok := runStages(s.e.post, ts, line, b); !ok {
			return 0, nil, false
		}
	}
	if b.unchanged() {
		return v, s.base, true
	}
	return v, s.group(s.cache.result(b)), true
}

// group applies the grouping to a full result.
func (s *StreamSampleExtractor) group(r *LabelsResult) *LabelsResult {
	g := s.e.group
	if !g.NoLabels && len(g.By) == 0 {
		return r
	}
	lbs := r.Labels()
	if lbs.Has(ErrorLabel) {
		return r
	}
	out := s.scratch[:0]
	if !g.NoLabels {
		for _, l := range lbs {
			_, in := slices.BinarySearch(g.By, l.Name)
			if in != g.Without {
				out = append(out, l)
			}
		}
	}
	s.scratch = out
	h := out.Hash()
	if c, ok := s.grouped.m[h]; ok && labels.Equal(c.lbs, out) {
		return c
	}
	res := newLabelsResult(slices.Clone(out), h)
	if s.grouped.m == nil {
		s.grouped.m = make(map[uint64]*LabelsResult)
	}
	if len(s.grouped.m) >= maxCachedResults {
		clear(s.grouped.m)
	}
	s.grouped.m[h] = res
	return res
}
