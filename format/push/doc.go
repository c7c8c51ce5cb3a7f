// Package push is the codec of Loki's push API (POST /loki/api/v1/push),
// shared by the agent, which encodes, and the gateway, which decodes. It
// speaks the bytes Promtail, Grafana Alloy, Fluent Bit and Vector send,
// without generated code and without Loki's modules.
//
// # Bodies
//
// A push body is one of two formats, chosen by Content-Type:
//
//   - application/x-protobuf (also an empty or any other Content-Type, as in
//     Loki): a snappy *block* (not the framed stream format) holding a
//     protobuf PushRequest.
//   - application/json: the JSON shape below.
//
// Either body may be wrapped by Content-Encoding gzip or deflate (raw
// DEFLATE, RFC 1951, as Loki reads it; not zlib). "snappy" and "identity" are
// accepted as no-ops: some clients send "snappy" to describe the protobuf
// body's own compression. Any other encoding is ErrUnsupportedEncoding.
//
// # Protobuf layout
//
// Field numbers follow Loki's pkg/push/push.proto:
//
//	PushRequest      { repeated StreamAdapter streams = 1; }
//	StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//	EntryAdapter     { Timestamp timestamp = 1; string line = 2;
//	                   repeated LabelPairAdapter structuredMetadata = 3; }
//	LabelPairAdapter { string name = 1; string value = 2; }
//	Timestamp        { int64 seconds = 1; int32 nanos = 2; }   // google.protobuf
//
// labels carries the stream's label set in text form, {a="b", c="d"}, and
// is kept verbatim in Stream.Labels; Stream.ParseLabels parses it. hash and
// unknown fields (such as a newer Loki's PushRequest.format = 2) are skipped,
// whatever their wire type. A known field with the wrong wire type is an
// error. For repeated scalars the last value wins, and a timestamp that
// appears twice is merged field by field, as protobuf specifies. A timestamp
// must have 0 <= nanos < 1e9 and fit int64 Unix nanoseconds (years 1678 to
// 2262). The encoder writes fields in number order, omits empty strings and
// zero timestamp fields (proto3 defaults), always writes the timestamp
// message, and never writes hash.
//
// # JSON layout
//
//	{"streams": [
//	  {"stream": {"app": "api", "level": "error"},
//	   "values": [["1700000000000000000", "a line"],
//	              ["1700000000000000001", "a line", {"trace_id": "abc"}]]}
//	]}
//
// Timestamps are JSON strings holding a decimal int64 of Unix nanoseconds;
// as in Loki, a JSON number is rejected. The optional third element is
// structured metadata, an object of string values (null means none). An
// entry with fewer than two or more than three elements is an error (Loki
// takes a one-element entry as an empty line; we reject it as a likely
// client bug). Object keys match case-insensitively, like encoding/json and
// Loki's jsoniter; unknown keys are skipped; null stands for an empty
// "streams", "stream", "values" or metadata. Strings are not checked for
// UTF-8 validity. The stream object becomes Stream.Labels in text form,
// sorted, a repeated name keeping its last value; a repeated "stream" key
// merges and a repeated "values" key replaces, as encoding/json would.
//
// # Limits and allocation
//
// DecodeRequest enforces a cap on the decompressed size of every stage
// (gzip or deflate output, the snappy block's declared length, which is
// checked before allocating, and the raw body) and returns ErrTooLarge when
// it is exceeded. A snappy block that declares more than 32 times its own
// size is rejected as corrupt before anything is allocated: real snappy
// cannot expand more than about 21 times.
//
// Decoded strings (labels, lines, metadata) are substrings of one copy of
// the decoded body, so a decode costs a handful of allocations whatever the
// number of entries; the flip side is that keeping any one string alive
// keeps the whole body alive. Callers that retain a few strings for long
// (an index, a cache key) should strings.Clone them.
//
// Structured metadata is normalised into a labels.Labels: sorted by name,
// a repeated name keeping its last value.
package push
