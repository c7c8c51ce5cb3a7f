package e2e

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/tenant"
)

// pushBatches pushes each batch's per-tenant requests to p, cycling
// through the four body kinds a client may send, and returns the Recs
// pushed. Batches go in pairs swapped ([1 0 3 2 …]) and the entries of
// every other batch's streams reversed, so the ingester sees entries out
// of order within its window.
func pushBatches(t *testing.T, p *Proc, batches [][]loggen.Entry) []Rec {
	t.Helper()
	var want []Rec
	order := make([]int, len(batches))
	for i := range order {
		order[i] = i ^ 1
		if order[i] >= len(batches) {
			order[i] = i
		}
	}
	kind := 0
	for _, bi := range order {
		reqs := requests(batches[bi])
		for _, tid := range slices.Sorted(maps.Keys(reqs)) {
			req := reqs[tid]
			if bi%2 == 1 {
				for _, s := range req.Streams {
					slices.Reverse(s.Entries)
				}
			}
			var ps Push
			switch kind % 4 {
			case 0:
				ps = protoPush(tid, req)
			case 1:
				ps = jsonPush(t, tid, req, false)
			case 2:
				ps = jsonPush(t, tid, req, true)
			case 3:
				ps = protoPush(tid, req)
				ps.ContentEncoding = "snappy" // some clients say so; a no-op
			}
			kind++
			p.MustPush(ps, 204)
			want = append(want, recsOf(tid, req)...)
		}
	}
	slices.SortFunc(want, compareRecs)
	return want
}

// TestAllInOneIngest pushes loggen traffic of three tenants, as protobuf,
// JSON and gzipped JSON, to an all-in-one kmlog on MinIO, flushes, and
// reads every entry back from the data files under each tenant's prefix.
// A graceful restart then uploads nothing again; a kill -9 after more
// pushes loses nothing.
func TestAllInOneIngest(t *testing.T) {
	srv := miniotest.StartShared(t)
	bkt, storage := minioBucket(t, srv, t.Name())
	p := NewProc(t, "all")
	p.Start(merge(storage, Config{"target": "all"}))

	tenants := []tenant.ID{"tenant-a", "tenant-b", "tenant-c"}
	gen := generator(1, tenants, 2000)
	var batches [][]loggen.Entry
	for range 12 {
		batches = append(batches, gen.Take(500))
	}
	want := pushBatches(t, p, batches)

	// Nothing is due yet (64 MiB heads, 15 minute age): only /flush writes.
	if st := readStored(t, bkt, ""); len(st.Keys) != 0 {
		t.Fatalf("objects before the flush: %v", st.Keys)
	}
	p.Flush()
	st := readStored(t, bkt, "")
	diffRecs(t, st.Recs, want)
	t.Logf("pushed %d entries; the bucket holds %d in %d data files", len(want), len(st.Recs), st.DataFiles)
	for _, tid := range tenants {
		ts := readStored(t, bkt, objkey.TenantPrefix(tid))
		if ts.DataFiles == 0 || ts.Indexes == 0 {
			t.Errorf("%s: %d data files, %d indexes", tid, ts.DataFiles, ts.Indexes)
		}
		for _, r := range ts.Recs {
			if r.Tenant != tid {
				t.Fatalf("%s holds an entry of %s", objkey.TenantPrefix(tid), r.Tenant)
			}
		}
	}
	hasMeta := slices.ContainsFunc(st.Recs, func(r Rec) bool { return strings.Contains(r.Meta, "trace_id") })
	if !hasMeta {
		t.Error("no stored entry carries structured metadata")
	}
	m := p.Metrics()
	if got := m["kmlog_ingester_received_entries_total"]; got != float64(len(want)) {
		t.Errorf("kmlog_ingester_received_entries_total = %v, want %d", got, len(want))
	}

	// A graceful restart after a flush has nothing left to replay.
	p.Stop()
	p.Start(nil)
	p.Flush()
	if again := readStored(t, bkt, ""); len(again.Keys) != len(st.Keys) {
		t.Errorf("restart after a flush wrote %d objects more", len(again.Keys)-len(st.Keys))
	}

	// kill -9 with unflushed heads: the WAL brings them back.
	var more [][]loggen.Entry
	for range 4 {
		more = append(more, gen.Take(500))
	}
	want = append(want, pushBatches(t, p, more)...)
	slices.SortFunc(want, compareRecs)
	p.Kill()
	p.Start(nil)
	p.Flush()
	diffRecs(t, readStored(t, bkt, "").Recs, want)
}

// TestPushBodiesDecodeAlike pushes the same request once per body format
// to three tenants and checks that the three stored copies are identical.
func TestPushBodiesDecodeAlike(t *testing.T) {
	srv := miniotest.StartShared(t)
	bkt, storage := minioBucket(t, srv, t.Name())
	p := NewProc(t, "all")
	p.Start(merge(storage, Config{"target": "all"}))
	reqs := requests(generator(2, []tenant.ID{"fmt"}, 1000).Take(800))
	req := reqs["fmt"]
	p.MustPush(protoPush("fmt-proto", req), 204)
	p.MustPush(jsonPush(t, "fmt-json", req, false), 204)
	p.MustPush(jsonPush(t, "fmt-gzip", req, true), 204)
	p.Flush()
	base := readStored(t, bkt, "fmt-proto/").Recs
	if len(base) != 800 {
		t.Fatalf("fmt-proto: %d entries stored, want 800", len(base))
	}
	if !slices.ContainsFunc(base, func(r Rec) bool { return r.Meta != "" }) {
		t.Fatal("no entry with structured metadata: the comparison would not cover it")
	}
	for _, tid := range []string{"fmt-json/", "fmt-gzip/"} {
		got := readStored(t, bkt, tid).Recs
		for i := range got {
			got[i].Tenant = "fmt-proto"
		}
		diffRecs(t, got, base)
	}
}
