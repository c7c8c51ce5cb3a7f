package distributor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/format/push"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/ingestgw/limits"
	"github.com/kubemate/kmlog/ingestgw/ring"
)

// store is an in-memory ingester: it keeps what it is sent, or fails,
// blocks, or rejects as told.
type store struct {
	mu      sync.Mutex
	got     map[string][]push.Entry // by stream labels
	fail    error
	block   chan struct{}
	rejectW StatusError
}

func (s *store) Push(ctx context.Context, t tenant.ID, req *push.Request) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.got == nil {
		s.got = map[string][]push.Entry{}
	}
	for _, st := range req.Streams {
		s.got[string(t)+st.Labels] = append(s.got[string(t)+st.Labels], st.Entries...)
	}
	if s.rejectW != nil {
		return s.rejectW
	}
	return nil
}

func (s *store) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *store) reject(err StatusError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectW = err
}

func (s *store) entries(key string) []push.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]push.Entry(nil), s.got[key]...)
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, es := range s.got {
		n += len(es)
	}
	return n
}

type clients map[string]*store

func (c clients) Ingester(m string) (Ingester, error) {
	s, ok := c[m]
	if !ok {
		return nil, fmt.Errorf("unknown ingester %s", m)
	}
	return s, nil
}

func setup(t testing.TB, n int, lim limits.Limits) (*Distributor, clients) {
	t.Helper()
	cs := clients{}
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("ingester-%d", i)
		cs[name] = &store{}
		names = append(names, name)
	}
	ov, err := limits.NewOverrides(lim)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.PushTimeout = 30 * time.Second
	d, err := New(cfg, ov, ring.New(names), cs, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	return d, cs
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano()

func req(streams ...push.Stream) *push.Request { return &push.Request{Streams: streams} }

func stream(ls string, lines ...string) push.Stream {
	s := push.Stream{Labels: ls}
	for i, l := range lines {
		s.Entries = append(s.Entries, push.Entry{Timestamp: now - int64(len(lines)-i)*int64(time.Second), Line: l})
	}
	return s
}

func TestReplicatesToThree(t *testing.T) {
	d, cs := setup(t, 5, limits.Default())
	var streams []push.Stream
	for i := 0; i < 50; i++ {
		streams = append(streams, stream(fmt.Sprintf(`{app="a%d"}`, i), "one", "two"))
	}
	if err := d.Push(t.Context(), "t1", req(streams...)); err != nil {
		t.Fatal(err)
	}
	// Every stream reaches quorum; the third replica may still be in
	// flight, so wait for all sends to land before counting.
	deadline := time.Now().Add(10 * time.Second)
	total := 0
	for time.Now().Before(deadline) {
		total = 0
		for _, s := range cs {
			total += s.count()
		}
		if total == 50*2*3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if total != 50*2*3 {
		t.Fatalf("stored %d entries over all ingesters, want %d", total, 50*2*3)
	}
}

func TestQuorum(t *testing.T) {
	d, cs := setup(t, 3, limits.Default())
	cs["ingester-0"].setFail(errors.New("connection refused"))
	if err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, "x"))); err != nil {
		t.Fatalf("one dead ingester of three: %v", err)
	}
	cs["ingester-1"].setFail(errors.New("connection refused"))
	err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, "y")))
	if _, ok := errors.AsType[*QuorumError](err); !ok || StatusOf(err) != 503 {
		t.Fatalf("two dead ingesters of three: %v", err)
	}
}

func TestSlowIngesterDoesNotStall(t *testing.T) {
	d, cs := setup(t, 3, limits.Default())
	release := make(chan struct{})
	defer close(release)
	cs["ingester-2"].block = release
	// The push returns although ingester-2 never answers; if it waited for
	// it, this test would hang until the test timeout.
	if err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, "x"))); err != nil {
		t.Fatal(err)
	}
}

func TestValidation(t *testing.T) {
	lim := limits.Default()
	lim.MaxLineSize = 10
	lim.MaxLabelNamesPerSeries = 2
	d, cs := setup(t, 3, lim)
	old := push.Entry{Timestamp: now - int64(8*24*time.Hour), Line: "old"}
	future := push.Entry{Timestamp: now + int64(time.Hour), Line: "future"}
	err := d.Push(t.Context(), "t1", req(
		stream(`{app="ok"}`, "fine", "this line is far too long"),
		push.Stream{Labels: `{app="ok2"}`, Entries: []push.Entry{old, future, {Timestamp: now, Line: "kept"}}},
		stream(`{}`, "x"),
		stream(`{a="1", b="2", c="3"}`, "x"),
		stream(`{app=unquoted}`, "x"),
	))
	verr, ok := errors.AsType[*ValidationError](err)
	if !ok || StatusOf(err) != 400 {
		t.Fatalf("err = %v", err)
	}
	msg := verr.Error()
	for _, want := range []string{
		"max entry size '10' bytes exceeded for stream '{app=\"ok\"}' while adding an entry with length '25' bytes",
		"has timestamp too old",
		"has timestamp too new",
		"error at least one label pair is required per stream",
		"has 3 label names; limit 2",
		"Error parsing labels '{app=unquoted}'",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if verr.Rejected != 6 {
		t.Errorf("rejected %d, want 6", verr.Rejected)
	}
	// The valid entries were kept on at least a quorum.
	kept := 0
	for _, s := range cs {
		kept += len(s.entries("t1"+`{app="ok"}`)) + len(s.entries("t1"+`{app="ok2"}`))
	}
	if kept < 2*2 {
		t.Fatalf("valid entries on %d replicas, want both on at least 2", kept)
	}
}

func TestTruncate(t *testing.T) {
	lim := limits.Default()
	lim.MaxLineSize = 4
	lim.MaxLineSizeTruncate = true
	d, cs := setup(t, 1, lim)
	if err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, "abcdefgh"))); err != nil {
		t.Fatal(err)
	}
	if got := cs["ingester-0"].entries("t1" + `{app="a"}`)[0].Line; got != "abcd" {
		t.Fatalf("line %q", got)
	}
}

func TestRateLimit(t *testing.T) {
	lim := limits.Default()
	lim.IngestionRateMB = 1.0 / (1 << 20) * 100 // 100 bytes/s
	lim.IngestionBurstSizeMB = 1.0 / (1 << 20) * 100
	d, _ := setup(t, 3, lim)
	big := strings.Repeat("x", 60)
	if err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, big))); err != nil {
		t.Fatal(err)
	}
	err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, big)))
	if StatusOf(err) != 429 || !strings.Contains(err.Error(), "Ingestion rate limit exceeded for user t1 (limit: 100 bytes/sec)") {
		t.Fatalf("err = %v", err)
	}
	// Another tenant has its own bucket.
	if err := d.Push(t.Context(), "t2", req(stream(`{app="a"}`, big))); err != nil {
		t.Fatal(err)
	}
}

func TestIngesterRejectionIsReported(t *testing.T) {
	d, cs := setup(t, 3, limits.Default())
	for _, s := range cs {
		s.reject(&httpStatusError{code: 400, msg: "entry too far behind"})
	}
	err := d.Push(t.Context(), "t1", req(stream(`{app="a"}`, "x")))
	if StatusOf(err) != 400 || !strings.Contains(err.Error(), "entry too far behind") {
		t.Fatalf("err = %v", err)
	}
	for _, s := range cs {
		s.reject(&httpStatusError{code: 429, msg: "Maximum active stream limit exceeded"})
	}
	err = d.Push(t.Context(), "t1", req(stream(`{app="b"}`, "x")))
	if StatusOf(err) != 429 {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPStatuses(t *testing.T) {
	d, _ := setup(t, 3, limits.Default())
	d.cfg.MaxRecvMsgSize = 1 << 10
	srv := httptest.NewServer(d)
	defer srv.Close()
	post := func(ctype, enc, org string, body []byte) (int, string) {
		hr, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		hr.Header.Set("Content-Type", ctype)
		if enc != "" {
			hr.Header.Set("Content-Encoding", enc)
		}
		if org != "" {
			hr.Header.Set(OrgIDHeader, org)
		}
		resp, err := srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	good := push.EncodeProto(req(stream(`{app="a"}`, "hello")))
	js := fmt.Sprintf(`{"streams":[{"stream":{"app":"a"},"values":[["%d","hello"]]}]}`, now)
	cases := []struct {
		name, ctype, enc, org string
		body                  []byte
		want                  int
	}{
		{"protobuf", push.ContentTypeProto, "", "t1", good, 204},
		{"json", push.ContentTypeJSON, "", "t1", []byte(js), 204},
		{"no tenant", push.ContentTypeProto, "", "", good, 400},
		{"bad tenant", push.ContentTypeProto, "", "../x", good, 400},
		{"garbage", push.ContentTypeProto, "", "t1", []byte("garbage"), 400},
		{"no streams", push.ContentTypeJSON, "", "t1", []byte(`{"streams":[]}`), 422},
		{"too large", push.ContentTypeJSON, "", "t1", bytes.Repeat([]byte(" "), 4<<10), 413},
		{"unknown encoding", push.ContentTypeJSON, "br", "t1", []byte(js), 415},
	}
	for _, c := range cases {
		if code, body := post(c.ctype, c.enc, c.org, c.body); code != c.want {
			t.Errorf("%s: status %d (%s), want %d", c.name, code, body, c.want)
		}
	}
}

// TestHTTPIngester checks the HTTP client against a server that decodes
// with the same codec and answers as an ingester would.
func TestHTTPIngester(t *testing.T) {
	var got *push.Request
	var org string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != IngesterPushPath {
			http.NotFound(w, r)
			return
		}
		org = r.Header.Get(OrgIDHeader)
		var err error
		got, err = push.DecodeRequest(r.Body, r.Header.Get("Content-Type"), "", 1<<20)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if got.Streams[0].Entries[0].Line == "reject" {
			w.Header().Set(StoredRestHeader, "1")
			http.Error(w, "too old", 400)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c := &HTTPClients{Client: srv.Client()}
	ing, _ := c.Ingester(strings.TrimPrefix(srv.URL, "http://"))
	if err := ing.Push(t.Context(), "t1", req(stream(`{app="a"}`, "hello"))); err != nil {
		t.Fatal(err)
	}
	if org != "t1" || got.Streams[0].Entries[0].Line != "hello" {
		t.Fatalf("server got %q %+v", org, got)
	}
	err := ing.Push(t.Context(), "t1", req(stream(`{app="a"}`, "reject")))
	if se, ok := errors.AsType[StatusError](err); !ok || se.StatusCode() != 400 || se.Error() != "too old" {
		t.Fatalf("err = %v", err)
	}
}

// TestRingShrinksDuringPush: the ring loses members while pushes run. The
// quorum used to be counted from Members() and the replicas from a later
// Get(); when the ring shrank in between, a stream waited for more acks
// than it had replicas and the push hung until its context ended.
func TestRingShrinksDuringPush(t *testing.T) {
	d, _ := setup(t, 3, limits.Default())
	stop := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				d.ring.Set([]string{"ingester-0"})
			} else {
				d.ring.Set([]string{"ingester-0", "ingester-1", "ingester-2"})
			}
		}
	}()
	defer func() { close(stop); <-flipped }()
	for i := range 2000 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := d.Push(ctx, "t1", req(stream(fmt.Sprintf(`{app="a%d"}`, i), "x")))
		cancel()
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
}

// TestHTTPIngesterRejectsWhole: a 4xx that stored nothing (here the
// ingester's body limit, lower than the distributor's) is a failed
// replica. It used to count towards the quorum like a partial rejection,
// so the client got 400, dropped the batch, and no ingester had it.
func TestHTTPIngesterRejectsWhole(t *testing.T) {
	var names []string
	for range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		}))
		defer srv.Close()
		names = append(names, strings.TrimPrefix(srv.URL, "http://"))
	}
	ov, err := limits.NewOverrides(limits.Default())
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(DefaultConfig(), ov, ring.New(names), &HTTPClients{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	d.now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	err = d.Push(t.Context(), "t1", req(stream(`{app="a"}`, "x")))
	if _, ok := errors.AsType[*QuorumError](err); !ok || StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("every replica stored nothing: err = %v (status %d), want a quorum failure", err, StatusOf(err))
	}
}
