package push

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// otlpSample builds a protobuf request: one resource (service.name,
// host.name), one scope, one record with a kvlist body, attributes,
// severity and trace ids.
func otlpSample() []byte {
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
	}
	msg := func(num protowire.Number, parts ...[]byte) []byte {
		var m []byte
		for _, p := range parts {
			m = append(m, p...)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), m)
	}
	kv := func(num protowire.Number, k, v string) []byte { return msg(num, str(1, k), msg(2, str(1, v))) }
	rec := msg(2,
		protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), 1_700_000_000_000_000_000),
		protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 17),
		str(3, "ERROR"),
		msg(5, msg(6, msg(1, str(1, "msg"), msg(2, str(1, "boom"))))),
		kv(6, "http.method", "GET"),
		protowire.AppendBytes(protowire.AppendTag(nil, 9, protowire.BytesType), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}),
	)
	return msg(1, msg(1, kv(1, "service.name", "api"), kv(1, "host.name", "n1")), msg(2, msg(1, str(1, "lib")), rec))
}

func TestDecodeOTLPProto(t *testing.T) {
	req, err := DecodeOTLPProto(otlpSample())
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Streams) != 1 || req.Streams[0].Labels != `{service_name="api"}` || len(req.Streams[0].Entries) != 1 {
		t.Fatalf("streams %+v", req.Streams)
	}
	e := req.Streams[0].Entries[0]
	want := `{host_name="n1", http_method="GET", scope_name="lib", severity_number="17", severity_text="ERROR", trace_id="0102030405060708090a0b0c0d0e0f10"}`
	if e.Line != `{"msg":"boom"}` || e.Timestamp != 1_700_000_000_000_000_000 || e.Metadata.String() != want {
		t.Fatalf("entry %q %d %s\nwant metadata %s", e.Line, e.Timestamp, e.Metadata, want)
	}
}

func TestDecodeOTLPErrors(t *testing.T) {
	for _, b := range [][]byte{{0x0a}, {0x0a, 0x05, 0x0a}, otlpSample()[:20]} {
		if _, err := DecodeOTLPProto(b); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
	for _, s := range []string{`{`, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}`, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x"}]}]}]}`} {
		if _, err := DecodeOTLPJSON([]byte(s)); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	deep := strings.Repeat(`{"arrayValue":{"values":[`, 100) + `{"intValue":1}` + strings.Repeat(`]}}`, 100)
	if _, err := DecodeOTLPJSON([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + deep + `}]}]}]}`)); err == nil {
		t.Error("100 nested arrays: no error")
	}
}

func FuzzDecodeOTLP(f *testing.F) {
	f.Add(otlpSample(), false)
	f.Add([]byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"1","severityNumber":"SEVERITY_NUMBER_INFO","body":{"kvlistValue":{"values":[{"key":"k","value":{"doubleValue":1.5}}]}},"traceId":"0102","attributes":[{"key":"m","value":{"kvlistValue":{"values":[{"key":"x","value":{"bytesValue":"aGk="}}]}}}]}]}]}]}`), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, isJSON bool) {
		var req *Request
		var err error
		if isJSON {
			req, err = DecodeOTLPJSON(b)
		} else {
			req, err = DecodeOTLPProto(b)
		}
		if err != nil {
			return
		}
		for _, s := range req.Streams {
			if _, err := s.ParseLabels(); err != nil {
				t.Fatalf("stream labels %q do not parse: %v", s.Labels, err)
			}
		}
	})
}
