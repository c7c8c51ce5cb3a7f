package push

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

func TestJSONGolden(t *testing.T) {
	want := sampleRequest()
	enc, err := EncodeJSON(want)
	if err != nil {
		t.Fatal(err)
	}
	if g := golden(t, "request.json", enc); !bytes.Equal(g, enc) {
		t.Errorf("EncodeJSON differs from testdata/request.json:\n got %s\nwant %s", enc, g)
	}
	got, err := DecodeJSON(enc)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmpRequest(want, got); d != "" {
		t.Errorf("DecodeJSON (-want +got):\n%s", d)
	}
}

func TestDecodeJSON(t *testing.T) {
	one := func(ls string, es ...Entry) *Request {
		return &Request{Streams: []Stream{{Labels: ls, Entries: es}}}
	}
	cases := []struct {
		name, in string
		want     *Request
	}{
		{"loki docs example", `{"streams":[{"stream":{"foo":"bar2"},"values":[["1570818238000000000","fizzbuzz"]]}]}`,
			one(`{foo="bar2"}`, Entry{Timestamp: 1570818238000000000, Line: "fizzbuzz"})},
		{"whitespace", " \n{ \"streams\" : [ { \"stream\" : { \"a\" : \"b\" } , \"values\" : [ [ \"1\" , \"x\" ] ] } ] }\r\n",
			one(`{a="b"}`, Entry{Timestamp: 1, Line: "x"})},
		{"metadata", `{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"trace_id":"t1","a":"z"}]]}]}`,
			one(`{a="b"}`, Entry{Timestamp: 1, Line: "x", Metadata: labels.FromStrings("a", "z", "trace_id", "t1")})},
		{"null metadata", `{"streams":[{"stream":{"a":"b"},"values":[["1","x",null]]}]}`,
			one(`{a="b"}`, Entry{Timestamp: 1, Line: "x"})},
		{"empty metadata", `{"streams":[{"stream":{"a":"b"},"values":[["1","x",{}]]}]}`,
			one(`{a="b"}`, Entry{Timestamp: 1, Line: "x"})},
		{"labels sorted and last wins", `{"streams":[{"stream":{"z":"1","a":"2","z":"3"},"values":[]}]}`,
			one(`{a="2", z="3"}`)},
		{"case-insensitive keys, unknown keys skipped", `{"Streams":[{"extra":{"n":[1,-2.5e+3,true,false,null,"s",{}]},"STREAM":{"a":"b"},"Values":[["-5","x"]]}],"other":[]}`,
			one(`{a="b"}`, Entry{Timestamp: -5, Line: "x"})},
		{"escapes", `{"streams":[{"stream":{"a":"q\"\\\/\n"},"values":[["1","\u00e9\ud83d\ude00\t\b\f\r \ud800 x"]]}]}`,
			one(`{a="q\"\\/\n"}`, Entry{Timestamp: 1, Line: "é😀\t\b\f\r \ufffd x"})},
		{"null and missing parts", `{"streams":[{"stream":null,"values":null},{}]}`,
			&Request{Streams: []Stream{{Labels: "{}"}, {Labels: "{}"}}}},
		{"null streams", `{"streams":null}`, &Request{}},
		{"empty", `{}`, &Request{}},
		{"repeated stream objects merge", `{"streams":[{"stream":{"a":"1","b":"2"},"stream":{"a":"3"}}]}`,
			one(`{a="3", b="2"}`)},
		{"repeated values keeps the last", `{"streams":[{"values":[["1","a"]],"stream":{"a":"b"},"values":[["2","b"]]}]}`,
			one(`{a="b"}`, Entry{Timestamp: 2, Line: "b"})},
		{"raw UTF-8 and invalid bytes pass through", "{\"streams\":[{\"values\":[[\"1\",\"\xff\xfe ok \u6f22\"]]}]}",
			one(`{}`, Entry{Timestamp: 1, Line: "\xff\xfe ok \u6f22"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeJSON([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmpRequest(c.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	wrap := func(values string) string { return `{"streams":[{"stream":{"a":"b"},"values":[` + values + `]}]}` }
	cases := []struct{ name, in, msg string }{
		{"numeric timestamp", wrap(`[1570818238000000000,"x"]`), "timestamp must be a string"},
		{"non-integer timestamp", wrap(`["1.5","x"]`), `timestamp "1.5" is not an integer`},
		{"timestamp overflow", wrap(`["99999999999999999999","x"]`), "is not an integer"},
		{"one element", wrap(`["1"]`), "entry has 1 elements"},
		{"four elements", wrap(`["1","x",{},1]`), "more than 3 elements"},
		{"numeric line", wrap(`["1",2]`), "line must be a string"},
		{"numeric metadata value", wrap(`["1","x",{"k":1}]`), `structured metadata value of "k" must be a string`},
		{"metadata array", wrap(`["1","x",[]]`), "structured metadata must be an object"},
		{"entry object", wrap(`{"ts":"1"}`), "expected an entry array"},
		{"label number", `{"streams":[{"stream":{"a":1}}]}`, `stream value of "a" must be a string`},
		{"streams object", `{"streams":{}}`, "streams must be an array"},
		{"top-level array", `[]`, "expected a JSON object"},
		{"empty body", ``, "expected a JSON object"},
		{"trailing data", `{} {}`, "unexpected data after the top-level object"},
		{"unterminated string", `{"streams`, "unterminated string"},
		{"unterminated object", `{"streams":[]`, "unexpected end of input"},
		{"control char", "{\"a\":\"\x01\"}", "control character"},
		{"bad escape", `{"a":"\x"}`, `invalid escape \x`},
		{"bad unicode escape", `{"a":"\u12G4"}`, `malformed \u escape`},
		{"bad number", `{"a":01}`, "expected ',' or '}'"},
		{"bad number 2", `{"a":-}`, "malformed number"},
		{"bad literal", `{"a":nul}`, "invalid literal"},
		{"missing colon", `{"a" 1}`, "expected ':'"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, "nested deeper than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(c.in))
			de, ok := errors.AsType[*DecodeError](err)
			if !ok {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Format != "json" || !strings.Contains(de.Error(), c.msg) {
				t.Errorf("err = %q, want json error containing %q", de.Error(), c.msg)
			}
		})
	}
}

func TestEncodeJSONEscapes(t *testing.T) {
	r := &Request{Streams: []Stream{{Labels: `{a="\"<&>\n"}`, Entries: []Entry{
		{Timestamp: 1, Line: "tab\tnul\x00bad\xffend \u2028 \u6f22"},
	}}}}
	enc, err := EncodeJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"streams":[{"stream":{"a":"\"<&>\n"},"values":[["1","tab\tnul\u0000bad\ufffdend ` + "\u2028 \u6f22" + `"]]}]}`
	if string(enc) != want {
		t.Errorf("EncodeJSON:\n got %s\nwant %s", enc, want)
	}
	if _, err := EncodeJSON(&Request{Streams: []Stream{{Labels: "not labels"}}}); err == nil {
		t.Error("EncodeJSON accepted unparsable labels")
	}
}

func TestRoundTripProtoJSON(t *testing.T) {
	want := sampleRequest()
	viaProto, err := DecodeProto(AppendProto(nil, want))
	if err != nil {
		t.Fatal(err)
	}
	j, err := EncodeJSON(viaProto)
	if err != nil {
		t.Fatal(err)
	}
	viaJSON, err := DecodeJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeProto(AppendProto(nil, viaJSON))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmpRequest(want, back); d != "" {
		t.Errorf("proto -> JSON -> proto (-want +got):\n%s", d)
	}
}
