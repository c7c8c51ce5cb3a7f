package engine

import (
	"errors"
	"fmt"

	"github.com/kubemate/kmlog/format/labels"
)

// Sentinel errors. Limit errors and query errors are the client's fault
// (HTTP 400); ErrBadPartial means a remote querier sent garbage.
var (
	// ErrLimit is wrapped by every error that stops a query at a limit.
	ErrLimit = errors.New("query limit reached")
	// ErrNotShardable: Partial was asked for a query that must run whole.
	ErrNotShardable = errors.New("query cannot be split into partial results")
	// ErrBadPartial: a partial result does not decode or does not belong
	// to the query it is merged or finalised with.
	ErrBadPartial = errors.New("invalid partial result")
	// ErrPipeline: a metric query produced a series carrying __error__.
	ErrPipeline = errors.New("pipeline error")
	// ErrBadQuery: the query is well formed but cannot be evaluated as
	// asked (a log query as an instant query, bad step, bad matching).
	ErrBadQuery = errors.New("invalid query")
)

// SeriesLimitError reports that a metric query produced more series than
// Opts.MaxSeries. Its text is Loki's.
type SeriesLimitError struct{ Limit int }

func (e *SeriesLimitError) Error() string {
	return fmt.Sprintf("maximum number of series (%d) reached for a single query; "+
		"consider reducing query cardinality by adding more specific stream selectors, "+
		"reducing the time range, or aggregating results with functions like sum(), count() or topk()", e.Limit)
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *SeriesLimitError) Unwrap() error { return ErrLimit }

// EntriesLimitError reports a log query whose limit exceeds
// Opts.MaxEntries. Its text is Loki's.
type EntriesLimitError struct{ Requested, Limit int }

func (e *EntriesLimitError) Error() string {
	return fmt.Sprintf("max entries limit per query exceeded, limit > max_entries_limit_per_query (%d > %d)", e.Requested, e.Limit)
}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *EntriesLimitError) Unwrap() error { return ErrLimit }

// PipelineError is Loki's error for a metric series that still carries
// __error__ after the pipeline: the user must filter or drop it.
type PipelineError struct {
	Series labels.Labels
	Kind   string
}

func newPipelineError(s labels.Labels) *PipelineError {
	return &PipelineError{Series: s, Kind: s.Get("__error__")}
}

func (e *PipelineError) Error() string {
	return fmt.Sprintf("pipeline error: '%s' for series: '%s'.\n"+
		"Use a label filter to intentionally skip this error. (e.g | __error__!=\"%s\").\n"+
		"To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"+
		"The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n",
		e.Kind, e.Series.String(), e.Kind)
}

// Unwrap makes errors.Is(err, ErrPipeline) true.
func (e *PipelineError) Unwrap() error { return ErrPipeline }
