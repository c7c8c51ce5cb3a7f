package lokijson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/engine"
)

// ErrDecode is wrapped by every Decode error.
var ErrDecode = errors.New("decode loki response")

// Response is a decoded success response.
type Response struct {
	Value engine.Value
	Stats Stats
	// CategorizeLabels reports the categorize-labels flag; its streams
	// hold only stream labels, with metadata and parsed labels per entry.
	CategorizeLabels bool
}

type rawResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType    string          `json:"resultType"`
		Result        json.RawMessage `json:"result"`
		Stats         Stats           `json:"stats"`
		EncodingFlags []string        `json:"encodingFlags"`
	} `json:"data"`
}

// Decode reads a query response written by Encode or by Loki.
func Decode(data []byte) (Response, error) {
	var raw rawResponse
	if err := json.Unmarshal(data, &raw); err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if raw.Status != "success" {
		return Response{}, fmt.Errorf("%w: status %q: %s", ErrDecode, raw.Status, raw.Error)
	}
	resp := Response{Stats: raw.Data.Stats, CategorizeLabels: slices.Contains(raw.Data.EncodingFlags, FlagCategorizeLabels)}
	v, err := DecodeValue(raw.Data.ResultType, raw.Data.Result)
	if err != nil {
		return Response{}, err
	}
	resp.Value = v
	return resp, nil
}

// DecodeValue reads the "result" member of the given resultType.
func DecodeValue(resultType string, data []byte) (engine.Value, error) {
	data = bytes.TrimSpace(data)
	switch engine.ValueType(resultType) {
	case engine.TypeStreams:
		var raw []struct {
			Stream map[string]string   `json:"stream"`
			Values [][]json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("%w: streams: %w", ErrDecode, err)
		}
		out := make(engine.Streams, 0, len(raw))
		for _, s := range raw {
			st := engine.Stream{Labels: labels.FromMap(s.Stream), Entries: make([]engine.StreamEntry, 0, len(s.Values))}
			for _, v := range s.Values {
				e, err := decodeEntry(v)
				if err != nil {
					return nil, err
				}
				st.Entries = append(st.Entries, e)
			}
			out = append(out, st)
		}
		return out, nil
	case engine.TypeMatrix:
		var raw []struct {
			Metric map[string]string   `json:"metric"`
			Values [][]json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("%w: matrix: %w", ErrDecode, err)
		}
		out := make(engine.Matrix, 0, len(raw))
		for _, s := range raw {
			se := engine.Series{Labels: labels.FromMap(s.Metric), Points: make([]engine.Point, 0, len(s.Values))}
			for _, v := range s.Values {
				t, f, err := decodePoint(v)
				if err != nil {
					return nil, err
				}
				se.Points = append(se.Points, engine.Point{T: t, V: f})
			}
			out = append(out, se)
		}
		return out, nil
	case engine.TypeVector:
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("%w: vector: %w", ErrDecode, err)
		}
		out := make(engine.Vector, 0, len(raw))
		for _, s := range raw {
			t, f, err := decodePoint(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, engine.Sample{Labels: labels.FromMap(s.Metric), T: t, V: f})
		}
		return out, nil
	case engine.TypeScalar:
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("%w: scalar: %w", ErrDecode, err)
		}
		if len(raw) != 2 {
			return nil, fmt.Errorf("%w: scalar of %d elements", ErrDecode, len(raw))
		}
		// The time of a scalar is in milliseconds (see AppendValue).
		t, err := strconv.ParseInt(string(bytes.TrimSpace(raw[0])), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: scalar time: %w", ErrDecode, err)
		}
		var s string
		if err := json.Unmarshal(raw[1], &s); err != nil {
			return nil, fmt.Errorf("%w: scalar value: %w", ErrDecode, err)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: scalar value: %w", ErrDecode, err)
		}
		return engine.Scalar{T: t, V: f}, nil
	}
	return nil, fmt.Errorf("%w: unknown resultType %q", ErrDecode, resultType)
}

func decodeEntry(v []json.RawMessage) (engine.StreamEntry, error) {
	var e engine.StreamEntry
	if len(v) != 2 && len(v) != 3 {
		return e, fmt.Errorf("%w: stream value of %d elements", ErrDecode, len(v))
	}
	var ts string
	if err := json.Unmarshal(v[0], &ts); err != nil {
		return e, fmt.Errorf("%w: entry time: %w", ErrDecode, err)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return e, fmt.Errorf("%w: entry time: %w", ErrDecode, err)
	}
	e.Timestamp = n
	if err := json.Unmarshal(v[1], &e.Line); err != nil {
		return e, fmt.Errorf("%w: entry line: %w", ErrDecode, err)
	}
	if len(v) == 3 {
		var cat struct {
			StructuredMetadata map[string]string `json:"structuredMetadata"`
			Parsed             map[string]string `json:"parsed"`
		}
		if err := json.Unmarshal(v[2], &cat); err != nil {
			return e, fmt.Errorf("%w: entry labels: %w", ErrDecode, err)
		}
		if len(cat.StructuredMetadata) > 0 {
			e.StructuredMetadata = labels.FromMap(cat.StructuredMetadata)
		}
		if len(cat.Parsed) > 0 {
			e.Parsed = labels.FromMap(cat.Parsed)
		}
	}
	return e, nil
}

// decodePoint reads [<seconds>,"<value>"] into milliseconds and a float.
func decodePoint(v []json.RawMessage) (int64, float64, error) {
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("%w: sample of %d elements", ErrDecode, len(v))
	}
	ms, err := parseSeconds(string(bytes.TrimSpace(v[0])))
	if err != nil {
		return 0, 0, err
	}
	var s string
	if err := json.Unmarshal(v[1], &s); err != nil {
		return 0, 0, fmt.Errorf("%w: sample value: %w", ErrDecode, err)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: sample value: %w", ErrDecode, err)
	}
	return ms, f, nil
}

// parseSeconds reads a JSON number of seconds exactly into milliseconds.
func parseSeconds(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	if len(fp) > 3 || strings.ContainsAny(s, "eE+") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f > 9e15 {
			return 0, fmt.Errorf("%w: sample time %q", ErrDecode, s)
		}
		ms := int64(math.Round(f * 1000))
		if neg {
			ms = -ms
		}
		return ms, nil
	}
	sec, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || sec > math.MaxInt64/1000-1 {
		return 0, fmt.Errorf("%w: sample time %q", ErrDecode, s)
	}
	var frac int64
	if fp != "" {
		for len(fp) < 3 {
			fp += "0"
		}
		if frac, err = strconv.ParseInt(fp, 10, 64); err != nil || frac < 0 {
			return 0, fmt.Errorf("%w: sample time %q", ErrDecode, s)
		}
	}
	ms := sec*1000 + frac
	if neg {
		ms = -ms
	}
	return ms, nil
}
