package push

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
)

// Request is one push: streams of entries.
type Request struct {
	Streams []Stream
}

// Stream is one labelled stream of a push.
type Stream struct {
	// Labels is the label set in text form, {a="b"}: verbatim as a protobuf
	// client sent it, or built from a JSON stream object. It is not
	// validated by decoding; ParseLabels does that.
	Labels  string
	Entries []Entry
}

// ParseLabels parses Labels into a sorted label set.
func (s *Stream) ParseLabels() (labels.Labels, error) {
	return labels.Parse(s.Labels)
}

// Entry is one log line.
type Entry struct {
	Timestamp int64 // Unix nanoseconds
	Line      string
	Metadata  labels.Labels // structured metadata; nil when none
}

// Stats summarises a request, for limits and metrics.
type Stats struct {
	Streams       int
	Entries       int
	LineBytes     int64 // sum of len(Line)
	MetadataBytes int64 // sum of len(Name)+len(Value) over structured metadata
	LabelsBytes   int64 // sum of len(Stream.Labels)
}

// Stats counts the request's streams, entries and bytes.
func (r *Request) Stats() Stats {
	st := Stats{Streams: len(r.Streams)}
	for i := range r.Streams {
		s := &r.Streams[i]
		st.Entries += len(s.Entries)
		st.LabelsBytes += int64(len(s.Labels))
		for j := range s.Entries {
			e := &s.Entries[j]
			st.LineBytes += int64(len(e.Line))
			for _, l := range e.Metadata {
				st.MetadataBytes += int64(len(l.Name) + len(l.Value))
			}
		}
	}
	return st
}

// ErrTooLarge is returned (wrapped) when a body, or one of its decompressed
// forms, exceeds the size cap. The gateway answers 413.
var ErrTooLarge = errors.New("push body too large")

// ErrUnsupportedEncoding is returned (wrapped) for a Content-Encoding the
// codec does not read. The gateway answers 415.
var ErrUnsupportedEncoding = errors.New("unsupported content encoding")

// DecodeError reports a body that could not be decoded: its format, where
// decoding stopped, and why.
type DecodeError struct {
	Format string // "protobuf", "json", "snappy", "gzip", "deflate", "content-type"
	Offset int64  // byte offset in the (decompressed) body; -1 when unknown
	Msg    string // what was wrong
	Err    error  // underlying cause, may be nil
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("decode push ")
	b.WriteString(e.Format)
	if e.Offset >= 0 {
		fmt.Fprintf(&b, ": at byte %d", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// normalize sorts ls by name in place and drops all but the last of each
// repeated name, keeping the original order of equal names stable. It
// returns the shortened slice, which shares ls's array.
func normalize(ls []labels.Label) labels.Labels {
	if len(ls) == 0 {
		return nil
	}
	strictly := true
	for i := 1; i < len(ls); i++ {
		if ls[i-1].Name >= ls[i].Name {
			strictly = false
			break
		}
	}
	if strictly {
		return ls
	}
	slices.SortStableFunc(ls, func(a, b labels.Label) int { return strings.Compare(a.Name, b.Name) })
	w := 0
	for i := range ls {
		if w > 0 && ls[w-1].Name == ls[i].Name {
			ls[w-1] = ls[i]
			continue
		}
		ls[w] = ls[i]
		w++
	}
	return ls[:w:w]
}
