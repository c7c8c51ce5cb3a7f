package lokijson

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/engine"
)

// HeaderEncodingFlags is the request header that asks for encoding flags.
const HeaderEncodingFlags = "X-Loki-Response-Encoding-Flags"

// FlagCategorizeLabels is the flag that separates stream labels,
// structured metadata and parsed labels.
const FlagCategorizeLabels = "categorize-labels"

// Options control the encoding.
type Options struct {
	// CategorizeLabels selects the categorize-labels stream shape.
	CategorizeLabels bool
	// Direction orders entries of streams regrouped by CategorizeLabels.
	Direction engine.Direction
}

// OptionsFromHeader reads the flags of an X-Loki-Response-Encoding-Flags
// header value (comma separated).
func OptionsFromHeader(v string) Options {
	var o Options
	for f := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(f) == FlagCategorizeLabels {
			o.CategorizeLabels = true
		}
	}
	return o
}

// Encode writes the success response of res to w.
func Encode(w io.Writer, res engine.Result, opt Options) error {
	_, err := w.Write(AppendResponse(nil, res, opt))
	return err
}

// AppendResponse appends the success response of res to b.
func AppendResponse(b []byte, res engine.Result, opt Options) []byte {
	b = append(b, `{"status":"success","data":{"resultType":"`...)
	if res.Value == nil {
		res.Value = engine.Streams{}
	}
	b = append(b, res.Value.Type()...)
	b = append(b, `","result":`...)
	b = AppendValue(b, res.Value, opt)
	b = append(b, `,"stats":`...)
	st, _ := json.Marshal(StatsFrom(res.Stats))
	b = append(b, st...)
	if opt.CategorizeLabels && res.Value.Type() == engine.TypeStreams {
		b = append(b, `,"encodingFlags":["categorize-labels"]`...)
	}
	return append(b, "}}"...)
}

// AppendValue appends the "result" member of a response.
func AppendValue(b []byte, v engine.Value, opt Options) []byte {
	switch v := v.(type) {
	case engine.Streams:
		if opt.CategorizeLabels {
			v = Categorize(v, opt.Direction)
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"stream":`...)
			b = appendLabels(b, s.Labels)
			b = append(b, `,"values":[`...)
			for j, e := range s.Entries {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `["`...)
				b = strconv.AppendInt(b, e.Timestamp, 10)
				b = append(b, `",`...)
				b = appendString(b, e.Line)
				if opt.CategorizeLabels {
					b = append(b, `,{`...)
					if len(e.StructuredMetadata) > 0 {
						b = append(b, `"structuredMetadata":`...)
						b = appendLabels(b, e.StructuredMetadata)
					}
					if len(e.Parsed) > 0 {
						if len(e.StructuredMetadata) > 0 {
							b = append(b, ',')
						}
						b = append(b, `"parsed":`...)
						b = appendLabels(b, e.Parsed)
					}
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, "]}"...)
		}
		return append(b, ']')
	case engine.Matrix:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Labels)
			b = append(b, `,"values":[`...)
			for j, p := range s.Points {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendPoint(b, p.T, p.V)
			}
			b = append(b, "]}"...)
		}
		return append(b, ']')
	case engine.Vector:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"metric":`...)
			b = appendLabels(b, s.Labels)
			b = append(b, `,"value":`...)
			b = appendPoint(b, s.T, s.V)
			b = append(b, '}')
		}
		return append(b, ']')
	case engine.Scalar:
		// Loki writes a scalar's time in milliseconds, unlike every other
		// result's seconds; clients of Loki expect that.
		b = append(b, '[')
		b = strconv.AppendInt(b, v.T, 10)
		b = append(b, `,"`...)
		b = AppendFloat(b, v.V)
		return append(b, `"]`...)
	}
	return append(b, "null"...)
}

// Categorize regroups streams by their stream labels alone (the labels
// that are neither structured metadata nor parsed), merging the entries
// of streams that share them in direction order.
func Categorize(ss engine.Streams, dir engine.Direction) engine.Streams {
	idx := make(map[string]int)
	var out engine.Streams
	var keys []string
	for _, s := range ss {
		for _, e := range s.Entries {
			base := s.Labels
			if len(e.StructuredMetadata) > 0 || len(e.Parsed) > 0 {
				base = without(s.Labels, e.StructuredMetadata, e.Parsed)
			}
			k := base.String()
			j, ok := idx[k]
			if !ok {
				j = len(out)
				idx[k] = j
				out = append(out, engine.Stream{Labels: base})
				keys = append(keys, k)
			}
			out[j].Entries = append(out[j].Entries, e)
		}
	}
	for i := range out {
		es := out[i].Entries
		sortEntries(es, dir)
	}
	sortStreams(out, keys)
	return out
}

func without(ls labels.Labels, a, b labels.Labels) labels.Labels {
	out := make(labels.Labels, 0, len(ls))
	for _, l := range ls {
		if a.Has(l.Name) || b.Has(l.Name) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func appendLabels(b []byte, ls labels.Labels) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, l.Name)
		b = append(b, ':')
		b = appendString(b, l.Value)
	}
	return append(b, '}')
}

// appendPoint writes [<seconds>,"<value>"].
func appendPoint(b []byte, ms int64, v float64) []byte {
	b = append(b, '[')
	b = AppendTime(b, ms)
	b = append(b, `,"`...)
	b = AppendFloat(b, v)
	return append(b, `"]`...)
}

// AppendTime appends Unix milliseconds as seconds with up to three
// decimals, trailing zeros removed (Prometheus's model.Time form).
func AppendTime(b []byte, ms int64) []byte {
	if ms < 0 {
		b = append(b, '-')
		if ms == math.MinInt64 {
			return append(b, "9223372036854775.808"...)
		}
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	if frac == 0 {
		return b
	}
	d := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	for d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	return append(b, d...)
}

// AppendFloat appends v as Prometheus prints sample values.
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does
// (HTML-safe characters excepted) and replacing invalid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
