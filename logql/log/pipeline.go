package log

import (
	"unsafe"

	"github.com/kubemate/kmlog/format/labels"
)

// Stage is one step of a log pipeline. Process returns the (possibly
// rewritten) line and whether to keep it; it may read and edit lb. The
// returned line may alias a buffer owned by the stage, valid until the
// stage's next call. A Stage keeps scratch state: it is used by one
// goroutine at a time.
type Stage interface {
	Process(ts int64, line []byte, lb *LabelsBuilder) ([]byte, bool)
}

// StageFunc adapts a function to Stage.
type StageFunc func(ts int64, line []byte, lb *LabelsBuilder) ([]byte, bool)

// Process calls f.
func (f StageFunc) Process(ts int64, line []byte, lb *LabelsBuilder) ([]byte, bool) {
	return f(ts, line, lb)
}

// Pipeline runs stages over entries of many streams, keeping one
// StreamPipeline (labels builder and result cache) per stream. It is not
// safe for concurrent use: build one per goroutine.
type Pipeline struct {
	stages  []Stage
	filters []Filterer // set when every stage is a line filter

	streams map[uint64]*StreamPipeline
	// last is the stream of the previous Process call, found again by the
	// identity of its label slice without hashing.
	last     *StreamPipeline
	lastData *labels.Label
	lastLen  int
}

// NewPipeline returns a pipeline of stages, run in order. No stages means
// every line passes unchanged with its stream labels.
func NewPipeline(stages ...Stage) *Pipeline {
	p := &Pipeline{stages: stages, streams: make(map[uint64]*StreamPipeline)}
	filters := make([]Filterer, 0, len(stages))
	for _, s := range stages {
		lf, ok := s.(lineFilterStage)
		if !ok {
			filters = nil
			break
		}
		filters = append(filters, lf.f)
	}
	if filters != nil {
		p.filters = filters
	}
	return p
}

// Stages returns the stages of the pipeline.
func (p *Pipeline) Stages() []Stage { return p.stages }

// ForStream returns the per-stream pipeline of stream, creating it once.
func (p *Pipeline) ForStream(stream labels.Labels) *StreamPipeline {
	h := stream.Hash()
	if sp, ok := p.streams[h]; ok && labels.Equal(sp.builder.base, stream) {
		return sp
	}
	sp := &StreamPipeline{
		stages:  p.stages,
		filters: p.filters,
		builder: NewLabelsBuilder(stream),
		cache:   newResultCache(stream),
	}
	p.streams[h] = sp
	return sp
}

// Process runs one entry of stream through the pipeline. It returns the
// output line (valid until the next call), the output labels and whether
// the line is kept. metadata is the entry's structured metadata. The
// stream's label slice is recognised by identity between calls, so it
// must not be modified while the pipeline is in use.
func (p *Pipeline) Process(ts int64, line []byte, stream, metadata labels.Labels) ([]byte, *LabelsResult, bool) {
	var sp *StreamPipeline
	if d := unsafe.SliceData(stream); p.last != nil && d == p.lastData && len(stream) == p.lastLen {
		sp = p.last
	} else {
		sp = p.ForStream(stream)
		p.last, p.lastData, p.lastLen = sp, d, len(stream)
	}
	return sp.Process(ts, line, metadata)
}

// Reset forgets all per-stream state.
func (p *Pipeline) Reset() {
	clear(p.streams)
	p.last, p.lastData, p.lastLen = nil, nil, 0
}

// StreamPipeline is a Pipeline bound to one stream: the builder starts
// from the stream's labels and results are interned per stream.
type StreamPipeline struct {
	stages  []Stage
	filters []Filterer
	builder *LabelsBuilder
	cache   resultCache
}

// BaseLabels returns the stream's labels as a result.
func (sp *StreamPipeline) BaseLabels() *LabelsResult { return sp.cache.base }

// Process runs one entry; see Pipeline.Process.
func (sp *StreamPipeline) Process(ts int64, line []byte, metadata labels.Labels) ([]byte, *LabelsResult, bool) {
	if sp.filters != nil && len(metadata) == 0 {
		for _, f := range sp.filters {
			if !f.Filter(line) {
				return nil, nil, false
			}
		}
		return line, sp.cache.base, true
	}
	b := sp.builder
	b.Reset()
	if len(metadata) > 0 {
		b.AddMetadata(metadata)
	}
	line, ok := runStages(sp.stages, ts, line, b)
	if !ok {
		return nil, nil, false
	}
	return line, sp.cache.result(b), true
}

func runStages(stages []Stage, ts int64, line []byte, b *LabelsBuilder) ([]byte, bool) {
	var ok bool
	for _, s := range stages {
		line, ok = s.Process(ts, line, b)
		if !ok {
			return nil, false
		}
	}
	return line, true
}
