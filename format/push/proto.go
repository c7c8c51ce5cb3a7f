package push

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kubemate/kmlog/format/labels"
)

// Field numbers of Loki's push.proto; see doc.go.
const (
	fieldRequestStreams = 1

	fieldStreamLabels  = 1
	fieldStreamEntries = 2

	fieldEntryTimestamp = 1
	fieldEntryLine      = 2
	fieldEntryMetadata  = 3

	fieldPairName  = 1
	fieldPairValue = 2

	fieldTimestampSeconds = 1
	fieldTimestampNanos   = 2
)

// DecodeProto decodes an uncompressed protobuf PushRequest. The strings of
// the result share one copy of b; b is not retained.
func DecodeProto(b []byte) (*Request, error) {
	return decodeProto(b, string(b))
}

// field is one decoded protobuf field of a message.
type field struct {
	num        protowire.Number
	typ        protowire.Type
	start, end int    // value bounds in the buffer, for BytesType
	v          uint64 // value, for VarintType
}

// protoDecoder decodes one PushRequest. b and s hold the same bytes: b to
// walk, s to cut strings from without copying.
type protoDecoder struct {
	b       []byte
	s       string
	entries []Entry        // backing array of every stream's Entries
	meta    []labels.Label // backing array of every entry's Metadata
}

// next reads the field at pos inside a message that ends at end.
func (d *protoDecoder) next(pos, end int, what string) (field, int, error) {
	num, typ, n := protowire.ConsumeTag(d.b[pos:end])
	if n < 0 {
		return field{}, 0, d.errorf(pos, protowire.ParseError(n), "read %s field tag", what)
	}
	f := field{num: num, typ: typ}
	rest := d.b[pos+n : end]
	var m int
	switch typ {
	case protowire.BytesType:
		var v []byte
		v, m = protowire.ConsumeBytes(rest)
		if m >= 0 {
			f.start = pos + n + m - len(v)
			f.end = f.start + len(v)
		}
	case protowire.VarintType:
		f.v, m = protowire.ConsumeVarint(rest)
	default:
		m = protowire.ConsumeFieldValue(num, typ, rest)
	}
	if m < 0 {
		return field{}, 0, d.errorf(pos, protowire.ParseError(m), "read %s field %d", what, num)
	}
	return f, pos + n + m, nil
}

func (d *protoDecoder) errorf(pos int, cause error, format string, args ...any) error {
	return &DecodeError{Format: "protobuf", Offset: int64(pos), Msg: fmt.Sprintf(format, args...), Err: cause}
}

func (d *protoDecoder) wantBytes(f field, pos int, what string) error {
	if f.typ != protowire.BytesType {
		return d.errorf(pos, nil, "%s field %d has wire type %d, want %d (length-delimited)", what, f.num, f.typ, protowire.BytesType)
	}
	return nil
}

func decodeProto(b []byte, s string) (*Request, error) {
	nStreams, nEntries, nMeta := countProto(b)
	d := protoDecoder{
		b:       b,
		s:       s,
		entries: make([]Entry, 0, nEntries),
		meta:    make([]labels.Label, 0, nMeta),
	}
	req := &Request{Streams: make([]Stream, 0, nStreams)}
	for pos := 0; pos < len(b); {
		at := pos
		f, next, err := d.next(pos, len(b), "request")
		if err != nil {
			return nil, err
		}
		pos = next
		if f.num != fieldRequestStreams {
			continue
		}
		if err := d.wantBytes(f, at, "request"); err != nil {
			return nil, err
		}
		st, err := d.stream(f.start, f.end)
		if err != nil {
			return nil, err
		}
		req.Streams = append(req.Streams, st)
	}
	return req, nil
}

func (d *protoDecoder) stream(pos, end int) (Stream, error) {
	var st Stream
	first := len(d.entries)
	for pos < end {
		at := pos
		f, next, err := d.next(pos, end, "stream")
		if err != nil {
			return Stream{}, err
		}
		pos = next
		switch f.num {
		case fieldStreamLabels:
			if err := d.wantBytes(f, at, "stream"); err != nil {
				return Stream{}, err
			}
			st.Labels = d.s[f.start:f.end]
		case fieldStreamEntries:
			if err := d.wantBytes(f, at, "stream"); err != nil {
				return Stream{}, err
			}
			e, err := d.entry(f.start, f.end)
			if err != nil {
				return Stream{}, err
			}
			d.entries = append(d.entries, e)
		}
	}
	if n := len(d.entries); n > first {
		st.Entries = d.entries[first:n:n]
	}
	return st, nil
}

func (d *protoDecoder) entry(pos, end int) (Entry, error) {
	var (
		e           Entry
		secs        int64
		nanos       int32
		first       = len(d.meta)
		timestampAt = -1
	)
	for pos < end {
		at := pos
		f, next, err := d.next(pos, end, "entry")
		if err != nil {
			return Entry{}, err
		}
		pos = next
		switch f.num {
		case fieldEntryTimestamp:
			if err := d.wantBytes(f, at, "entry"); err != nil {
				return Entry{}, err
			}
			if err := d.timestamp(f.start, f.end, &secs, &nanos); err != nil {
				return Entry{}, err
			}
			timestampAt = at
		case fieldEntryLine:
			if err := d.wantBytes(f, at, "entry"); err != nil {
				return Entry{}, err
			}
			e.Line = d.s[f.start:f.end]
		case fieldEntryMetadata:
			if err := d.wantBytes(f, at, "entry"); err != nil {
				return Entry{}, err
			}
			l, err := d.pair(f.start, f.end)
			if err != nil {
				return Entry{}, err
			}
			d.meta = append(d.meta, l)
		}
	}
	ns, ok := unixNano(secs, nanos)
	if !ok {
		return Entry{}, d.errorf(timestampAt, nil, "timestamp seconds=%d nanos=%d is out of range", secs, nanos)
	}
	e.Timestamp = ns
	if n := len(d.meta); n > first {
		e.Metadata = normalize(d.meta[first:n:n])
	}
	return e, nil
}

func (d *protoDecoder) timestamp(pos, end int, secs *int64, nanos *int32) error {
	for pos < end {
		at := pos
		f, next, err := d.next(pos, end, "timestamp")
		if err != nil {
			return err
		}
		pos = next
		if f.num != fieldTimestampSeconds && f.num != fieldTimestampNanos {
			continue
		}
		if f.typ != protowire.VarintType {
			return d.errorf(at, nil, "timestamp field %d has wire type %d, want %d (varint)", f.num, f.typ, protowire.VarintType)
		}
		if f.num == fieldTimestampSeconds {
			*secs = int64(f.v)
		} else {
			*nanos = int32(f.v)
		}
	}
	return nil
}

func (d *protoDecoder) pair(pos, end int) (labels.Label, error) {
	var l labels.Label
	for pos < end {
		at := pos
		f, next, err := d.next(pos, end, "structured metadata")
		if err != nil {
			return labels.Label{}, err
		}
		pos = next
		switch f.num {
		case fieldPairName, fieldPairValue:
			if err := d.wantBytes(f, at, "structured metadata"); err != nil {
				return labels.Label{}, err
			}
			if f.num == fieldPairName {
				l.Name = d.s[f.start:f.end]
			} else {
				l.Value = d.s[f.start:f.end]
			}
		}
	}
	return l, nil
}

// unixNano converts a protobuf Timestamp to Unix nanoseconds, reporting
// false when nanos is outside [0, 1e9) or the instant does not fit an int64.
func unixNano(secs int64, nanos int32) (int64, bool) {
	if nanos < 0 || nanos >= 1e9 {
		return 0, false
	}
	// The limits are math.MaxInt64 and math.MinInt64 split at 1e9.
	if secs > 9223372036 || (secs == 9223372036 && nanos > 854775807) {
		return 0, false
	}
	if secs < -9223372037 || (secs == -9223372037 && nanos < 145224192) {
		return 0, false
	}
	// For secs == -9223372037 the product wraps, and the sum wraps back:
	// Go integer arithmetic is modular and the true result fits.
	return secs*1e9 + int64(nanos), true
}

// splitNano is the inverse of unixNano.
func splitNano(ns int64) (secs int64, nanos int32) {
	secs, rem := ns/1e9, ns%1e9
	if rem < 0 {
		rem += 1e9
		secs--
	}
	return secs, int32(rem)
}

// countProto counts streams, entries and metadata pairs so that decoding
// allocates each backing array once. It stops quietly on malformed input;
// the decoder reports the error.
func countProto(b []byte) (streams, entries, meta int) {
	forEach(b, fieldRequestStreams, func(s []byte) {
		streams++
		forEach(s, fieldStreamEntries, func(e []byte) {
			entries++
			forEach(e, fieldEntryMetadata, func([]byte) { meta++ })
		})
	})
	return streams, entries, meta
}

// forEach calls fn with the value of every length-delimited field num of
// message b, stopping at the first malformed field.
func forEach(b []byte, num protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		n2, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			if n2 == num {
				fn(v)
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n2, typ, b)
		if m < 0 {
			return
		}
		b = b[m:]
	}
}

// sizeString is the encoded size of a proto3 string field with a one-byte
// tag, zero when the string is empty (the default is not written).
func sizeString(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeBytes(len(s))
}

func sizeTimestamp(ns int64) int {
	secs, nanos := splitNano(ns)
	n := 0
	if secs != 0 {
		n += 1 + protowire.SizeVarint(uint64(secs))
	}
	if nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(nanos))
	}
	return n
}

func sizePair(l labels.Label) int { return sizeString(l.Name) + sizeString(l.Value) }

func sizeEntry(e *Entry) int {
	n := 1 + protowire.SizeBytes(sizeTimestamp(e.Timestamp)) + sizeString(e.Line)
	for _, l := range e.Metadata {
		n += 1 + protowire.SizeBytes(sizePair(l))
	}
	return n
}

func sizeStream(s *Stream) int {
	n := sizeString(s.Labels)
	for i := range s.Entries {
		n += 1 + protowire.SizeBytes(sizeEntry(&s.Entries[i]))
	}
	return n
}

// ProtoSize returns the size of r's uncompressed protobuf encoding.
func ProtoSize(r *Request) int {
	n := 0
	for i := range r.Streams {
		n += 1 + protowire.SizeBytes(sizeStream(&r.Streams[i]))
	}
	return n
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// AppendProto appends r's uncompressed protobuf encoding to dst.
func AppendProto(dst []byte, r *Request) []byte {
	dst = growTo(dst, ProtoSize(r))
	for i := range r.Streams {
		s := &r.Streams[i]
		dst = protowire.AppendTag(dst, fieldRequestStreams, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(sizeStream(s)))
		dst = appendString(dst, fieldStreamLabels, s.Labels)
		for j := range s.Entries {
			e := &s.Entries[j]
			dst = protowire.AppendTag(dst, fieldStreamEntries, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(sizeEntry(e)))
			dst = protowire.AppendTag(dst, fieldEntryTimestamp, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(sizeTimestamp(e.Timestamp)))
			if secs, nanos := splitNano(e.Timestamp); secs != 0 || nanos != 0 {
				if secs != 0 {
					dst = protowire.AppendTag(dst, fieldTimestampSeconds, protowire.VarintType)
					dst = protowire.AppendVarint(dst, uint64(secs))
				}
				if nanos != 0 {
					dst = protowire.AppendTag(dst, fieldTimestampNanos, protowire.VarintType)
					dst = protowire.AppendVarint(dst, uint64(nanos))
				}
			}
			dst = appendString(dst, fieldEntryLine, e.Line)
			for _, l := range e.Metadata {
				dst = protowire.AppendTag(dst, fieldEntryMetadata, protowire.BytesType)
				dst = protowire.AppendVarint(dst, uint64(sizePair(l)))
				dst = appendString(dst, fieldPairName, l.Name)
				dst = appendString(dst, fieldPairValue, l.Value)
			}
		}
	}
	return dst
}

func growTo(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

var rawPool = sync.Pool{New: func() any { return new([]byte) }}

// EncodeProto returns r as a request body ready to send with
// Content-Type application/x-protobuf: protobuf in a snappy block.
func EncodeProto(r *Request) []byte {
	bp := rawPool.Get().(*[]byte)
	raw := AppendProto((*bp)[:0], r)
	out := s2.EncodeSnappy(nil, raw)
	if cap(raw) <= maxPooled {
		*bp = raw
		rawPool.Put(bp)
	}
	return out
}
