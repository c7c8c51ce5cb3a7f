package objkey

import (
	"testing"

	"github.com/kubemate/kmlog/format/tenant"
)

func TestCompactionKeys(t *testing.T) {
	tid := tenant.MustParse("tenant-a")
	d, _ := ParseDay("2026-11-25")
	id := MustNewULID()
	for _, c := range []struct {
		key  string
		leaf string
	}{
		{Data(tid, d, id), LeafData},
		{Index(tid, d, id), LeafFlushIndex},
		{CompactedIndex(tid, d, id), LeafCompactedIndex},
		{DeleteMarker(tid, d, id), LeafDeleteMarker},
		{Manifest(tid, d, 7), LeafManifest},
		{DayPrefix(tid, d) + "index/other.txt", LeafOther},
	} {
		o, err := ParseDayObject(c.key)
		if err != nil || o.Leaf != c.leaf || o.Tenant != tid || o.Day != d {
			t.Errorf("%s: %+v %v, want leaf %s", c.key, o, err, c.leaf)
		}
		if c.leaf == LeafManifest && o.Gen != 7 {
			t.Errorf("%s: gen %d", c.key, o.Gen)
		}
	}
	if _, err := ParseDayObject(DeleteRequest(tid, id)); err == nil {
		t.Error("a tenant-level key parsed as a day's object")
	}
	if e, err := ParseLease(Lease(tid, d, 42)); err != nil || e != 42 {
		t.Errorf("lease epoch %d %v", e, err)
	}
}

// FuzzParseDayObject: no panics, and every parsed key is rebuilt exactly.
func FuzzParseDayObject(f *testing.F) {
	tid := tenant.MustParse("tenant-a")
	d, _ := ParseDay("2026-11-25")
	id := MustNewULID()
	for _, k := range []string{Data(tid, d, id), Index(tid, d, id), CompactedIndex(tid, d, id), DeleteMarker(tid, d, id),
		Manifest(tid, d, 3), "a/2026-01-01/index/gen-1.manifest", "x/y", ".a/2026-01-01/data/x.parquet"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		o, err := ParseDayObject(key)
		if err != nil {
			return
		}
		var want string
		switch o.Leaf {
		case LeafData:
			want = Data(o.Tenant, o.Day, o.ID)
		case LeafFlushIndex:
			want = Index(o.Tenant, o.Day, o.ID)
		case LeafCompactedIndex:
			want = CompactedIndex(o.Tenant, o.Day, o.ID)
		case LeafDeleteMarker:
			want = DeleteMarker(o.Tenant, o.Day, o.ID)
		case LeafManifest:
			want = Manifest(o.Tenant, o.Day, o.Gen)
		default:
			return
		}
		if o2, err := ParseDayObject(want); err != nil || o2 != o {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", key, o, want, o2, err)
		}
	})
}
