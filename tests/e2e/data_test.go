package e2e

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/loggen"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
)

// Rec is one stored (or pushed) entry in a comparable form.
type Rec struct {
	Tenant tenant.ID
	Stream string // labels in text form
	TS     int64
	Line   string
	Meta   string // structured metadata in text form, "" when none
}

func (r Rec) String() string {
	line := r.Line
	if len(line) > 60 {
		line = line[:60] + "…"
	}
	return fmt.Sprintf("%s %s %s %q %s", r.Tenant, r.Stream, time.Unix(0, r.TS).UTC().Format(time.RFC3339Nano), line, r.Meta)
}

func compareRecs(a, b Rec) int {
	return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.TS, b.TS),
		cmp.Compare(a.Line, b.Line), cmp.Compare(a.Meta, b.Meta))
}

func metaString(n int, s func(int) (string, string)) string {
	if n == 0 {
		return ""
	}
	var sb strings.Builder
	for i := range n {
		k, v := s(i)
		fmt.Fprintf(&sb, "%s=%q,", k, v)
	}
	return sb.String()
}

// recOf turns a generated entry into a Rec.
func recOf(e loggen.Entry) Rec {
	return Rec{Tenant: e.Tenant, Stream: e.Labels.String(), TS: e.Timestamp, Line: e.Line,
		Meta: metaString(len(e.Metadata), func(i int) (string, string) { return e.Metadata[i].Name, e.Metadata[i].Value })}
}

// recsOf returns the Recs of one tenant's push request.
func recsOf(t tenant.ID, req *push.Request) []Rec {
	var out []Rec
	for _, s := range req.Streams {
		ls, err := s.ParseLabels()
		if err != nil {
			panic("BUG: test pushed bad labels: " + err.Error())
		}
		for _, e := range s.Entries {
			out = append(out, Rec{Tenant: t, Stream: ls.String(), TS: e.Timestamp, Line: e.Line,
				Meta: metaString(len(e.Metadata), func(i int) (string, string) { return e.Metadata[i].Name, e.Metadata[i].Value })})
		}
	}
	return out
}

// generator returns loggen traffic starting a little in the past, so that
// the distributor's age and future checks pass.
func generator(seed uint64, tenants []tenant.ID, rate float64) *loggen.Generator {
	return loggen.New(loggen.Config{
		Seed: seed, TenantIDs: tenants, Namespaces: 2, Apps: 4, PodsPerApp: 2,
		Start: time.Now().Add(-30 * time.Minute).Truncate(time.Second), Rate: rate,
	})
}

// requests groups entries into one push request per tenant, streams in
// order of first appearance, entries in the order given.
func requests(entries []loggen.Entry) map[tenant.ID]*push.Request {
	out := map[tenant.ID]*push.Request{}
	pos := map[tenant.ID]map[string]int{}
	for _, e := range entries {
		req := out[e.Tenant]
		if req == nil {
			req = &push.Request{}
			out[e.Tenant] = req
			pos[e.Tenant] = map[string]int{}
		}
		key := e.Labels.String()
		i, ok := pos[e.Tenant][key]
		if !ok {
			i = len(req.Streams)
			pos[e.Tenant][key] = i
			req.Streams = append(req.Streams, push.Stream{Labels: key})
		}
		req.Streams[i].Entries = append(req.Streams[i].Entries, push.Entry{Timestamp: e.Timestamp, Line: e.Line, Metadata: e.Metadata})
	}
	return out
}

// protoPush is req as Promtail sends it: snappy-compressed protobuf.
func protoPush(t tenant.ID, req *push.Request) Push {
	return Push{Body: push.EncodeProto(req), ContentType: push.ContentTypeProto, OrgID: string(t)}
}

// jsonPush is req as JSON, gzip-compressed when gz.
func jsonPush(tb testing.TB, t tenant.ID, req *push.Request, gz bool) Push {
	tb.Helper()
	body, err := push.EncodeJSON(req)
	if err != nil {
		tb.Fatal(err)
	}
	ps := Push{Body: body, ContentType: push.ContentTypeJSON, OrgID: string(t)}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		ps.Body, ps.ContentEncoding = buf.Bytes(), "gzip"
	}
	return ps
}

// minioBucket makes a fresh bucket on srv and returns it with the storage
// section of a kmlog config that uses it.
func minioBucket(t testing.TB, srv *miniotest.Server, name string) (bucket.Bucket, Config) {
	b := srv.NewBucket(t, name)
	return b, Config{"storage": Config{
		"backend": "s3",
		"s3": Config{
			"endpoint": srv.Endpoint, "bucket": b.Name(), "region": "us-east-1",
			"access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey, "insecure": true,
		},
	}}
}

// Stored is what the bucket holds under a prefix.
type Stored struct {
	Recs      []Rec // sorted
	DataFiles int
	Indexes   int
	Keys      []string
	Orphans   []string // data files without an index
	// Where lists, for each entry, the data files holding it.
	Where map[Rec][]string
}

// readStored reads every index under prefix ("" for the whole bucket),
// checks it against its data file with index.Check, and returns every row
// of every data file, sorted. A data file without an index, or an index
// without its data file, fails the test.
func readStored(t testing.TB, b bucket.Bucket, prefix string) Stored {
	t.Helper()
	st := readStoredOrphans(t, b, prefix)
	if len(st.Orphans) > 0 {
		t.Errorf("under %q: data files without an index: %v", prefix, st.Orphans)
	}
	return st
}

// dayObject says whether key is under a tenant's day prefix, where only
// data files and indexes live.
func dayObject(key string) bool {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 3 {
		return false
	}
	_, err := objkey.ParseDay(parts[1])
	return err == nil
}

// readStoredOrphans is readStored for tests that kill ingesters or MinIO
// mid-upload: a data file whose index was never written is invisible to
// queries (the compactor adopts it), so it is listed in Orphans, not read.
func readStoredOrphans(t testing.TB, b bucket.Bucket, prefix string) Stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := Stored{Where: map[Rec][]string{}}
	data := map[string]int64{}
	var indexes []objkey.Key
	err := b.List(ctx, prefix, func(oi bucket.ObjectInfo) error {
		if !dayObject(oi.Key) {
			return nil // the ruler's rules, state and leases; delete requests; cache entries
		}
		st.Keys = append(st.Keys, oi.Key)
		k, err := objkey.Parse(oi.Key)
		if err != nil {
			return fmt.Errorf("unexpected object %s: %w", oi.Key, err)
		}
		switch k.Kind {
		case objkey.KindData:
			data[oi.Key] = oi.Size
			st.DataFiles++
		case objkey.KindIndex:
			indexes = append(indexes, k)
			st.Indexes++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	for _, k := range indexes {
		raw, err := bucket.ReadAll(ctx, b, k.String())
		if err != nil {
			t.Fatal(err)
		}
		ix, err := index.Decode(raw)
		if err != nil {
			t.Fatalf("decode %s: %v", k, err)
		}
		k.Kind = objkey.KindData
		dataKey := k.String()
		size, ok := data[dataKey]
		if !ok {
			t.Fatalf("index without data file %s", dataKey)
		}
		delete(data, dataKey)
		if size != ix.DataSize {
			t.Errorf("%s: %d bytes, index says %d", dataKey, size, ix.DataSize)
		}
		ra := bucket.NewReaderAt(ctx, b, dataKey, size)
		if err := index.Check(ctx, ix, ra, size); err != nil {
			t.Errorf("check %s: %v", dataKey, err)
		}
		rd, err := datafile.Open(ctx, ra, size, datafile.OpenOptions{Tail: ix.Tail})
		if err != nil {
			t.Fatalf("open %s: %v", dataKey, err)
		}
		streams := rd.Streams()
		n := int64(0)
		for e, err := range rd.Read(ctx, datafile.Selection{Columns: datafile.AllColumns}) {
			if err != nil {
				t.Fatalf("read %s: %v", dataKey, err)
			}
			n++
			if objkey.DayOf(e.Timestamp) != k.Day {
				t.Errorf("%s holds an entry of %s", dataKey, time.Unix(0, e.Timestamp).UTC())
			}
			r := Rec{Tenant: k.Tenant, Stream: streams[e.Stream].String(), TS: e.Timestamp, Line: string(e.Line),
				Meta: metaString(len(e.Metadata), func(i int) (string, string) { return e.Metadata[i].Name, e.Metadata[i].Value })}
			st.Recs = append(st.Recs, r)
			st.Where[r] = append(st.Where[r], dataKey)
		}
		if n != ix.Rows {
			t.Errorf("%s: read %d rows, index says %d", dataKey, n, ix.Rows)
		}
	}
	st.Orphans = slices.Sorted(maps.Keys(data))
	slices.SortFunc(st.Recs, compareRecs)
	return st
}

// diffRecs reports up to ten differences between two sorted multisets.
func diffRecs(t testing.TB, got, want []Rec) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	var missing, extra []Rec
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case i == len(got):
			missing = append(missing, want[j])
			j++
		case j == len(want):
			extra = append(extra, got[i])
			i++
		default:
			switch c := compareRecs(got[i], want[j]); {
			case c == 0:
				i++
				j++
			case c < 0:
				extra = append(extra, got[i])
				i++
			default:
				missing = append(missing, want[j])
				j++
			}
		}
	}
	t.Errorf("stored %d entries, pushed %d: %d missing, %d unexpected", len(got), len(want), len(missing), len(extra))
	for _, r := range missing[:min(10, len(missing))] {
		t.Errorf("missing: %s", r)
	}
	for _, r := range extra[:min(10, len(extra))] {
		t.Errorf("unexpected: %s", r)
	}
}
