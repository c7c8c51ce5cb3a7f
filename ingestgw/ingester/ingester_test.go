package ingester

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/datafile"
	"github.com/kubemate/kmlog/format/index"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/objkey"
	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/internal/wal"
	"github.com/kubemate/kmlog/ingestgw/limits"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type fixture struct {
	ing    *Ingester
	wal    *wal.WAL
	bkt    bucket.Bucket
	walDir string
	cancel context.CancelFunc
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.FlushCheckPeriod = time.Hour // tests flush explicitly
	cfg.RetryMin = time.Millisecond
	cfg.RetryMax = 10 * time.Millisecond
	return cfg
}

// start opens (or reopens) an ingester over walDir and bkt.
func start(t *testing.T, cfg Config, bkt bucket.Bucket, walDir string, lim limits.Limits) *fixture {
	t.Helper()
	wcfg := wal.DefaultConfig()
	wcfg.Dir = walDir
	if cfg.QuarantineDir == "" {
		cfg.QuarantineDir = filepath.Join(walDir, "quarantine")
	}
	wcfg.SegmentSize = 64 << 10
	w, err := wal.Open(wcfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ov, err := limits.NewOverrides(lim)
	if err != nil {
		t.Fatal(err)
	}
	ing, err := New(cfg, bkt, w, ov, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ing.now = func() time.Time { return t0.Add(time.Minute) }
	ctx, cancel := context.WithCancel(t.Context())
	if err := ing.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{ing: ing, wal: w, bkt: bkt, walDir: walDir, cancel: cancel}
	t.Cleanup(func() { cancel(); _ = w.Close() })
	return f
}

// crash abandons the ingester without flushing, as kill -9 would.
func (f *fixture) crash() {
	f.cancel()
	_ = f.wal.Close()
}

func entries(ts0 time.Time, lines ...string) []push.Entry {
	out := make([]push.Entry, len(lines))
	for i, l := range lines {
		out[i] = push.Entry{Timestamp: ts0.Add(time.Duration(i) * time.Second).UnixNano(), Line: l}
	}
	return out
}

// readBack reads every entry a tenant has in the bucket, by stream, and
// checks every index against its data file.
func readBack(t *testing.T, bkt bucket.Bucket, tid tenant.ID) map[string][]push.Entry {
	t.Helper()
	ctx := t.Context()
	out := map[string][]push.Entry{}
	err := bkt.List(ctx, objkey.TenantPrefix(tid), func(oi bucket.ObjectInfo) error {
		k, err := objkey.Parse(oi.Key)
		if err != nil || k.Kind != objkey.KindIndex {
			return err
		}
		raw, err := bucket.ReadAll(ctx, bkt, oi.Key)
		if err != nil {
			return err
		}
		ix, err := index.Decode(raw)
		if err != nil {
			return err
		}
		dataKey := objkey.Data(k.Tenant, k.Day, k.ID)
		ra := bucket.NewReaderAt(ctx, bkt, dataKey, ix.DataSize)
		if err := index.Check(ctx, ix, ra, ix.DataSize); err != nil {
			return fmt.Errorf("check %s: %w", oi.Key, err)
		}
		rd, err := datafile.Open(ctx, ra, ix.DataSize, datafile.OpenOptions{Tail: ix.Tail})
		if err != nil {
			return err
		}
		streams := rd.Streams()
		for e, err := range rd.Read(ctx, datafile.Selection{Columns: datafile.AllColumns}) {
			if err != nil {
				return err
			}
			key := streams[e.Stream].String()
			var md labels.Labels
			for _, l := range e.Metadata {
				md = append(md, labels.Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)})
			}
			out[key] = append(out[key], push.Entry{Timestamp: e.Timestamp, Line: string(e.Line), Metadata: md})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPushFlushReadBack(t *testing.T) {
	bkt := bucket.NewMem()
	f := start(t, testConfig(), bkt, t.TempDir(), limits.Default())
	req := &push.Request{Streams: []push.Stream{
		{Labels: `{app="api", namespace="prod"}`, Entries: entries(t0, "one", "", "three \xff non-utf8")},
		{Labels: `{app="web", namespace="prod"}`, Entries: []push.Entry{{Timestamp: t0.UnixNano(), Line: "with md", Metadata: labels.FromStrings("trace_id", "abc")}}},
	}}
	if err := f.ing.Push(t.Context(), "tenant-a", req); err != nil {
		t.Fatal(err)
	}
	if err := f.ing.Push(t.Context(), "tenant-b", &push.Request{Streams: []push.Stream{{Labels: `{app="other"}`, Entries: entries(t0, "b")}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := readBack(t, bkt, "tenant-a")
	want := map[string][]push.Entry{
		`{app="api", namespace="prod"}`: entries(t0, "one", "", "three \xff non-utf8"),
		`{app="web", namespace="prod"}`: {{Timestamp: t0.UnixNano(), Line: "with md", Metadata: labels.FromStrings("trace_id", "abc")}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("tenant-a read back (-want +got):\n%s", d)
	}
	// Tenants never cross prefixes.
	if got := readBack(t, bkt, "tenant-b"); len(got) != 1 || got[`{app="other"}`] == nil {
		t.Fatalf("tenant-b: %v", got)
	}
	// After the flush no WAL segment older than the current one remains.
	segs, _ := filepath.Glob(filepath.Join(f.walDir, "*"))
	if len(segs) > 1 {
		t.Errorf("WAL segments left after a full flush: %v", segs)
	}
}

func TestOutOfOrderAndDuplicates(t *testing.T) {
	bkt := bucket.NewMem()
	cfg := testConfig()
	cfg.OutOfOrderWindow = time.Hour
	f := start(t, cfg, bkt, t.TempDir(), limits.Default())
	ls := `{app="api"}`
	p := func(ts time.Time, line string) error {
		return f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{{Labels: ls, Entries: []push.Entry{{Timestamp: ts.UnixNano(), Line: line}}}}})
	}
	for _, c := range []struct {
		ts   time.Time
		line string
	}{
		{t0.Add(30 * time.Minute), "newest"},
		{t0.Add(10 * time.Minute), "older, inside the window"},
		{t0.Add(30 * time.Minute), "newest"}, // exact duplicate of the newest
		{t0.Add(10 * time.Minute), "older, inside the window"},
	} {
		if err := p(c.ts, c.line); err != nil {
			t.Fatal(err)
		}
	}
	err := p(t0.Add(-31*time.Minute), "too far behind")
	se, ok := errors.AsType[*StatusError](err)
	if !ok || se.Code != http.StatusBadRequest || !strings.Contains(se.Msg, "entry too far behind") {
		t.Fatalf("err = %v", err)
	}
	if err := f.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := readBack(t, bkt, "t")[ls]
	want := []push.Entry{{Timestamp: t0.Add(10 * time.Minute).UnixNano(), Line: "older, inside the window"}, {Timestamp: t0.Add(30 * time.Minute).UnixNano(), Line: "newest"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestCrashReplaysWAL(t *testing.T) {
	bkt := bucket.NewMem()
	walDir := t.TempDir()
	f := start(t, testConfig(), bkt, walDir, limits.Default())
	var want []push.Entry
	for i := 0; i < 200; i++ {
		e := push.Entry{Timestamp: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Line: fmt.Sprintf("line %d %s", i, strings.Repeat("x", i))}
		want = append(want, e)
		if err := f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{{Labels: `{app="api"}`, Entries: []push.Entry{e}}}}); err != nil {
			t.Fatal(err)
		}
	}
	f.crash()
	if n := len(readBack(t, bkt, "t")); n != 0 {
		t.Fatal("nothing should have been flushed before the crash")
	}
	f2 := start(t, testConfig(), bkt, walDir, limits.Default())
	res, err := f2.ing.Query(t.Context(), "t", Query{Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "app", "api")}, Through: 1<<63 - 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Streams) != 1 || len(res.Streams[0].Entries) != 200 {
		t.Fatalf("replayed query: %d streams", len(res.Streams))
	}
	if err := f2.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, readBack(t, bkt, "t")[`{app="api"}`]); d != "" {
		t.Fatalf("after replay and flush (-want +got):\n%s", d)
	}
}

// flaky fails every Put while down is set.
type flaky struct {
	bucket.Bucket
	down  atomic.Bool
	fails atomic.Int64
}

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.down.Load() {
		f.fails.Add(1)
		return errors.New("connection refused")
	}
	return f.Bucket.Put(ctx, key, r, size)
}

func TestBucketDownKeepsDataAndWAL(t *testing.T) {
	bkt := &flaky{Bucket: bucket.NewMem()}
	bkt.down.Store(true)
	walDir := t.TempDir()
	f := start(t, testConfig(), bkt, walDir, limits.Default())
	if err := f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{{Labels: `{app="api"}`, Entries: entries(t0, "a", "b")}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := f.ing.Flush(ctx); err == nil {
		t.Fatal("flush succeeded with the bucket down")
	}
	if bkt.fails.Load() == 0 {
		t.Fatal("no upload was attempted")
	}
	// Still queryable while the upload is retried.
	res, _ := f.ing.Query(t.Context(), "t", Query{Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "app", "api")}, Through: 1<<63 - 1})
	if len(res.Streams) != 1 || len(res.Streams[0].Entries) != 2 {
		t.Fatalf("query while flushing: %+v", res)
	}
	// A crash now must lose nothing: the WAL was kept.
	f.crash()
	bkt.down.Store(false)
	f2 := start(t, testConfig(), bkt, walDir, limits.Default())
	if err := f2.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "t")[`{app="api"}`]; len(got) != 2 {
		t.Fatalf("after recovery: %v", got)
	}
}

func TestRetryUploadsWhenBucketReturns(t *testing.T) {
	bkt := &flaky{Bucket: bucket.NewMem()}
	bkt.down.Store(true)
	f := start(t, testConfig(), bkt, t.TempDir(), limits.Default())
	if err := f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{{Labels: `{app="api"}`, Entries: entries(t0, "a")}}}); err != nil {
		t.Fatal(err)
	}
	f.ing.sealDue(true)
	for bkt.fails.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	bkt.down.Store(false)
	if err := f.ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "t")[`{app="api"}`]; len(got) != 1 {
		t.Fatalf("got %v", got)
	}
}

func TestLimits(t *testing.T) {
	lim := limits.Default()
	lim.MaxGlobalStreamsPerUser = 2
	lim.PerStreamRateLimit = 100
	lim.PerStreamRateLimitBurst = 100
	cfg := testConfig()
	cfg.ReplicationFactor = 1
	f := start(t, cfg, bucket.NewMem(), t.TempDir(), lim)
	push1 := func(ls, line string) error {
		return f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{{Labels: ls, Entries: entries(t0, line)}}})
	}
	if err := push1(`{a="1"}`, "x"); err != nil {
		t.Fatal(err)
	}
	if err := push1(`{a="2"}`, "x"); err != nil {
		t.Fatal(err)
	}
	err := push1(`{a="3"}`, "x")
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 429 || !strings.Contains(se.Msg, "Maximum active stream limit exceeded") {
		t.Fatalf("stream limit: %v", err)
	}
	err = push1(`{a="1"}`, strings.Repeat("y", 150))
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 429 || !strings.Contains(se.Msg, "Per stream rate limit exceeded") {
		t.Fatalf("per-stream rate: %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	cfg := testConfig()
	cfg.FlushSize = 1 << 10
	cfg.MaxHeadBytes = 1 << 10
	bkt := &flaky{Bucket: bucket.NewMem()}
	bkt.down.Store(true)
	f := start(t, cfg, bkt, t.TempDir(), limits.Default())
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: entries(t0.Add(time.Duration(i)*time.Second), strings.Repeat("z", 100))}}})
	}
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 503 {
		t.Fatalf("err = %v", err)
	}
}

func TestQueryLimitAndFilter(t *testing.T) {
	f := start(t, testConfig(), bucket.NewMem(), t.TempDir(), limits.Default())
	_ = f.ing.Push(t.Context(), "t", &push.Request{Streams: []push.Stream{
		{Labels: `{app="a"}`, Entries: entries(t0, "err 1", "ok 2", "err 3")},
		{Labels: `{app="b"}`, Entries: entries(t0.Add(500*time.Millisecond), "err 4", "err 5")},
	}})
	m := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, "app", "a|b")}
	count := func(q Query) []string {
		res, err := f.ing.Query(t.Context(), "t", q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range res.Streams {
			for _, e := range s.Entries {
				out = append(out, e.Line)
			}
		}
		slices.Sort(out)
		return out
	}
	all := Query{Matchers: m, Through: 1<<63 - 1}
	if got := count(all); len(got) != 5 {
		t.Fatal(got)
	}
	q := all
	q.Contains = []string{"err"}
	if got := count(q); !slices.Equal(got, []string{"err 1", "err 3", "err 4", "err 5"}) {
		t.Fatal(got)
	}
	q.Limit, q.Backward = 2, true
	if got := count(q); !slices.Equal(got, []string{"err 3", "err 5"}) {
		t.Fatalf("backward limit 2: %v", got)
	}
	q.Backward = false
	if got := count(q); !slices.Equal(got, []string{"err 1", "err 4"}) {
		t.Fatalf("forward limit 2: %v", got)
	}
	q = all
	q.From, q.Through = t0.Add(time.Second).UnixNano(), t0.Add(2*time.Second).UnixNano()
	if got := count(q); !slices.Equal(got, []string{"err 5", "ok 2"}) {
		t.Fatalf("time range: %v", got)
	}
	if _, err := f.ing.Query(t.Context(), "other", all); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord("t", &push.Request{Streams: []push.Stream{{Labels: `{a="b"}`, Entries: entries(t0, "x")}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		tid, req, err := decodeRecord(rec)
		if err != nil {
			return
		}
		tid2, req2, err := decodeRecord(encodeRecord(tid, req))
		if err != nil || tid2 != tid || len(req2.Streams) != len(req.Streams) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// TestStopUploadsManyHeadsAfterRunEnds: Stop runs after the context given
// to Start has ended (SIGTERM), so the upload loops are gone. Stop used to
// queue sealed heads on a channel of 1024 and block forever with more.
func TestStopUploadsManyHeadsAfterRunEnds(t *testing.T) {
	bkt := bucket.NewMem()
	f := start(t, testConfig(), bkt, t.TempDir(), limits.Default())
	const tenants = 1100
	for i := range tenants {
		tid := tenant.ID(fmt.Sprintf("t%04d", i))
		if err := f.ing.Push(t.Context(), tid, &push.Request{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: entries(t0, "x")}}}); err != nil {
			t.Fatal(err)
		}
	}
	f.cancel() // the run context ends first, as on SIGTERM
	done := make(chan error, 1)
	go func() { done <- f.ing.Stop(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Stop did not return")
	}
	for _, i := range []int{0, tenants / 2, tenants - 1} {
		if got := readBack(t, bkt, tenant.ID(fmt.Sprintf("t%04d", i))); len(got[`{app="a"}`]) != 1 {
			t.Errorf("tenant %d: read back %v", i, got)
		}
	}
}

// TestMemoryLimitClears: heads far below their flush size and age fill the
// memory limit (each head's arena costs at least a block). Pushes are then
// refused, so no head grows to its size; the flush check must free the
// memory instead of waiting for FlushAge.
func TestMemoryLimitClears(t *testing.T) {
	cfg := testConfig()
	cfg.FlushSize = 1 << 20
	cfg.MaxHeadBytes = 1 << 20
	cfg.FlushAge = 24 * time.Hour
	bkt := bucket.NewMem()
	f := start(t, cfg, bkt, t.TempDir(), limits.Default())
	p := func(i int) error {
		return f.ing.Push(t.Context(), tenant.ID(fmt.Sprintf("t%d", i)), &push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: entries(t0, "small")}}})
	}
	var err error
	i := 0
	for ; i < 100 && err == nil; i++ {
		err = p(i)
	}
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 503 {
		t.Fatalf("err = %v", err)
	}
	f.ing.sealDue(false) // what the flush loop does when kicked
	for {
		f.ing.mu.Lock()
		n := len(f.ing.flushing) + len(f.ing.queue)
		f.ing.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := p(i); err != nil {
		t.Fatalf("push after the check freed memory: %v", err)
	}
}

// TestHTTPPushMarksStoredRest: the distributor counts a 4xx as a replica's
// success only when the ingester says it stored the rest.
func TestHTTPPushMarksStoredRest(t *testing.T) {
	cfg := testConfig()
	cfg.OutOfOrderWindow = time.Minute
	f := start(t, cfg, bucket.NewMem(), t.TempDir(), limits.Default())
	h := f.ing.Handler(1 << 10)
	do := func(body []byte) *http.Response {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, PushPath, bytes.NewReader(body))
		r.Header.Set(orgIDHeader, "t")
		r.Header.Set("Content-Type", push.ContentTypeProto)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	ok := push.EncodeProto(&push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: entries(t0.Add(time.Hour), "new")}}})
	if resp := do(ok); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	partial := push.EncodeProto(&push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: entries(t0, "too old")}, {Labels: `{a="2"}`, Entries: entries(t0, "fine")}}})
	if resp := do(partial); resp.StatusCode != http.StatusBadRequest || resp.Header.Get(storedRestHeader) == "" {
		t.Fatalf("partial rejection: status %d, %s %q", resp.StatusCode, storedRestHeader, resp.Header.Get(storedRestHeader))
	}
	for name, body := range map[string][]byte{"garbage": []byte("garbage"), "too large": push.EncodeProto(&push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: entries(t0.Add(time.Hour), strings.Repeat("x", 4<<10))}}})} {
		if resp := do(body); resp.StatusCode/100 != 4 || resp.Header.Get(storedRestHeader) != "" {
			t.Errorf("%s: status %d, %s %q", name, resp.StatusCode, storedRestHeader, resp.Header.Get(storedRestHeader))
		}
	}
}

// fullDisk fails appends while full is set, as a WAL on a full disk does.
type fullDisk struct {
	WAL
	full atomic.Bool
}

func (d *fullDisk) Append(ctx context.Context, rec []byte) error {
	if d.full.Load() {
		return fmt.Errorf("append to wal segment: %w", syscall.ENOSPC)
	}
	return d.WAL.Append(ctx, rec)
}

// TestWALDiskFull: a push the WAL cannot store fails with a 5xx and is not
// visible; once space is back the same push is stored.
func TestWALDiskFull(t *testing.T) {
	wcfg := wal.DefaultConfig()
	wcfg.Dir = t.TempDir()
	w, err := wal.Open(wcfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	disk := &fullDisk{WAL: w}
	ov, _ := limits.NewOverrides(limits.Default())
	bkt := bucket.NewMem()
	ing, err := New(testConfig(), bkt, disk, ov, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ing.now = func() time.Time { return t0.Add(time.Minute) }
	if err := ing.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := ing.Handler(1 << 20)
	body := push.EncodeProto(&push.Request{Streams: []push.Stream{{Labels: `{a="1"}`, Entries: entries(t0, "one", "two")}}})
	do := func() int {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, PushPath, bytes.NewReader(body))
		r.Header.Set(orgIDHeader, "t")
		r.Header.Set("Content-Type", push.ContentTypeProto)
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, r)
		return rw.Code
	}
	disk.full.Store(true)
	if code := do(); code/100 != 5 {
		t.Fatalf("push on a full disk: status %d, want 5xx", code)
	}
	q := Query{Matchers: []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "a", "1")}, Through: 1<<63 - 1}
	if res, _ := ing.Query(t.Context(), "t", q); len(res.Streams) != 0 {
		t.Fatalf("a failed push is visible: %+v", res)
	}
	disk.full.Store(false)
	if code := do(); code != http.StatusNoContent {
		t.Fatalf("push once space is back: status %d", code)
	}
	if err := ing.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, bkt, "t")[`{a="1"}`]; len(got) != 2 {
		t.Fatalf("read back %v", got)
	}
}
