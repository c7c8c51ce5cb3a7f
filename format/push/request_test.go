package push

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
)

func compress(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip", "x-gzip", "GZIP":
		w = gzip.NewWriter(&buf)
	case "deflate":
		var err error
		if w, err = flate.NewWriter(&buf, flate.DefaultCompression); err != nil {
			t.Fatal(err)
		}
	default:
		return b
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeRequestMatrix(t *testing.T) {
	want := sampleRequest()
	jsonBody, err := EncodeJSON(want)
	if err != nil {
		t.Fatal(err)
	}
	protoBody := EncodeProto(want)
	types := []struct {
		contentType string
		body        []byte
	}{
		{"application/x-protobuf", protoBody},
		{"", protoBody},
		{"application/octet-stream", protoBody},
		{"application/json", jsonBody},
		{"application/json; charset=utf-8", jsonBody},
		{"Application/JSON", jsonBody},
	}
	for _, ct := range types {
		for _, enc := range []string{"", "identity", "snappy", "gzip", "x-gzip", "GZIP", "deflate"} {
			t.Run(ct.contentType+"/"+enc, func(t *testing.T) {
				body := compress(t, enc, ct.body)
				got, err := DecodeRequest(bytes.NewReader(body), ct.contentType, enc, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmpRequest(want, got); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			})
		}
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	big := &Request{Streams: []Stream{{Labels: `{a="b"}`, Entries: []Entry{{Timestamp: 1, Line: strings.Repeat("x", 10000)}}}}}
	bigJSON, err := EncodeJSON(big)
	if err != nil {
		t.Fatal(err)
	}
	bigProto := EncodeProto(big)
	raw := AppendProto(nil, big)
	// A snappy block that claims more than snappy can ever expand to.
	liar := append(s2.EncodeSnappy(nil, []byte("tiny"))[:0:0], 0x80, 0x80, 0x10) // declares 262144 bytes
	liar = append(liar, 0x00)

	cases := []struct {
		name, contentType, encoding string
		body                        []byte
		max                         int64
		is                          error
		format                      string
	}{
		{"raw JSON over cap", "application/json", "", bigJSON, 5000, ErrTooLarge, ""},
		{"gzip JSON output over cap", "application/json", "gzip", compress(t, "gzip", bigJSON), 5000, ErrTooLarge, ""},
		{"deflate JSON output over cap", "application/json", "deflate", compress(t, "deflate", bigJSON), 5000, ErrTooLarge, ""},
		{"snappy declares over cap", "application/x-protobuf", "", bigProto, 5000, ErrTooLarge, ""},
		{"gzip proto, snappy over cap", "application/x-protobuf", "gzip", compress(t, "gzip", bigProto), 5000, ErrTooLarge, ""},
		{"unsupported encoding", "application/json", "br", bigJSON, 1 << 20, ErrUnsupportedEncoding, ""},
		{"bad content type", "application/json; =", "", bigJSON, 1 << 20, nil, "content-type"},
		{"not gzip", "application/json", "gzip", bigJSON, 1 << 20, nil, "gzip"},
		{"truncated gzip", "application/json", "gzip", compress(t, "gzip", bigJSON)[:30], 1 << 20, nil, "gzip"},
		{"corrupt deflate", "application/json", "deflate", []byte{0xff, 0xff, 0xff}, 1 << 20, nil, "deflate"},
		{"protobuf not snappy", "application/x-protobuf", "", raw, 1 << 20, nil, "snappy"},
		{"snappy liar", "application/x-protobuf", "", liar, 1 << 20, nil, "snappy"},
		{"empty protobuf body", "application/x-protobuf", "", nil, 1 << 20, nil, "snappy"},
		{"bad JSON", "application/json", "", []byte("{"), 1 << 20, nil, "json"},
		{"bad protobuf", "application/x-protobuf", "", s2.EncodeSnappy(nil, []byte{0x0a, 0x05}), 1 << 20, nil, "protobuf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeRequest(bytes.NewReader(c.body), c.contentType, c.encoding, c.max)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
			if c.format != "" {
				de, ok := errors.AsType[*DecodeError](err)
				if !ok || de.Format != c.format {
					t.Fatalf("err = %v, want a %s DecodeError", err, c.format)
				}
			}
		})
	}
}

// TestDecodeRequestCapExact accepts a body of exactly the cap and refuses
// one byte more.
func TestDecodeRequestCapExact(t *testing.T) {
	body := []byte(`{"streams":[]}`)
	if _, err := DecodeRequest(bytes.NewReader(body), ContentTypeJSON, "", int64(len(body))); err != nil {
		t.Errorf("body of exactly the cap: %v", err)
	}
	if _, err := DecodeRequest(bytes.NewReader(body), ContentTypeJSON, "", int64(len(body)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("body one byte over the cap: err = %v, want ErrTooLarge", err)
	}
}

// TestDecodeRequestGzipBomb checks that a highly compressible body is cut
// off at the cap without allocating its full decompressed size.
func TestDecodeRequestGzipBomb(t *testing.T) {
	bomb := compress(t, "gzip", make([]byte, 64<<20))
	var err error
	n := allocated(func() {
		_, err = DecodeRequest(bytes.NewReader(bomb), ContentTypeJSON, "gzip", 1<<20)
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if n > 8<<20 {
		t.Errorf("allocated %d bytes for a 1 MiB cap", n)
	}
}

func TestDecodeSnappyProto(t *testing.T) {
	want := sampleRequest()
	got, err := DecodeSnappyProto(EncodeProto(want), 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmpRequest(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
