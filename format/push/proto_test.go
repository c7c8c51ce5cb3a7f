package push

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kubemate/kmlog/format/labels"
)

// handBuilt encodes sampleRequest field by field with protowire, the way
// Loki's gogo-generated code lays it out.
func handBuilt() []byte {
	msg := func(b []byte, num protowire.Number, body []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, body)
	}
	str := func(b []byte, num protowire.Number, s string) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	ts := func(secs int64, nanos int32) []byte {
		var b []byte
		if secs != 0 {
			b = varint(b, 1, uint64(secs))
		}
		if nanos != 0 {
			b = varint(b, 2, uint64(nanos))
		}
		return b
	}
	pair := func(n, v string) []byte { return str(str(nil, 1, n), 2, v) }

	var e1, e2, e3, e4 []byte
	e1 = msg(e1, 1, ts(1700000000, 123456789))
	e1 = str(e1, 2, "hello world")
	e2 = msg(e2, 1, ts(1700000001, 0))
	e2 = str(e2, 2, "with metadata")
	e2 = msg(e2, 3, pair("trace_id", "abc123"))
	e2 = msg(e2, 3, pair("user", "u1"))
	e3 = msg(e3, 1, ts(-2, 500000000)) // -1.5 s
	e3 = str(e3, 2, "before 1970 \u00e9\u6f22")
	e4 = msg(e4, 1, nil)

	var s1, s2 []byte
	s1 = str(s1, 1, `{app="api", level="error"}`)
	s1 = msg(s1, 2, e1)
	s1 = msg(s1, 2, e2)
	s2 = str(s2, 1, `{app="db"}`)
	s2 = msg(s2, 2, e3)
	s2 = msg(s2, 2, e4)

	var req []byte
	req = msg(req, 1, s1)
	req = msg(req, 1, s2)
	return req
}

func TestProtoGolden(t *testing.T) {
	want := sampleRequest()
	raw := handBuilt()
	if g := golden(t, "request.pb", raw); !bytes.Equal(g, raw) {
		t.Fatalf("hand-built bytes differ from testdata/request.pb")
	}

	got, err := DecodeProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmpRequest(want, got); d != "" {
		t.Errorf("DecodeProto (-want +got):\n%s", d)
	}
	if enc := AppendProto(nil, want); !bytes.Equal(enc, raw) {
		t.Errorf("AppendProto:\n got %x\nwant %x", enc, raw)
	}
	if n := ProtoSize(want); n != len(raw) {
		t.Errorf("ProtoSize = %d, want %d", n, len(raw))
	}
}

// TestProtoMatchesProtobufGo checks the codec against protobuf-go reading
// and writing the same schema.
func TestProtoMatchesProtobufGo(t *testing.T) {
	mt := pushType(t)
	reqs := map[string]*Request{
		"sample": sampleRequest(),
		"empty":  {},
		"extremes": {Streams: []Stream{{Entries: []Entry{
			{Timestamp: math.MaxInt64}, {Timestamp: math.MinInt64}, {Timestamp: -1}, {Timestamp: 1},
			{Line: strings.Repeat("x", 300), Metadata: labels.Labels{{Name: "", Value: "v"}, {Name: "n", Value: ""}}},
		}}}},
	}
	for name, r := range reqs {
		t.Run(name, func(t *testing.T) {
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(toDynamic(mt, r))
			if err != nil {
				t.Fatal(err)
			}
			if got := AppendProto(nil, r); !bytes.Equal(got, want) {
				t.Errorf("AppendProto differs from protobuf-go:\n got %x\nwant %x", got, want)
			}
			m := mt.New().Interface()
			if err := proto.Unmarshal(AppendProto(nil, r), m); err != nil {
				t.Fatalf("protobuf-go cannot read our encoding: %v", err)
			}
			back, ok := fromDynamic(m)
			if !ok {
				t.Fatal("timestamp out of range")
			}
			if d := cmpRequest(r, back); d != "" {
				t.Errorf("protobuf-go read (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeProtoSkipsUnknownFields(t *testing.T) {
	unknown := func(b []byte) []byte {
		b = protowire.AppendTag(b, 15, protowire.VarintType)
		b = protowire.AppendVarint(b, 300)
		b = protowire.AppendTag(b, 16, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, 7)
		b = protowire.AppendTag(b, 17, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, 7)
		b = protowire.AppendTag(b, 18, protowire.BytesType)
		b = protowire.AppendString(b, "ignored")
		b = protowire.AppendTag(b, 19, protowire.StartGroupType)
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
		b = protowire.AppendTag(b, 19, protowire.EndGroupType)
		return b
	}
	msg := func(b []byte, num protowire.Number, body []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, body)
	}
	var ts, pair, entry, stream, req []byte
	ts = unknown(ts)
	ts = protowire.AppendTag(ts, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, 5)
	pair = unknown(pair)
	pair = protowire.AppendTag(pair, 2, protowire.BytesType)
	pair = protowire.AppendString(pair, "v")
	pair = protowire.AppendTag(pair, 1, protowire.BytesType)
	pair = protowire.AppendString(pair, "k")
	entry = msg(unknown(entry), 3, pair)
	entry = msg(entry, 1, ts)
	entry = protowire.AppendTag(entry, 2, protowire.BytesType)
	entry = protowire.AppendString(entry, "line")
	stream = protowire.AppendTag(unknown(stream), 3, protowire.VarintType) // hash
	stream = protowire.AppendVarint(stream, 12345)
	stream = msg(stream, 2, entry)
	stream = protowire.AppendTag(stream, 1, protowire.BytesType)
	stream = protowire.AppendString(stream, `{a="b"}`)
	req = protowire.AppendTag(unknown(req), 2, protowire.BytesType) // newer Loki's "format"
	req = protowire.AppendString(req, "loki")
	req = msg(req, 1, stream)

	got, err := DecodeProto(req)
	if err != nil {
		t.Fatal(err)
	}
	want := &Request{Streams: []Stream{{Labels: `{a="b"}`, Entries: []Entry{
		{Timestamp: 5e9, Line: "line", Metadata: labels.FromStrings("k", "v")},
	}}}}
	if d := cmpRequest(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDecodeProtoLastValueWins(t *testing.T) {
	var ts1, ts2, entry []byte
	ts1 = protowire.AppendTag(ts1, 1, protowire.VarintType)
	ts1 = protowire.AppendVarint(ts1, 10)
	ts1 = protowire.AppendTag(ts1, 2, protowire.VarintType)
	ts1 = protowire.AppendVarint(ts1, 7)
	ts2 = protowire.AppendTag(ts2, 1, protowire.VarintType)
	ts2 = protowire.AppendVarint(ts2, 20)
	for _, ts := range [][]byte{ts1, ts2} {
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendBytes(entry, ts)
	}
	for _, l := range []string{"first", "second"} {
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendString(entry, l)
	}
	var stream, req []byte
	stream = protowire.AppendTag(stream, 2, protowire.BytesType)
	stream = protowire.AppendBytes(stream, entry)
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendBytes(req, stream)
	got, err := DecodeProto(req)
	if err != nil {
		t.Fatal(err)
	}
	// The timestamp messages merge: seconds from the second, nanos from the first.
	want := &Request{Streams: []Stream{{Entries: []Entry{{Timestamp: 20e9 + 7, Line: "second"}}}}}
	if d := cmpRequest(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDecodeProtoMetadataNormalized(t *testing.T) {
	r := &Request{Streams: []Stream{{Entries: []Entry{{Line: "x", Metadata: labels.Labels{
		{Name: "z", Value: "1"}, {Name: "a", Value: "2"}, {Name: "z", Value: "3"},
	}}}}}}
	got, err := DecodeProto(AppendProto(nil, r))
	if err != nil {
		t.Fatal(err)
	}
	want := labels.Labels{{Name: "a", Value: "2"}, {Name: "z", Value: "3"}}
	if d := cmpRequest(&Request{Streams: []Stream{{Entries: []Entry{{Line: "x", Metadata: want}}}}}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDecodeProtoErrors(t *testing.T) {
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	wrap := func(num protowire.Number, body []byte) []byte {
		return protowire.AppendBytes(tag(nil, num, protowire.BytesType), body)
	}
	entryWith := func(body []byte) []byte { return wrap(1, wrap(2, body)) }
	ts := func(secs, nanos uint64) []byte {
		b := protowire.AppendVarint(tag(nil, 1, protowire.VarintType), secs)
		return protowire.AppendVarint(tag(b, 2, protowire.VarintType), nanos)
	}
	cases := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"truncated length", []byte{0x0a, 0x05, 0x0a}, "read request field 1"},
		{"field number zero", []byte{0x00}, "read request field tag"},
		{"truncated varint", []byte{0x0a, 0x80}, "read request field 1"},
		{"streams as varint", []byte{0x08, 0x01}, "request field 1 has wire type 0"},
		{"labels as varint", wrap(1, []byte{0x08, 0x01}), "stream field 1 has wire type 0"},
		{"line as fixed32", entryWith(protowire.AppendFixed32(tag(nil, 2, protowire.Fixed32Type), 1)), "entry field 2 has wire type 5"},
		{"seconds as bytes", entryWith(wrap(1, wrap(1, nil))), "timestamp field 1 has wire type 2"},
		{"nanos too large", entryWith(wrap(1, ts(1, 1e9))), "out of range"},
		{"nanos negative", entryWith(wrap(1, ts(1, uint64(math.MaxUint64)))), "out of range"},
		{"seconds overflow", entryWith(wrap(1, ts(9223372037, 0))), "out of range"},
		{"seconds underflow", entryWith(wrap(1, ts(uint64(1<<64-9223372038), 0))), "out of range"},
		{"unterminated group", []byte{0x1b}, "read request field 3"},
		{"metadata truncated", entryWith(append(tag(nil, 3, protowire.BytesType), 0x02, 0x0a, 0x09)), "read structured metadata field 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeProto(c.in)
			de, ok := errors.AsType[*DecodeError](err)
			if !ok {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Format != "protobuf" || !strings.Contains(de.Error(), c.msg) {
				t.Errorf("err = %q, want protobuf error containing %q", de.Error(), c.msg)
			}
		})
	}
}

func TestUnixNano(t *testing.T) {
	for _, ns := range []int64{0, 1, -1, 999999999, -999999999, 1e9, -1e9, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 1700000000123456789} {
		secs, nanos := splitNano(ns)
		if nanos < 0 || nanos >= 1e9 {
			t.Errorf("splitNano(%d) nanos = %d", ns, nanos)
		}
		got, ok := unixNano(secs, nanos)
		if !ok || got != ns {
			t.Errorf("unixNano(splitNano(%d)) = %d, %v", ns, got, ok)
		}
	}
	if _, ok := unixNano(-9223372037, 145224191); ok {
		t.Error("unixNano accepted an instant before math.MinInt64")
	}
	if _, ok := unixNano(9223372036, 854775808); ok {
		t.Error("unixNano accepted an instant after math.MaxInt64")
	}
}

func TestStats(t *testing.T) {
	got := sampleRequest().Stats()
	want := Stats{Streams: 2, Entries: 4, LineBytes: int64(len("hello world") + len("with metadata") + len("before 1970 \u00e9\u6f22")),
		MetadataBytes: int64(len("trace_idabc123userv1")), LabelsBytes: int64(len(`{app="api", level="error"}`) + len(`{app="db"}`))}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}
