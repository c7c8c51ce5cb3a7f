package objkey

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/tenant"
)

func TestULIDRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		var u ULID
		for j := range u {
			u[j] = byte(r.Uint32())
		}
		s := u.String()
		got, err := ParseULID(s)
		if err != nil || got != u {
			t.Fatalf("round trip %x -> %s -> %x, %v", u, s, got, err)
		}
	}
	max := ULID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if s := max.String(); s != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Fatalf("max = %s", s)
	}
	if _, err := ParseULID("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"); err == nil {
		t.Fatal("overflow accepted")
	}
}

func TestULIDOrderAndTime(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a, _ := NewULID(t0, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
	b, _ := NewULID(t0.Add(time.Millisecond), bytes.NewReader(make([]byte, 10)))
	if a.Compare(b) >= 0 || a.String() >= b.String() {
		t.Fatal("ULIDs do not sort by time")
	}
	if !a.Time().Equal(t0) {
		t.Fatalf("time %v", a.Time())
	}
}

func TestKeys(t *testing.T) {
	id := MustNewULID()
	day, _ := ParseDay("2026-11-25")
	tid := tenant.MustParse("tenant-financial")
	k := Data(tid, day, id)
	if want := "tenant-financial/2026-11-25/data/" + id.String() + ".parquet"; k != want {
		t.Fatalf("key %s want %s", k, want)
	}
	got, err := Parse(k)
	if err != nil || got.Tenant != tid || got.Day != day || got.Kind != KindData || got.ID != id {
		t.Fatalf("parse: %+v %v", got, err)
	}
	if got.String() != k {
		t.Fatal("String")
	}
	for _, bad := range []string{"../x/2026-11-25/data/" + id.String() + ".parquet", "t/2026-13-01/data/x.parquet", "t/2026-11-25/other/" + id.String() + ".parquet", "t/2026-11-25/index/" + id.String() + ".parquet"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestDayOf(t *testing.T) {
	ts := time.Date(2026, 11, 25, 23, 59, 59, 999999999, time.UTC)
	d := DayOfTime(ts)
	if d.String() != "2026-11-25" || DayOf(d.EndNano()) != d+1 || DayOf(d.StartNano()) != d {
		t.Fatalf("day %s", d)
	}
	if DayOf(-1).String() != "1969-12-31" {
		t.Fatal("negative")
	}
}

func TestTenantSegment(t *testing.T) {
	day, _ := ParseDay("2026-11-25")
	id := MustNewULID()
	for _, c := range []struct{ tenant, seg string }{
		{"fake", "fake"}, // ordinary IDs keep the keys they always had
		{"tenant-financial", "tenant-financial"},
		{"a.b", "a.b"},
		{"x.", "x."},
		{"a..b", "a..b"},
		{"!-_.*'()", "!-_.*'()"},
		{".tmp", "%2Etmp"},
		{"..x", "%2E.x"},
		{".a.", "%2Ea."},
	} {
		tid := tenant.MustParse(c.tenant)
		if got := TenantSegment(tid); got != c.seg {
			t.Errorf("TenantSegment(%q) = %q, want %q", c.tenant, got, c.seg)
		}
		back, err := ParseTenantSegment(c.seg)
		if err != nil || back != tid {
			t.Errorf("ParseTenantSegment(%q) = %q, %v", c.seg, back, err)
		}
		for _, k := range []string{Data(tid, day, id), Index(tid, day, id), TenantPrefix(tid) + "cache/x", DataPrefix(tid, day) + "x"} {
			if err := bucket.ValidateKey(k); err != nil {
				t.Errorf("tenant %q: %v", c.tenant, err)
			}
		}
		k, err := Parse(Index(tid, day, id))
		if err != nil || k.Tenant != tid {
			t.Errorf("Parse(Index(%q)) = %+v, %v", c.tenant, k, err)
		}
	}
	for _, bad := range []string{"", ".tmp", "%2etmp", "%2E", "%2", "%41bc", "%2Fx", "%25", "a%", "%ZZ"} {
		if tid, err := ParseTenantSegment(bad); err == nil {
			t.Errorf("ParseTenantSegment(%q) = %q, want an error", bad, tid)
		}
	}
}

// FuzzTenantSegment: every tenant ID push accepts has a segment that makes
// valid bucket keys and reads back as the same ID; a segment that parses is
// the one spelling of its ID.
func FuzzTenantSegment(f *testing.F) {
	for _, s := range []string{"fake", ".tmp", "..", ".", "a.b", "%2Etmp", "%2etmp", "x%", "(')*!", "..a", "tenant-1"} {
		f.Add(s)
	}
	day, _ := ParseDay("2026-11-25")
	id := MustNewULID()
	f.Fuzz(func(t *testing.T, s string) {
		if tid, err := tenant.Parse(s); err == nil {
			seg := TenantSegment(tid)
			back, err := ParseTenantSegment(seg)
			if err != nil || back != tid {
				t.Fatalf("tenant %q -> segment %q -> %q, %v", s, seg, back, err)
			}
			key := Data(tid, day, id)
			if err := bucket.ValidateKey(key); err != nil {
				t.Fatalf("tenant %q: %v", s, err)
			}
			if err := bucket.ValidatePrefix(TenantPrefix(tid)); err != nil {
				t.Fatalf("tenant %q: %v", s, err)
			}
			k, err := Parse(key)
			if err != nil || k.Tenant != tid {
				t.Fatalf("tenant %q: Parse(%q) = %+v, %v", s, key, k, err)
			}
		}
		if tid, err := ParseTenantSegment(s); err == nil {
			if TenantSegment(tid) != s {
				t.Fatalf("segment %q parses as %q, whose segment is %q", s, tid, TenantSegment(tid))
			}
			if _, err := tenant.Parse(string(tid)); err != nil {
				t.Fatalf("segment %q parses as invalid tenant %q", s, tid)
			}
		}
	})
}
