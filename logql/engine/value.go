package engine

import (
	"github.com/kubemate/kmlog/format/labels"
)

// ValueType names the kind of a query result, as Loki's resultType does.
type ValueType string

// Result types.
const (
	TypeStreams ValueType = "streams"
	TypeMatrix  ValueType = "matrix"
	TypeVector  ValueType = "vector"
	TypeScalar  ValueType = "scalar"
)

// Value is a query result: Streams, Matrix, Vector or Scalar.
type Value interface {
	Type() ValueType
}

// StreamEntry is one log line of a result. Timestamp is in Unix
// nanoseconds. StructuredMetadata and Parsed are the subsets of the
// stream's labels that came from the entry's structured metadata and from
// parsers; Loki shows them apart when asked to categorise labels.
type StreamEntry struct {
	Timestamp          int64
	Line               string
	StructuredMetadata labels.Labels
	Parsed             labels.Labels
}

// Stream is the lines of one output label set, in the query's direction.
// Labels include structured metadata and parsed labels, as Loki returns
// them by default.
type Stream struct {
	Labels  labels.Labels
	Entries []StreamEntry
}

// Streams is a log query result, sorted by the text of the labels.
type Streams []Stream

// Point is one sample of a series: T in Unix milliseconds.
type Point struct {
	T int64
	V float64
}

// Series is a labelled sequence of points in time order.
type Series struct {
	Labels labels.Labels
	Points []Point
}

// Matrix is a range query result, series sorted by labels.
type Matrix []Series

// Sample is one element of an instant vector: T in Unix milliseconds.
type Sample struct {
	Labels labels.Labels
	T      int64
	V      float64
}

// Vector is an instant query result.
type Vector []Sample

// Scalar is a plain number at a time (Unix milliseconds).
type Scalar struct {
	T int64
	V float64
}

// Type implements Value.
func (Streams) Type() ValueType { return TypeStreams }

// Type implements Value.
func (Matrix) Type() ValueType { return TypeMatrix }

// Type implements Value.
func (Vector) Type() ValueType { return TypeVector }

// Type implements Value.
func (Scalar) Type() ValueType { return TypeScalar }

// Stats counts the work of a query; partial results carry and merge them.
type Stats struct {
	// EntriesScanned and BytesScanned count what the Source returned
	// (line bytes only).
	EntriesScanned int64
	BytesScanned   int64
	// EntriesReturned counts log lines in the result.
	EntriesReturned int64
	// PostFilterLines counts lines that passed the pipeline.
	PostFilterLines int64
	// ExecTimeSeconds is the wall time of the evaluation.
	ExecTimeSeconds float64
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.EntriesScanned += o.EntriesScanned
	s.BytesScanned += o.BytesScanned
	s.EntriesReturned += o.EntriesReturned
	s.PostFilterLines += o.PostFilterLines
	s.ExecTimeSeconds += o.ExecTimeSeconds
}

// Result is the answer of a query.
type Result struct {
	Value Value
	Stats Stats
}
