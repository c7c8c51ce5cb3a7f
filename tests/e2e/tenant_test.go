package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// TestTenantIDsAsKeys pushes to tenants whose IDs Loki accepts but that are
// not a bucket key segment as they are (".tmp": a segment may not start
// with a dot) next to ordinary ones, on MinIO. Every push is flushed within
// a bounded time, each tenant's objects are under its own prefix, and each
// tenant's query answers exactly its own lines, from the bucket, after a
// restart. Before object keys escaped the tenant segment, the flush of
// ".tmp" failed forever and held back the other tenants' uploads.
func TestTenantIDsAsKeys(t *testing.T) {
	t.Run("Dir", func(t *testing.T) {
		p := NewProc(t, "all")
		dir := filepath.Join(p.Dir, "objects")
		bkt, err := bucket.NewDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		testTenantIDsAsKeys(t, p, bkt, Config{"storage": Config{"backend": "dir", "dir": dir}})
	})
	t.Run("MinIO", func(t *testing.T) {
		srv := miniotest.StartShared(t)
		bkt, storage := minioBucket(t, srv, t.Name())
		testTenantIDsAsKeys(t, NewProc(t, "all"), bkt, storage)
	})
}

func testTenantIDsAsKeys(t *testing.T, p *Proc, bkt bucket.Bucket, storage Config) {
	p.Start(allInOneQueryConfig(storage, false))

	tenants := []tenant.ID{".tmp", "..x", "fake", "a.b", "x(1)'*!-_"}
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	want := map[tenant.ID][]string{}
	for i, tid := range tenants {
		req := &push.Request{Streams: []push.Stream{{Labels: `{app="odd", n="` + string(rune('0'+i)) + `"}`}}}
		for j := range 20 {
			line := string(tid) + " line " + string(rune('a'+j))
			req.Streams[0].Entries = append(req.Streams[0].Entries, push.Entry{Timestamp: base.Add(time.Duration(j) * time.Second).UnixNano(), Line: line})
			want[tid] = append(want[tid], line)
		}
		p.MustPush(protoPush(tid, req), http.StatusNoContent)
	}

	// The flush must finish; a head that can never be uploaded used to
	// keep it (and every other tenant's head) waiting forever.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	freq, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL("/flush"), nil)
	resp, err := p.Client.Do(freq)
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("flush: %s: %s", resp.Status, body)
	}

	for _, tid := range tenants {
		st := readStored(t, bkt, objkey.TenantPrefix(tid))
		if len(st.Recs) != len(want[tid]) {
			t.Errorf("tenant %q: %d entries under %q, want %d (keys %v)", tid, len(st.Recs), objkey.TenantPrefix(tid), len(want[tid]), st.Keys)
		}
		for _, r := range st.Recs {
			if r.Tenant != tid {
				t.Errorf("prefix %q holds an entry of tenant %q", objkey.TenantPrefix(tid), r.Tenant)
			}
		}
	}

	// A restart empties the ingester: the answers come from the bucket.
	p.Stop()
	p.Start(nil)
	c := newLokiClient(p.URL(""))
	for _, tid := range tenants {
		params := url.Values{"query": {`{app="odd"}`}, "start": {nsParam(base.Add(-time.Minute))}, "end": {nsParam(base.Add(time.Hour))}, "limit": {"1000"}, "direction": {"forward"}}
		var r struct {
			Data struct {
				Result []struct {
					Values [][2]string `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(c.mustGet(t, tid, "/loki/api/v1/query_range", params), &r); err != nil {
			t.Fatalf("tenant %q: decode query answer: %v", tid, err)
		}
		var got []string
		for _, s := range r.Data.Result {
			for _, v := range s.Values {
				got = append(got, v[1])
			}
		}
		if !slices.Equal(got, want[tid]) {
			t.Errorf("tenant %q: query answered %q, want %q", tid, got, want[tid])
		}
	}
}
