package distributor

import (
	"fmt"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/ingestgw/limits"
)

// Discard reasons, as in Loki's discarded-samples metric.
const (
	reasonInvalidLabels      = "invalid_labels"
	reasonMissingLabels      = "missing_labels"
	reasonMaxLabelNames      = "max_label_names_per_series"
	reasonLabelNameTooLong   = "label_name_too_long"
	reasonLabelValueTooLong  = "label_value_too_long"
	reasonLineTooLong        = "line_too_long"
	reasonTooOld             = "greater_than_max_sample_age"
	reasonTooNew             = "too_far_in_future"
	reasonMetadataTooLarge   = "structured_metadata_too_large"
	reasonMetadataTooMany    = "structured_metadata_too_many"
	reasonRateLimited        = "rate_limited"
	reasonInvalidMetadataKey = "invalid_structured_metadata"
)

// validationError is one rejected stream or entry, with Loki's message.
type validationError struct {
	reason string
	msg    string
}

// validStream is a stream that passed label validation.
type validStream struct {
	labels  labels.Labels
	text    string // canonical labels.String()
	hash    uint64
	entries []push.Entry
}

// validateLabels parses and checks a stream's labels.
func validateLabels(l limits.Limits, s *push.Stream) (labels.Labels, *validationError) {
	ls, err := s.ParseLabels()
	if err != nil {
		return nil, &validationError{reasonInvalidLabels, fmt.Sprintf("Error parsing labels '%s' with error: %v", s.Labels, err)}
	}
	if len(ls) == 0 {
		return nil, &validationError{reasonMissingLabels, "error at least one label pair is required per stream"}
	}
	if l.MaxLabelNamesPerSeries > 0 && len(ls) > l.MaxLabelNamesPerSeries {
		return nil, &validationError{reasonMaxLabelNames, fmt.Sprintf("entry for stream '%s' has %d label names; limit %d", s.Labels, len(ls), l.MaxLabelNamesPerSeries)}
	}
	for _, lb := range ls {
		if l.MaxLabelNameLength > 0 && len(lb.Name) > l.MaxLabelNameLength {
			return nil, &validationError{reasonLabelNameTooLong, fmt.Sprintf("stream '%s' has label name too long: '%s'", s.Labels, lb.Name)}
		}
		if l.MaxLabelValueLength > 0 && len(lb.Value) > l.MaxLabelValueLength {
			return nil, &validationError{reasonLabelValueTooLong, fmt.Sprintf("stream '%s' has label value too long: '%s'", s.Labels, lb.Value)}
		}
	}
	return ls, nil
}

// validateEntry checks one entry; it may truncate the line when the limits
// say so. now is the distributor's clock in Unix nanoseconds.
func validateEntry(l limits.Limits, stream string, e *push.Entry, now int64) *validationError {
	if l.RejectOldSamples && l.RejectOldSamplesMaxAge > 0 {
		oldest := now - int64(l.RejectOldSamplesMaxAge)
		if e.Timestamp < oldest {
			return &validationError{reasonTooOld, fmt.Sprintf("entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s",
				stream, fmtTime(e.Timestamp), fmtTime(oldest))}
		}
	}
	if e.Timestamp > now+int64(l.CreationGracePeriod) {
		return &validationError{reasonTooNew, fmt.Sprintf("entry for stream '%s' has timestamp too new: %s", stream, fmtTime(e.Timestamp))}
	}
	if max := int(l.MaxLineSize); max > 0 && len(e.Line) > max {
		if !l.MaxLineSizeTruncate {
			return &validationError{reasonLineTooLong, fmt.Sprintf("max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes", max, stream, len(e.Line))}
		}
		e.Line = e.Line[:max]
	}
	if len(e.Metadata) > 0 {
		if l.MaxStructuredMetadataKeys > 0 && len(e.Metadata) > l.MaxStructuredMetadataKeys {
			return &validationError{reasonMetadataTooMany, fmt.Sprintf("structured metadata entries count for stream '%s' is %d; limit %d", stream, len(e.Metadata), l.MaxStructuredMetadataKeys)}
		}
		size := 0
		for _, m := range e.Metadata {
			if !labels.ValidName(m.Name) {
				return &validationError{reasonInvalidMetadataKey, fmt.Sprintf("stream '%s' has invalid structured metadata name: '%s'", stream, m.Name)}
			}
			size += len(m.Name) + len(m.Value)
		}
		if max := int(l.MaxStructuredMetadataSize); max > 0 && size > max {
			return &validationError{reasonMetadataTooLarge, fmt.Sprintf("structured metadata size for stream '%s' is %d bytes; limit %d", stream, size, max)}
		}
	}
	return nil
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
