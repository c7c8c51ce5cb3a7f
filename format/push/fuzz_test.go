package push

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/kubemate/kmlog/format/labels"
)

// Allocation bounds for the fuzzers: generous multiples of the input, far
// below what an unchecked length or count would let a hostile input cost.
const (
	// A protobuf entry takes at least 2 input bytes and costs a 48-byte
	// Entry; a stream 2 bytes for a 40-byte Stream; plus the string copy.
	protoAllocPerByte = 64
	// The smallest JSON entry, ["1",""], is 8 bytes for a 48-byte Entry.
	jsonAllocPerByte = 32
	allocSlack       = 64 << 10
)

func protoSeeds(f *testing.F) {
	f.Add(handBuilt())
	f.Add(AppendProto(nil, sampleRequest()))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x04, 0x12, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x0a, 0x06, 0x12, 0x04, 0x1a, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x1b, 0x08, 0x01, 0x1c})
}

// canonical returns r with each stream's labels in canonical text form, or
// false when some stream's labels do not parse or a string is not UTF-8
// (the JSON encoder replaces those bytes, so no round trip is expected).
func canonical(r *Request) (*Request, bool) {
	out := &Request{Streams: make([]Stream, len(r.Streams))}
	for i, s := range r.Streams {
		ls, err := s.ParseLabels()
		if err != nil {
			return nil, false
		}
		for _, l := range ls {
			if !utf8.ValidString(l.Value) {
				return nil, false
			}
		}
		for _, e := range s.Entries {
			if !utf8.ValidString(e.Line) {
				return nil, false
			}
			for _, l := range e.Metadata {
				if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
					return nil, false
				}
			}
		}
		out.Streams[i] = Stream{Labels: ls.String(), Entries: s.Entries}
	}
	return out, true
}

// checkRoundTrips checks Decode(Encode(r)) == r for both formats.
func checkRoundTrips(t *testing.T, r *Request) {
	t.Helper()
	back, err := DecodeSnappyProto(EncodeProto(r), 0)
	if err != nil {
		t.Fatalf("decode our own protobuf: %v", err)
	}
	if d := cmpRequest(r, back); d != "" {
		t.Fatalf("protobuf round trip (-want +got):\n%s", d)
	}
	want, ok := canonical(r)
	if !ok {
		return
	}
	j, err := EncodeJSON(r)
	if err != nil {
		t.Fatalf("EncodeJSON: %v", err)
	}
	back, err = DecodeJSON(j)
	if err != nil {
		t.Fatalf("decode our own JSON %s: %v", j, err)
	}
	if d := cmpRequest(want, back); d != "" {
		t.Fatalf("JSON round trip (-want +got):\n%s", d)
	}
}

func FuzzDecodeProto(f *testing.F) {
	protoSeeds(f)
	mt := pushType(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			r   *Request
			err error
		)
		if n := allocated(func() { r, err = DecodeProto(data) }); n > uint64(protoAllocPerByte*len(data)+allocSlack) {
			t.Fatalf("DecodeProto allocated %d bytes for %d input bytes", n, len(data))
		}
		// Differential check against protobuf-go. It accepts a known field
		// with the wrong wire type as unknown, where gogo-generated Loki
		// (and we) reject it; and it rejects invalid UTF-8, which we pass.
		m := mt.New().Interface()
		if perr := proto.Unmarshal(data, m); perr == nil {
			if want, ok := fromDynamic(m); ok {
				if err != nil && !strings.Contains(err.Error(), "has wire type") {
					t.Fatalf("protobuf-go decodes %x but DecodeProto fails: %v", data, err)
				}
				if err == nil {
					if d := cmpRequest(want, r); d != "" {
						t.Fatalf("DecodeProto differs from protobuf-go (-want +got):\n%s", d)
					}
				}
			}
		}
		if err != nil {
			return
		}
		checkRoundTrips(t, r)
	})
}

func FuzzDecodeSnappy(f *testing.F) {
	f.Add(EncodeProto(sampleRequest()))
	f.Add(EncodeProto(&Request{}))
	f.Add([]byte{0x80, 0x80, 0x10, 0x00})
	f.Add([]byte{0x05, 0x10, 0x0a, 0x03, 0x0a, 0x01})
	f.Add([]byte{0x40, 0x00, 0x0a, 0xfe, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			r   *Request
			err error
		)
		// The block may expand maxSnappyRatio times, then decode as protobuf.
		limit := uint64((maxSnappyRatio*len(data)+64)*(protoAllocPerByte+1) + allocSlack)
		if n := allocated(func() { r, err = DecodeSnappyProto(data, 1<<20) }); n > limit {
			t.Fatalf("DecodeSnappyProto allocated %d bytes for %d input bytes", n, len(data))
		}
		if err == nil {
			checkRoundTrips(t, r)
		}
	})
}

func FuzzDecodeGzip(f *testing.F) {
	j, err := EncodeJSON(sampleRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(false, compress(f, "gzip", j))
	f.Add(true, compress(f, "deflate", j))
	f.Add(false, compress(f, "gzip", make([]byte, 1<<20)))
	f.Add(true, compress(f, "deflate", bytes.Repeat([]byte(`{"streams":[]}`), 1000)))
	f.Add(false, []byte{0x1f, 0x8b, 0x08, 0x00})
	const maxBytes = 64 << 10
	f.Fuzz(func(t *testing.T, deflate bool, data []byte) {
		enc := "gzip"
		if deflate {
			enc = "deflate"
		}
		var r *Request
		// Buffer growth to the cap, the decompressor's window and tables,
		// and a JSON decode of at most maxBytes.
		limit := uint64(4*maxBytes + jsonAllocPerByte*maxBytes + 1<<20)
		if n := allocated(func() { r, err = DecodeRequest(bytes.NewReader(data), ContentTypeJSON, enc, maxBytes) }); n > limit {
			t.Fatalf("DecodeRequest allocated %d bytes for %d input bytes", n, len(data))
		}
		if err == nil {
			checkRoundTrips(t, r)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	j, err := EncodeJSON(sampleRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(j)
	for _, s := range []string{
		`{}`, `{"streams":null}`, `{"streams":[{}]}`,
		`{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"v"}],["2","y",null]]}]}`,
		`{"Streams":[{"STREAM":{"a":"b","a":"c"},"stream":{"d":"e"},"values":[["-1","\u00e9\ud83d\ude00\ud800"]],"x":[1,{"y":[true,false,null,-0.5e10]}]}]}`,
		`{"streams":[{"values":[[1,"x"]]}]}`, `{"streams":[{"values":[["1"]]}]}`,
		`{"a":"\x"}`, `[`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r *Request
		if n := allocated(func() { r, err = DecodeJSON(data) }); n > uint64(jsonAllocPerByte*len(data)+allocSlack) {
			t.Fatalf("DecodeJSON allocated %d bytes for %d input bytes", n, len(data))
		}
		if err == nil && !json.Valid(data) {
			t.Fatalf("DecodeJSON accepted invalid JSON %q", data)
		}
		if utf8.Valid(data) {
			want, ok := decodeWithEncodingJSON(data)
			switch {
			case ok && err != nil && !strings.Contains(err.Error(), "nested deeper"):
				t.Fatalf("encoding/json decodes %q but DecodeJSON fails: %v", data, err)
			case ok && err == nil:
				if d := cmpRequest(want, r); d != "" {
					t.Fatalf("DecodeJSON differs from encoding/json on %q (-want +got):\n%s", data, d)
				}
			}
		}
		if err == nil {
			checkRoundTrips(t, r)
		}
	})
}

// decodeWithEncodingJSON is a slow reference decoder built on
// encoding/json. It reports false when the body is not a well-formed push.
func decodeWithEncodingJSON(data []byte) (*Request, bool) {
	var v *struct {
		Streams []struct {
			Stream map[string]string
			Values [][]any
		}
	}
	if err := json.Unmarshal(data, &v); err != nil || v == nil {
		return nil, false
	}
	r := &Request{}
	for _, s := range v.Streams {
		st := Stream{Labels: labels.FromMap(s.Stream).String()}
		for _, e := range s.Values {
			if len(e) < 2 || len(e) > 3 {
				return nil, false
			}
			tss, ok1 := e[0].(string)
			line, ok2 := e[1].(string)
			if !ok1 || !ok2 {
				return nil, false
			}
			ts, err := strconv.ParseInt(tss, 10, 64)
			if err != nil {
				return nil, false
			}
			entry := Entry{Timestamp: ts, Line: line}
			if len(e) == 3 && e[2] != nil {
				md, ok := e[2].(map[string]any)
				if !ok {
					return nil, false
				}
				m := make(map[string]string, len(md))
				for k, v := range md {
					s, ok := v.(string)
					if !ok {
						return nil, false
					}
					m[k] = s
				}
				if len(m) > 0 {
					entry.Metadata = labels.FromMap(m)
				}
			}
			st.Entries = append(st.Entries, entry)
		}
		r.Streams = append(r.Streams, st)
	}
	return r, true
}
