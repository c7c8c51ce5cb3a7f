package push

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers google/protobuf/timestamp.proto

	"github.com/kubemate/kmlog/format/labels"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// sampleRequest exercises every field: two streams, metadata, a timestamp
// before 1970, an empty line and a zero timestamp.
func sampleRequest() *Request {
	return &Request{Streams: []Stream{
		{
			Labels: `{app="api", level="error"}`,
			Entries: []Entry{
				{Timestamp: 1700000000123456789, Line: "hello world"},
				{Timestamp: 1700000001000000000, Line: "with metadata", Metadata: labels.FromStrings("trace_id", "abc123", "user", "u1")},
			},
		},
		{
			Labels: `{app="db"}`,
			Entries: []Entry{
				{Timestamp: -1500000000, Line: "before 1970 \u00e9\u6f22"},
				{Timestamp: 0, Line: ""},
			},
		},
	}}
}

// cmpRequest compares requests, taking nil and empty slices as equal.
func cmpRequest(want, got *Request) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	return want
}

// pushType builds Loki's push.proto message types at run time, so that
// tests can check this codec against the real protobuf-go implementation
// without generated code.
func pushType(tb testing.TB) protoreflect.MessageType {
	tb.Helper()
	str := func(s string) *string { return &s }
	i32 := func(i int32) *int32 { return &i }
	fld := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, repeated bool, msg string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: str(name), Number: i32(num), Type: typ.Enum()}
		lbl := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if repeated {
			lbl = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		f.Label = lbl.Enum()
		if msg != "" {
			f.TypeName = str(msg)
		}
		return f
	}
	const (
		tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		tUint64  = descriptorpb.FieldDescriptorProto_TYPE_UINT64
	)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       str("kmlog_test_push.proto"),
		Package:    str("logproto"),
		Syntax:     str("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: str("PushRequest"), Field: []*descriptorpb.FieldDescriptorProto{
				fld("streams", 1, tMessage, true, ".logproto.StreamAdapter"),
			}},
			{Name: str("StreamAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				fld("labels", 1, tString, false, ""),
				fld("entries", 2, tMessage, true, ".logproto.EntryAdapter"),
				fld("hash", 3, tUint64, false, ""),
			}},
			{Name: str("LabelPairAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				fld("name", 1, tString, false, ""),
				fld("value", 2, tString, false, ""),
			}},
			{Name: str("EntryAdapter"), Field: []*descriptorpb.FieldDescriptorProto{
				fld("timestamp", 1, tMessage, false, ".google.protobuf.Timestamp"),
				fld("line", 2, tString, false, ""),
				fld("structuredMetadata", 3, tMessage, true, ".logproto.LabelPairAdapter"),
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		tb.Fatal(err)
	}
	return dynamicpb.NewMessageType(fd.Messages().ByName("PushRequest"))
}

// toDynamic converts r to a protobuf-go message of type mt.
func toDynamic(mt protoreflect.MessageType, r *Request) proto.Message {
	msg := mt.New()
	md := msg.Descriptor()
	streams := msg.Mutable(md.Fields().ByNumber(1)).List()
	for _, s := range r.Streams {
		sm := streams.NewElement().Message()
		sd := sm.Descriptor()
		if s.Labels != "" {
			sm.Set(sd.Fields().ByNumber(1), protoreflect.ValueOfString(s.Labels))
		}
		entries := sm.Mutable(sd.Fields().ByNumber(2)).List()
		for _, e := range s.Entries {
			em := entries.NewElement().Message()
			ed := em.Descriptor()
			ts := em.Mutable(ed.Fields().ByNumber(1)).Message()
			secs, nanos := splitNano(e.Timestamp)
			if secs != 0 {
				ts.Set(ts.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfInt64(secs))
			}
			if nanos != 0 {
				ts.Set(ts.Descriptor().Fields().ByNumber(2), protoreflect.ValueOfInt32(nanos))
			}
			if e.Line != "" {
				em.Set(ed.Fields().ByNumber(2), protoreflect.ValueOfString(e.Line))
			}
			md := em.Mutable(ed.Fields().ByNumber(3)).List()
			for _, l := range e.Metadata {
				pm := md.NewElement().Message()
				if l.Name != "" {
					pm.Set(pm.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfString(l.Name))
				}
				if l.Value != "" {
					pm.Set(pm.Descriptor().Fields().ByNumber(2), protoreflect.ValueOfString(l.Value))
				}
				md.Append(protoreflect.ValueOfMessage(pm))
			}
			entries.Append(protoreflect.ValueOfMessage(em))
		}
		streams.Append(protoreflect.ValueOfMessage(sm))
	}
	return msg.Interface()
}

// fromDynamic converts a protobuf-go PushRequest to a Request, reporting
// false when a timestamp is out of this codec's range.
func fromDynamic(m proto.Message) (*Request, bool) {
	msg := m.ProtoReflect()
	r := &Request{}
	streams := msg.Get(msg.Descriptor().Fields().ByNumber(1)).List()
	for i := 0; i < streams.Len(); i++ {
		sm := streams.Get(i).Message()
		sd := sm.Descriptor()
		st := Stream{Labels: sm.Get(sd.Fields().ByNumber(1)).String()}
		entries := sm.Get(sd.Fields().ByNumber(2)).List()
		for j := 0; j < entries.Len(); j++ {
			em := entries.Get(j).Message()
			ed := em.Descriptor()
			ts := em.Get(ed.Fields().ByNumber(1)).Message()
			secs := ts.Get(ts.Descriptor().Fields().ByNumber(1)).Int()
			nanos := ts.Get(ts.Descriptor().Fields().ByNumber(2)).Int()
			ns, ok := unixNano(secs, int32(nanos))
			if !ok {
				return nil, false
			}
			e := Entry{Timestamp: ns, Line: em.Get(ed.Fields().ByNumber(2)).String()}
			md := em.Get(ed.Fields().ByNumber(3)).List()
			var ls []labels.Label
			for k := 0; k < md.Len(); k++ {
				pm := md.Get(k).Message()
				ls = append(ls, labels.Label{
					Name:  pm.Get(pm.Descriptor().Fields().ByNumber(1)).String(),
					Value: pm.Get(pm.Descriptor().Fields().ByNumber(2)).String(),
				})
			}
			e.Metadata = normalize(ls)
			st.Entries = append(st.Entries, e)
		}
		r.Streams = append(r.Streams, st)
	}
	return r, true
}

// allocated returns the bytes allocated on the heap while fn runs.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
