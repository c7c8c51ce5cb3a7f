package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// TestPushStatusCodes checks the push API's statuses end to end, through
// gateway, distributor and ingester of an all-in-one process, and that a
// partly accepted push stored exactly its valid part.
func TestPushStatusCodes(t *testing.T) {
	srv := miniotest.StartShared(t)
	bkt, storage := minioBucket(t, srv, t.Name())
	p := NewProc(t, "all")
	overrides := filepath.Join(p.Dir, "overrides.yaml")
	// 10 KiB/s with a 10 KiB burst for one tenant only.
	if err := os.WriteFile(overrides, []byte("overrides:\n  tenant-slow:\n    ingestion_rate_mb: 0.01\n    ingestion_burst_size_mb: 0.01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Start(merge(storage, Config{
		"target":         "all",
		"gateway":        Config{"max_request_body_bytes": 1 << 20},
		"distributor":    Config{"max_recv_msg_size": 4 << 20},
		"runtime_config": Config{"file": overrides},
	}))

	now := time.Now().UnixNano()
	line := func(s string, i int) string { return s + " " + strings.Repeat("x", i%7) }
	var want []Rec
	accept := func(t tenant.ID, req *push.Request) { want = append(want, recsOf(t, req)...) }

	// 204: all valid.
	ok := &push.Request{Streams: []push.Stream{{Labels: `{app="ok", level="info"}`, Entries: []push.Entry{
		{Timestamp: now - 3e9, Line: line("first", 1)}, {Timestamp: now - 2e9, Line: line("second", 2)},
	}}}}
	p.MustPush(protoPush("tenant-status", ok), 204)
	accept("tenant-status", ok)

	// 204 across midnight UTC: one push, two days, two data files.
	midnight := time.Now().UTC().Truncate(24 * time.Hour).UnixNano()
	days := &push.Request{Streams: []push.Stream{{Labels: `{app="midnight"}`, Entries: []push.Entry{
		{Timestamp: midnight - 1e9, Line: "the day before"}, {Timestamp: midnight + 1e9, Line: "the day after"},
	}}}}
	p.MustPush(protoPush("tenant-status", days), 204)
	accept("tenant-status", days)

	// 400: a stream with bad labels, an entry older than
	// reject_old_samples_max_age and one too far in the future are
	// rejected; the valid entries of the same push are kept.
	partial := &push.Request{Streams: []push.Stream{
		{Labels: `{app="partial"}`, Entries: []push.Entry{
			{Timestamp: now - 1e9, Line: "kept 1"},
			{Timestamp: now - int64(8*24*time.Hour), Line: "too old"},
			{Timestamp: now + int64(time.Hour), Line: "too new"},
			{Timestamp: now - 5e8, Line: "kept 2"},
		}},
		{Labels: `{app=}`, Entries: []push.Entry{{Timestamp: now, Line: "bad labels"}}},
		{Labels: `{}`, Entries: []push.Entry{{Timestamp: now, Line: "no labels"}}},
	}}
	body := p.MustPush(protoPush("tenant-status", partial), 400)
	for _, s := range []string{"timestamp too old", "timestamp too new", "Error parsing labels"} {
		if !strings.Contains(body, s) {
			t.Errorf("400 body does not mention %q: %s", s, body)
		}
	}
	accept("tenant-status", &push.Request{Streams: []push.Stream{{Labels: `{app="partial"}`, Entries: []push.Entry{
		{Timestamp: now - 1e9, Line: "kept 1"}, {Timestamp: now - 5e8, Line: "kept 2"},
	}}}})

	// 400 from the ingester: an entry behind its stream's out-of-order
	// window (1h) is rejected there, the rest of the push kept.
	behind := &push.Request{Streams: []push.Stream{{Labels: `{app="ok", level="info"}`, Entries: []push.Entry{
		{Timestamp: now - int64(2*time.Hour), Line: "too far behind"},
		{Timestamp: now - 1e9, Line: "in order"},
	}}}}
	body = p.MustPush(protoPush("tenant-status", behind), 400)
	if !strings.Contains(body, "entry too far behind") {
		t.Errorf("400 body: %s", body)
	}
	accept("tenant-status", &push.Request{Streams: []push.Stream{{Labels: `{app="ok", level="info"}`, Entries: []push.Entry{
		{Timestamp: now - 1e9, Line: "in order"},
	}}}})

	// 400: an undecodable body.
	p.MustPush(Push{Body: []byte("not snappy"), ContentType: push.ContentTypeProto, OrgID: "tenant-status"}, 400)
	p.MustPush(Push{Body: []byte(`{"streams": [`), ContentType: push.ContentTypeJSON, OrgID: "tenant-status"}, 400)

	// 413: a body over the gateway's 1 MiB, and a gzip body that
	// decompresses past the distributor's 4 MiB.
	big := make([]byte, 2<<20)
	rand.Read(big)
	p.MustPush(Push{Body: big, ContentType: push.ContentTypeProto, OrgID: "tenant-status"}, 413)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write([]byte(`{"streams": [{"stream": {"app": "bomb"}, "values": [["1", "`))
	zw.Write(bytes.Repeat([]byte("a"), 8<<20))
	zw.Write([]byte(`"]]}]}`))
	zw.Close()
	p.MustPush(Push{Body: bomb.Bytes(), ContentType: push.ContentTypeJSON, ContentEncoding: "gzip", OrgID: "tenant-status"}, 413)

	// 415: an encoding kmlog does not read.
	p.MustPush(Push{Body: push.EncodeProto(ok), ContentType: push.ContentTypeProto, ContentEncoding: "br", OrgID: "tenant-status"}, 415)

	// 422: no streams.
	p.MustPush(Push{Body: []byte(`{"streams": []}`), ContentType: push.ContentTypeJSON, OrgID: "tenant-status"}, 422)

	// 429: tenant-slow has a 10 KiB burst; 5 KiB passes, 50 KiB more not.
	small := &push.Request{Streams: []push.Stream{{Labels: `{app="slow"}`, Entries: []push.Entry{{Timestamp: now, Line: strings.Repeat("s", 5<<10)}}}}}
	p.MustPush(protoPush("tenant-slow", small), 204)
	accept("tenant-slow", small)
	large := &push.Request{Streams: []push.Stream{{Labels: `{app="slow"}`, Entries: []push.Entry{{Timestamp: now + 1, Line: strings.Repeat("l", 50<<10)}}}}}
	body = p.MustPush(protoPush("tenant-slow", large), 429)
	if !strings.Contains(body, "Ingestion rate limit exceeded") {
		t.Errorf("429 body: %s", body)
	}
	// Another tenant is not limited by tenant-slow's override.
	other := &push.Request{Streams: []push.Stream{{Labels: `{app="fast"}`, Entries: []push.Entry{{Timestamp: now, Line: strings.Repeat("f", 50<<10)}}}}}
	p.MustPush(protoPush("tenant-fast", other), 204)
	accept("tenant-fast", other)

	p.Flush()
	slices.SortFunc(want, compareRecs)
	diffRecs(t, readStored(t, bkt, "").Recs, want)
	for _, ns := range []int64{midnight - 1e9, midnight + 1e9} {
		if st := readStored(t, bkt, objkey.DayPrefix("tenant-status", objkey.DayOf(ns))); st.DataFiles != 1 {
			t.Errorf("day %s of tenant-status: %d data files, want 1", objkey.DayOf(ns), st.DataFiles)
		}
	}
}
