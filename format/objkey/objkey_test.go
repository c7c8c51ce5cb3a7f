package objkey

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

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
