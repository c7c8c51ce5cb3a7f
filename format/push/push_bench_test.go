package push

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

// benchRequest builds a realistic push of about size bytes of protobuf:
// 100 streams, 100-byte log lines, one entry in ten with a trace_id.
func benchRequest(size int) *Request {
	rng := rand.New(rand.NewPCG(1, 2))
	r := &Request{}
	for i := range 100 {
		r.Streams = append(r.Streams, Stream{Labels: fmt.Sprintf(
			`{app="svc-%d", container="main", level="%s", namespace="prod", pod="svc-%d-7c9f8b-x%d"}`,
			i%17, []string{"info", "warn", "error"}[i%3], i%17, i)})
	}
	ts := int64(1700000000000000000)
	total := ProtoSize(r)
	for n := 0; total < size; n++ {
		s := &r.Streams[n%len(r.Streams)]
		line := fmt.Sprintf(`ts=%d level=info msg="request handled" path=/api/v1/items/%d status=%d dur=%dms`,
			ts, rng.IntN(100000), 200+rng.IntN(4)*100, rng.IntN(900))
		line = (line + "                                                                                                    ")[:100]
		e := Entry{Timestamp: ts, Line: line}
		if n%10 == 0 {
			e.Metadata = labels.FromStrings("trace_id", fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()))
		}
		s.Entries = append(s.Entries, e)
		total += 3 + sizeEntry(&e) // an upper bound of what the entry adds
		ts += int64(rng.IntN(1000000))
	}
	return r
}

func BenchmarkDecodeProto(b *testing.B) {
	raw := AppendProto(nil, benchRequest(1<<20))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeProto(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRequest measures the gateway's path, from compressed body
// to Request; MB/s are of the uncompressed protobuf or JSON.
func BenchmarkDecodeRequest(b *testing.B) {
	r := benchRequest(1 << 20)
	raw := AppendProto(nil, r)
	j, err := EncodeJSON(r)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, contentType, encoding string
		body                        []byte
		size                        int
	}{
		{"proto-snappy", ContentTypeProto, "", EncodeProto(r), len(raw)},
		{"proto-snappy-gzip", ContentTypeProto, "gzip", compress(b, "gzip", EncodeProto(r)), len(raw)},
		{"json", ContentTypeJSON, "", j, len(j)},
		{"json-gzip", ContentTypeJSON, "gzip", compress(b, "gzip", j), len(j)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			rd := bytes.NewReader(c.body)
			for b.Loop() {
				rd.Reset(c.body)
				if _, err := DecodeRequest(rd, c.contentType, c.encoding, 16<<20); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(c.body)), "body-bytes")
		})
	}
}

func BenchmarkEncodeProto(b *testing.B) {
	r := benchRequest(1 << 20)
	b.SetBytes(int64(ProtoSize(r)))
	b.ReportAllocs()
	for b.Loop() {
		EncodeProto(r)
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	r := benchRequest(1 << 20)
	j, _ := EncodeJSON(r)
	b.SetBytes(int64(len(j)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeJSON(r); err != nil {
			b.Fatal(err)
		}
	}
}
