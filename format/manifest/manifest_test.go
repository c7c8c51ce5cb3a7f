package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/objkey"
)

func ulid(t testing.TB, b byte) objkey.ULID {
	t.Helper()
	var u objkey.ULID
	u[0], u[15] = 1, b
	return u
}

func TestRoundTrip(t *testing.T) {
	m := &Manifest{Gen: 3, Created: 42,
		Outputs:  []Output{{ID: ulid(t, 9), DataSize: 100, Rows: 7}},
		Replaced: []objkey.ULID{ulid(t, 1), ulid(t, 2)},
		Deletes:  []objkey.ULID{ulid(t, 5)},
	}
	got, err := Decode(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m, got); d != "" {
		t.Fatal(d)
	}
	r := DeleteRequest{ID: ulid(t, 3), Query: `{a="b"} |= "x"`, Start: 1, End: 2, Created: 3}
	gr, err := DecodeDelete(EncodeDelete(r))
	if err != nil || gr != r {
		t.Fatalf("%+v %v", gr, err)
	}
}

func TestResolve(t *testing.T) {
	f1, f2, f3, o1 := ulid(t, 1), ulid(t, 2), ulid(t, 3), ulid(t, 9)
	l := &Listing{Flushes: []objkey.ULID{f3, f1, f2}, Compacted: []objkey.ULID{o1, ulid(t, 10)}, Gens: []uint64{1, 2}, Deletes: []objkey.ULID{ulid(t, 5), ulid(t, 6)}}
	if got := Resolve(l, nil); len(got) != 3 || got[0].ID != f1 || got[0].Compacted {
		t.Fatalf("no manifest: %+v", got)
	}
	m := &Manifest{Gen: 2, Outputs: []Output{{ID: o1}}, Replaced: []objkey.ULID{f1, f2}, Deletes: []objkey.ULID{ulid(t, 5)}}
	want := []File{{ID: o1, Compacted: true}, {ID: f3}}
	if d := cmp.Diff(want, Resolve(l, m)); d != "" {
		t.Fatal(d)
	}
	if got := PendingDeletes(l, m); len(got) != 1 || got[0] != ulid(t, 6) {
		t.Fatalf("pending %v", got)
	}
	if l.Newest() != 2 {
		t.Fatal(l.Newest())
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"version":1,"gen":0}`, `{"version":2,"gen":1}`,
		`{"version":1,"gen":1,"outputs":[{"id":"x"}]}`, `{"version":1,"gen":1,"replaced":["ZZ"]}`,
		`{"version":1,"gen":1,"outputs":[{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","data_size":-1}]}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func FuzzDecode(f *testing.F) {
	m := &Manifest{Gen: 1, Outputs: []Output{{ID: ulid(f, 9), DataSize: 1}}, Replaced: []objkey.ULID{ulid(f, 1)}}
	f.Add(m.Encode())
	f.Add(EncodeDelete(DeleteRequest{ID: ulid(f, 3), Query: `{a="b"}`, End: 5}))
	f.Add([]byte(`{"version":1,"gen":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := Decode(b); err == nil {
			m2, err := Decode(m.Encode())
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if d := cmp.Diff(m, m2); d != "" {
				t.Fatal(d)
			}
		}
		if r, err := DecodeDelete(b); err == nil {
			r2, err := DecodeDelete(EncodeDelete(r))
			if err != nil || r2 != r {
				t.Fatalf("delete round trip: %+v %v", r2, err)
			}
		}
	})
}
