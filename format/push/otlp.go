package push

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kubemate/kmlog/format/labels"
)

// OTLP logs (POST /otlp/v1/logs): an ExportLogsServiceRequest, protobuf
// (Content-Type application/x-protobuf) or OTLP/JSON (application/json),
// mapped to a Request as Loki 3 maps it by default:
//
//   - resource attributes named in OTLPIndexAttributes become stream
//     labels (dots and other invalid characters turned into '_':
//     service.name → service_name); a resource without service.name gets
//     service_name from the first of OTLPServiceNameLabels among those
//     labels, else "unknown_service"; every other resource attribute
//     becomes structured metadata;
//   - scope attributes, scope_name, scope_version and
//     scope_dropped_attributes_count become structured metadata;
//   - log attributes become structured metadata, and so do
//     observed_timestamp (when the record also has a time),
//     severity_number, severity_text, dropped_attributes_count, flags,
//     trace_id and span_id (lowercase hex) and event_name;
//   - the line is the body as text (strings as they are, numbers and
//     booleans printed, maps and lists as JSON, bytes as base64); the time
//     is time_unix_nano, else observed_time_unix_nano.
//
// Map-valued attributes flatten to one label per leaf, the keys joined
// with '_'.

// OTLPIndexAttributes are the resource attributes Loki 3 makes stream
// labels by default.
var OTLPIndexAttributes = []string{
	"service.name", "service.namespace", "service.instance.id",
	"deployment.environment", "deployment.environment.name",
	"cloud.region", "cloud.availability_zone",
	"k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name",
	"container.name", "k8s.replicaset.name", "k8s.deployment.name", "k8s.statefulset.name",
	"k8s.daemonset.name", "k8s.cronjob.name", "k8s.job.name",
}

// OTLPServiceNameLabels are the stream labels Loki 3 looks for, in order,
// to name the service of a resource without service.name (its default
// discover_service_name).
var OTLPServiceNameLabels = []string{
	"service", "app", "application", "app_name", "name", "app_kubernetes_io_name",
	"container", "container_name", "k8s_container_name", "component", "workload", "job", "k8s_job_name",
}

// OTLP field numbers (opentelemetry-proto, logs/v1 and common/v1).
const (
	otlpRequestResourceLogs = 1

	otlpResourceLogsResource = 1
	otlpResourceLogsScope    = 2

	otlpResourceAttributes = 1

	otlpScopeLogsScope   = 1
	otlpScopeLogsRecords = 2

	otlpScopeName       = 1
	otlpScopeVersion    = 2
	otlpScopeAttributes = 3
	otlpScopeDropped    = 4

	otlpRecordTime         = 1
	otlpRecordSeverityNum  = 2
	otlpRecordSeverityText = 3
	otlpRecordBody         = 5
	otlpRecordAttributes   = 6
	otlpRecordDropped      = 7
	otlpRecordFlags        = 8
	otlpRecordTraceID      = 9
	otlpRecordSpanID       = 10
	otlpRecordObserved     = 11
	otlpRecordEventName    = 12

	otlpKVKey   = 1
	otlpKVValue = 2

	otlpAnyString = 1
	otlpAnyBool   = 2
	otlpAnyInt    = 3
	otlpAnyDouble = 4
	otlpAnyArray  = 5
	otlpAnyKVList = 6
	otlpAnyBytes  = 7

	otlpListValues = 1
)

// otlpValue is an OTLP AnyValue.
type otlpValue struct {
	kind  int // one of otlpAny*, 0 when empty
	str   string
	num   int64
	dbl   float64
	bytes []byte
	list  []otlpValue
	kvs   []otlpKV
}

type otlpKV struct {
	key string
	val otlpValue
}

type otlpScope struct {
	name, version string
	attrs         []otlpKV
	dropped       uint64
}

type otlpRecord struct {
	time, observed  uint64
	severityNum     int64
	severityText    string
	body            otlpValue
	attrs           []otlpKV
	dropped, flags  uint64
	traceID, spanID []byte
	eventName       string
}

type otlpScopeLogs struct {
	scope   otlpScope
	records []otlpRecord
}

type otlpResourceLogs struct {
	attrs  []otlpKV
	scopes []otlpScopeLogs
}

// DecodeOTLPRequest reads an OTLP logs export request from r (gzip or
// deflate per contentEncoding; at most maxBytes, 0 for the default) and
// maps it to a Request. contentType selects OTLP/JSON
// (application/json); anything else is protobuf.
func DecodeOTLPRequest(r io.Reader, contentType, contentEncoding string, maxBytes int64) (*Request, error) {
	if maxBytes <= 0 || maxBytes > defaultMaxBytes {
		maxBytes = defaultMaxBytes
	}
	isJSON, err := isJSONContentType(contentType)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r, contentEncoding, maxBytes, nil)
	if err != nil {
		return nil, err
	}
	if isJSON {
		return DecodeOTLPJSON(body)
	}
	return DecodeOTLPProto(body)
}

// DecodeOTLPProto decodes a protobuf ExportLogsServiceRequest.
func DecodeOTLPProto(b []byte) (*Request, error) {
	var rls []otlpResourceLogs
	err := eachField(b, 0, "ExportLogsServiceRequest", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64, off int) error {
		if num != otlpRequestResourceLogs || typ != protowire.BytesType {
			return nil
		}
		rl, err := otlpDecodeResourceLogs(v, off)
		if err != nil {
			return err
		}
		rls = append(rls, rl)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return otlpToRequest(rls), nil
}

// eachField calls fn for every field of the message b (at offset base of
// the body, for errors). v is the payload of a length-delimited field; x
// the value of a varint or fixed field.
func eachField(b []byte, base int, what string, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64, off int) error) error {
	pos := 0
	for pos < len(b) {
		num, typ, n := protowire.ConsumeTag(b[pos:])
		if n < 0 {
			return otlpErr(base+pos, what, protowire.ParseError(n))
		}
		pos += n
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b[pos:])
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b[pos:])
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b[pos:])
			x = uint64(y)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b[pos:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[pos:])
		}
		if n < 0 {
			return otlpErr(base+pos, what, protowire.ParseError(n))
		}
		if err := fn(num, typ, v, x, base+pos); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

func otlpErr(off int, what string, err error) error {
	return &DecodeError{Format: "otlp protobuf", Offset: int64(off), Msg: "read " + what, Err: err}
}

func otlpDecodeResourceLogs(b []byte, base int) (otlpResourceLogs, error) {
	var rl otlpResourceLogs
	err := eachField(b, base, "ResourceLogs", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64, off int) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case otlpResourceLogsResource:
			return eachField(v, off, "Resource", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64, off int) error {
				if num == otlpResourceAttributes && typ == protowire.BytesType {
					kv, err := otlpDecodeKV(v, off, 0)
					if err != nil {
						return err
					}
					rl.attrs = append(rl.attrs, kv)
				}
				return nil
			})
		case otlpResourceLogsScope:
			sl, err := otlpDecodeScopeLogs(v, off)
			if err != nil {
				return err
			}
			rl.scopes = append(rl.scopes, sl)
		}
		return nil
	})
	return rl, err
}

func otlpDecodeScopeLogs(b []byte, base int) (otlpScopeLogs, error) {
	var sl otlpScopeLogs
	err := eachField(b, base, "ScopeLogs", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64, off int) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case otlpScopeLogsScope:
			return eachField(v, off, "InstrumentationScope", func(num protowire.Number, typ protowire.Type, v []byte, x uint64, off int) error {
				switch {
				case num == otlpScopeName && typ == protowire.BytesType:
					sl.scope.name = string(v)
				case num == otlpScopeVersion && typ == protowire.BytesType:
					sl.scope.version = string(v)
				case num == otlpScopeAttributes && typ == protowire.BytesType:
					kv, err := otlpDecodeKV(v, off, 0)
					if err != nil {
						return err
					}
					sl.scope.attrs = append(sl.scope.attrs, kv)
				case num == otlpScopeDropped && typ == protowire.VarintType:
					sl.scope.dropped = x
				}
				return nil
			})
		case otlpScopeLogsRecords:
			rec, err := otlpDecodeRecord(v, off)
			if err != nil {
				return err
			}
			sl.records = append(sl.records, rec)
		}
		return nil
	})
	return sl, err
}

func otlpDecodeRecord(b []byte, base int) (otlpRecord, error) {
	var r otlpRecord
	err := eachField(b, base, "LogRecord", func(num protowire.Number, typ protowire.Type, v []byte, x uint64, off int) error {
		switch num {
		case otlpRecordTime:
			r.time = x
		case otlpRecordObserved:
			r.observed = x
		case otlpRecordSeverityNum:
			r.severityNum = int64(int32(x))
		case otlpRecordSeverityText:
			r.severityText = string(v)
		case otlpRecordBody:
			if typ == protowire.BytesType {
				val, err := otlpDecodeAny(v, off, 0)
				if err != nil {
					return err
				}
				r.body = val
			}
		case otlpRecordAttributes:
			if typ == protowire.BytesType {
				kv, err := otlpDecodeKV(v, off, 0)
				if err != nil {
					return err
				}
				r.attrs = append(r.attrs, kv)
			}
		case otlpRecordDropped:
			r.dropped = x
		case otlpRecordFlags:
			r.flags = x
		case otlpRecordTraceID:
			r.traceID = slices.Clone(v)
		case otlpRecordSpanID:
			r.spanID = slices.Clone(v)
		case otlpRecordEventName:
			r.eventName = string(v)
		}
		return nil
	})
	return r, err
}

// maxOTLPDepth bounds nested AnyValues, so a hostile body cannot exhaust
// the stack.
const maxOTLPDepth = 64

func otlpDecodeKV(b []byte, base, depth int) (otlpKV, error) {
	var kv otlpKV
	err := eachField(b, base, "KeyValue", func(num protowire.Number, typ protowire.Type, v []byte, _ uint64, off int) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case otlpKVKey:
			kv.key = string(v)
		case otlpKVValue:
			val, err := otlpDecodeAny(v, off, depth+1)
			if err != nil {
				return err
			}
			kv.val = val
		}
		return nil
	})
	return kv, err
}

func otlpDecodeAny(b []byte, base, depth int) (otlpValue, error) {
	if depth > maxOTLPDepth {
		return otlpValue{}, &DecodeError{Format: "otlp protobuf", Offset: int64(base), Msg: "values nested too deep"}
	}
	var out otlpValue
	err := eachField(b, base, "AnyValue", func(num protowire.Number, typ protowire.Type, v []byte, x uint64, off int) error {
		switch num {
		case otlpAnyString:
			out = otlpValue{kind: otlpAnyString, str: string(v)}
		case otlpAnyBool:
			out = otlpValue{kind: otlpAnyBool, num: int64(x)}
		case otlpAnyInt:
			out = otlpValue{kind: otlpAnyInt, num: int64(x)}
		case otlpAnyDouble:
			out = otlpValue{kind: otlpAnyDouble, dbl: math.Float64frombits(x)}
		case otlpAnyBytes:
			out = otlpValue{kind: otlpAnyBytes, bytes: slices.Clone(v)}
		case otlpAnyArray, otlpAnyKVList:
			if typ != protowire.BytesType {
				return nil
			}
			out = otlpValue{kind: int(num)}
			return eachField(v, off, "list", func(n protowire.Number, typ protowire.Type, v []byte, _ uint64, off int) error {
				if n != otlpListValues || typ != protowire.BytesType {
					return nil
				}
				if num == otlpAnyArray {
					e, err := otlpDecodeAny(v, off, depth+1)
					out.list = append(out.list, e)
					return err
				}
				kv, err := otlpDecodeKV(v, off, depth+1)
				out.kvs = append(out.kvs, kv)
				return err
			})
		}
		return nil
	})
	return out, err
}

// String is the value as text, as OpenTelemetry's pcommon.Value.AsString
// (which Loki uses) renders it.
func (v otlpValue) String() string {
	switch v.kind {
	case otlpAnyString:
		return v.str
	case otlpAnyBool:
		return strconv.FormatBool(v.num != 0)
	case otlpAnyInt:
		return strconv.FormatInt(v.num, 10)
	case otlpAnyDouble:
		return otlpFloat(v.dbl)
	case otlpAnyBytes:
		return base64.StdEncoding.EncodeToString(v.bytes)
	case otlpAnyArray, otlpAnyKVList:
		b, err := json.Marshal(v.raw())
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

// otlpFloat prints a double as JSON numbers are printed (ES6 style).
func otlpFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(b)
}

// raw is the value as plain Go data, for JSON.
func (v otlpValue) raw() any {
	switch v.kind {
	case otlpAnyString:
		return v.str
	case otlpAnyBool:
		return v.num != 0
	case otlpAnyInt:
		return v.num
	case otlpAnyDouble:
		if math.IsInf(v.dbl, 0) || math.IsNaN(v.dbl) {
			return otlpFloat(v.dbl)
		}
		return v.dbl
	case otlpAnyBytes:
		return base64.StdEncoding.EncodeToString(v.bytes)
	case otlpAnyArray:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			out[i] = e.raw()
		}
		return out
	case otlpAnyKVList:
		out := make(map[string]any, len(v.kvs))
		for _, kv := range v.kvs {
			out[kv.key] = kv.val.raw()
		}
		return out
	}
	return nil
}

// otlpLabelName makes an attribute key a valid label name: characters
// other than letters, digits and '_' become '_'; a leading digit gets the
// prefix "key_".
func otlpLabelName(k string) string {
	var b strings.Builder
	for i, r := range k {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteString("key_")
			ok = true
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// otlpAttrLabels appends the labels of one attribute: one per leaf of a
// map value, names joined with '_'.
func otlpAttrLabels(dst []labels.Label, prefix string, kv otlpKV) []labels.Label {
	name := kv.key
	if prefix != "" {
		name = prefix + "_" + name
	}
	name = otlpLabelName(name)
	if kv.val.kind == otlpAnyKVList {
		for _, c := range kv.val.kvs {
			dst = otlpAttrLabels(dst, name, c)
		}
		return dst
	}
	return append(dst, labels.Label{Name: name, Value: kv.val.String()})
}

func otlpToRequest(rls []otlpResourceLogs) *Request {
	req := &Request{}
	index := map[string]int{}
	for _, rl := range rls {
		stream := labels.NewBuilder(nil)
		var resMeta []labels.Label
		hasService := false
		for _, kv := range rl.attrs {
			if slices.Contains(OTLPIndexAttributes, kv.key) {
				for _, l := range otlpAttrLabels(nil, "", kv) {
					stream.Set(l.Name, l.Value)
				}
				if kv.key == "service.name" && kv.val.String() != "" {
					hasService = true
				}
				continue
			}
			resMeta = otlpAttrLabels(resMeta, "", kv)
		}
		ls := stream.Labels()
		if !hasService {
			name := "unknown_service"
			for _, n := range OTLPServiceNameLabels {
				if v := ls.Get(n); v != "" {
					name = v
					break
				}
			}
			ls = stream.Set("service_name", name).Labels()
		}
		key := ls.String()
		for _, sl := range rl.scopes {
			scopeMeta := otlpScopeMeta(sl.scope)
			for _, r := range sl.records {
				md := slices.Clone(resMeta)
				md = append(md, scopeMeta...)
				md = append(md, otlpRecordMeta(r)...)
				ts := r.time
				if ts == 0 {
					ts = r.observed
				}
				i, ok := index[key]
				if !ok {
					i = len(req.Streams)
					index[key] = i
					req.Streams = append(req.Streams, Stream{Labels: key})
				}
				req.Streams[i].Entries = append(req.Streams[i].Entries, Entry{
					Timestamp: int64(ts), Line: r.body.String(), Metadata: otlpMetadata(md),
				})
			}
		}
	}
	return req
}

func otlpScopeMeta(s otlpScope) []labels.Label {
	var md []labels.Label
	for _, kv := range s.attrs {
		md = otlpAttrLabels(md, "", kv)
	}
	if s.name != "" {
		md = append(md, labels.Label{Name: "scope_name", Value: s.name})
	}
	if s.version != "" {
		md = append(md, labels.Label{Name: "scope_version", Value: s.version})
	}
	if s.dropped != 0 {
		md = append(md, labels.Label{Name: "scope_dropped_attributes_count", Value: strconv.FormatUint(s.dropped, 10)})
	}
	return md
}

func otlpRecordMeta(r otlpRecord) []labels.Label {
	var md []labels.Label
	for _, kv := range r.attrs {
		if kv.key == "event_name" && r.eventName != "" {
			continue
		}
		md = otlpAttrLabels(md, "", kv)
	}
	if r.time != 0 && r.observed != 0 {
		md = append(md, labels.Label{Name: "observed_timestamp", Value: strconv.FormatUint(r.observed, 10)})
	}
	if r.severityNum != 0 {
		md = append(md, labels.Label{Name: "severity_number", Value: strconv.FormatInt(r.severityNum, 10)})
	}
	if r.severityText != "" {
		md = append(md, labels.Label{Name: "severity_text", Value: r.severityText})
	}
	if r.dropped != 0 {
		md = append(md, labels.Label{Name: "dropped_attributes_count", Value: strconv.FormatUint(r.dropped, 10)})
	}
	if r.flags != 0 {
		md = append(md, labels.Label{Name: "flags", Value: strconv.FormatUint(r.flags, 10)})
	}
	if len(r.traceID) > 0 && !allZero(r.traceID) {
		md = append(md, labels.Label{Name: "trace_id", Value: hex.EncodeToString(r.traceID)})
	}
	if len(r.spanID) > 0 && !allZero(r.spanID) {
		md = append(md, labels.Label{Name: "span_id", Value: hex.EncodeToString(r.spanID)})
	}
	if r.eventName != "" {
		md = append(md, labels.Label{Name: "event_name", Value: r.eventName})
	}
	return md
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

// otlpMetadata sorts md by name; of a name given twice the last value
// wins. Empty values are dropped (they mean "absent").
func otlpMetadata(md []labels.Label) labels.Labels {
	if len(md) == 0 {
		return nil
	}
	b := labels.NewBuilder(nil)
	for _, l := range md {
		if l.Value != "" {
			b.Set(l.Name, l.Value)
		}
	}
	out := b.Labels()
	if len(out) == 0 {
		return nil
	}
	return out
}

// OTLP/JSON (the protobuf JSON mapping with OTLP's rules: camelCase names,
// trace and span ids in hex, 64-bit integers as strings or numbers, enums
// as numbers or names).

type otlpJSONRequest struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []otlpJSONKV `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			Scope struct {
				Name                   string          `json:"name"`
				Version                string          `json:"version"`
				Attributes             []otlpJSONKV    `json:"attributes"`
				DroppedAttributesCount json.RawMessage `json:"droppedAttributesCount"`
			} `json:"scope"`
			LogRecords []struct {
				TimeUnixNano           json.RawMessage `json:"timeUnixNano"`
				ObservedTimeUnixNano   json.RawMessage `json:"observedTimeUnixNano"`
				SeverityNumber         json.RawMessage `json:"severityNumber"`
				SeverityText           string          `json:"severityText"`
				Body                   *otlpJSONAny    `json:"body"`
				Attributes             []otlpJSONKV    `json:"attributes"`
				DroppedAttributesCount json.RawMessage `json:"droppedAttributesCount"`
				Flags                  json.RawMessage `json:"flags"`
				TraceID                string          `json:"traceId"`
				SpanID                 string          `json:"spanId"`
				EventName              string          `json:"eventName"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type otlpJSONKV struct {
	Key   string       `json:"key"`
	Value *otlpJSONAny `json:"value"`
}

type otlpJSONAny struct {
	StringValue *string         `json:"stringValue"`
	BoolValue   *bool           `json:"boolValue"`
	IntValue    json.RawMessage `json:"intValue"`
	DoubleValue json.RawMessage `json:"doubleValue"`
	BytesValue  *string         `json:"bytesValue"`
	ArrayValue  *struct {
		Values []otlpJSONAny `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []otlpJSONKV `json:"values"`
	} `json:"kvlistValue"`
}

// otlpSeverities are the SeverityNumber enum names OTLP/JSON may use.
var otlpSeverities = func() map[string]int64 {
	m := map[string]int64{"SEVERITY_NUMBER_UNSPECIFIED": 0}
	for i, n := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"} {
		m["SEVERITY_NUMBER_"+n] = int64(i*4 + 1)
		for j := 2; j <= 4; j++ {
			m["SEVERITY_NUMBER_"+n+strconv.Itoa(j)] = int64(i*4 + j)
		}
	}
	return m
}()

// DecodeOTLPJSON decodes an OTLP/JSON ExportLogsServiceRequest.
func DecodeOTLPJSON(b []byte) (*Request, error) {
	var in otlpJSONRequest
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		return nil, &DecodeError{Format: "otlp json", Offset: d.InputOffset(), Msg: "decode ExportLogsServiceRequest", Err: err}
	}
	var rls []otlpResourceLogs
	for _, jrl := range in.ResourceLogs {
		var rl otlpResourceLogs
		var err error
		if rl.attrs, err = otlpJSONKVs(jrl.Resource.Attributes, 0); err != nil {
			return nil, err
		}
		for _, jsl := range jrl.ScopeLogs {
			var sl otlpScopeLogs
			sl.scope.name, sl.scope.version = jsl.Scope.Name, jsl.Scope.Version
			if sl.scope.attrs, err = otlpJSONKVs(jsl.Scope.Attributes, 0); err != nil {
				return nil, err
			}
			if sl.scope.dropped, err = otlpJSONUint(jsl.Scope.DroppedAttributesCount, "droppedAttributesCount"); err != nil {
				return nil, err
			}
			for _, jr := range jsl.LogRecords {
				var r otlpRecord
				if r.time, err = otlpJSONUint(jr.TimeUnixNano, "timeUnixNano"); err != nil {
					return nil, err
				}
				if r.observed, err = otlpJSONUint(jr.ObservedTimeUnixNano, "observedTimeUnixNano"); err != nil {
					return nil, err
				}
				if r.severityNum, err = otlpJSONSeverity(jr.SeverityNumber); err != nil {
					return nil, err
				}
				r.severityText, r.eventName = jr.SeverityText, jr.EventName
				if jr.Body != nil {
					if r.body, err = jr.Body.value(0); err != nil {
						return nil, err
					}
				}
				if r.attrs, err = otlpJSONKVs(jr.Attributes, 0); err != nil {
					return nil, err
				}
				if r.dropped, err = otlpJSONUint(jr.DroppedAttributesCount, "droppedAttributesCount"); err != nil {
					return nil, err
				}
				if r.flags, err = otlpJSONUint(jr.Flags, "flags"); err != nil {
					return nil, err
				}
				if r.traceID, err = otlpJSONHex(jr.TraceID, "traceId"); err != nil {
					return nil, err
				}
				if r.spanID, err = otlpJSONHex(jr.SpanID, "spanId"); err != nil {
					return nil, err
				}
				sl.records = append(sl.records, r)
			}
			rl.scopes = append(rl.scopes, sl)
		}
		rls = append(rls, rl)
	}
	return otlpToRequest(rls), nil
}

func otlpJSONErr(field string, err error) error {
	return &DecodeError{Format: "otlp json", Offset: -1, Msg: "decode " + field, Err: err}
}

// otlpJSONUint reads a number given as a JSON number or a string.
func otlpJSONUint(raw json.RawMessage, field string) (uint64, error) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, otlpJSONErr(field, err)
	}
	return v, nil
}

func otlpJSONSeverity(raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	if strings.HasPrefix(s, `"`) {
		name, err := strconv.Unquote(s)
		if err != nil {
			return 0, otlpJSONErr("severityNumber", err)
		}
		if n, ok := otlpSeverities[name]; ok {
			return n, nil
		}
		s = name
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, otlpJSONErr("severityNumber", err)
	}
	return v, nil
}

func otlpJSONHex(s, field string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, otlpJSONErr(field, err)
	}
	return b, nil
}

func otlpJSONKVs(in []otlpJSONKV, depth int) ([]otlpKV, error) {
	out := make([]otlpKV, 0, len(in))
	for _, kv := range in {
		var v otlpValue
		if kv.Value != nil {
			var err error
			if v, err = kv.Value.value(depth + 1); err != nil {
				return nil, err
			}
		}
		out = append(out, otlpKV{key: kv.Key, val: v})
	}
	return out, nil
}

func (a *otlpJSONAny) value(depth int) (otlpValue, error) {
	if depth > maxOTLPDepth {
		return otlpValue{}, otlpJSONErr("value", fmt.Errorf("nested too deep"))
	}
	switch {
	case a.StringValue != nil:
		return otlpValue{kind: otlpAnyString, str: *a.StringValue}, nil
	case a.BoolValue != nil:
		v := otlpValue{kind: otlpAnyBool}
		if *a.BoolValue {
			v.num = 1
		}
		return v, nil
	case len(a.IntValue) > 0 && string(a.IntValue) != "null":
		s := strings.Trim(string(a.IntValue), `"`)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return otlpValue{}, otlpJSONErr("intValue", err)
		}
		return otlpValue{kind: otlpAnyInt, num: n}, nil
	case len(a.DoubleValue) > 0 && string(a.DoubleValue) != "null":
		s := strings.Trim(string(a.DoubleValue), `"`)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return otlpValue{}, otlpJSONErr("doubleValue", err)
		}
		return otlpValue{kind: otlpAnyDouble, dbl: f}, nil
	case a.BytesValue != nil:
		b, err := base64.StdEncoding.DecodeString(*a.BytesValue)
		if err != nil {
			return otlpValue{}, otlpJSONErr("bytesValue", err)
		}
		return otlpValue{kind: otlpAnyBytes, bytes: b}, nil
	case a.ArrayValue != nil:
		v := otlpValue{kind: otlpAnyArray}
		for i := range a.ArrayValue.Values {
			e, err := a.ArrayValue.Values[i].value(depth + 1)
			if err != nil {
				return otlpValue{}, err
			}
			v.list = append(v.list, e)
		}
		return v, nil
	case a.KvlistValue != nil:
		kvs, err := otlpJSONKVs(a.KvlistValue.Values, depth+1)
		if err != nil {
			return otlpValue{}, err
		}
		return otlpValue{kind: otlpAnyKVList, kvs: kvs}, nil
	}
	return otlpValue{}, nil
}
