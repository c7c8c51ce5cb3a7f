package frontend_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/functions/frontend"
)

// TestTail connects a real WebSocket client, gets the newest lines since
// start, then a line written to the bucket after it connected.
func TestTail(t *testing.T) {
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	e := newEnv(t, 0, func(c *frontend.Config) {
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	v := url.Values{"query": {`{app="api", level="info"}`}, "limit": {"2"}, "start": {ts(now.Add(-time.Hour))}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/loki/api/v1/tail?"+v.Encode(),
		&websocket.DialOptions{HTTPHeader: http.Header{frontend.HeaderOrgID: {string(tid)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()

	_, first, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"streams":[{"stream":{"app":"api","env":"prod","level":"info"},"values":[` +
		`["1795866000000000000","level=info msg=\"request done\" status=400 duration=15ms path=/v1/users"],` +
		`["1795866600000000000","level=info msg=\"request done\" status=500 duration=16ms path=/v1/pay"]]}],"dropped_entries":null}`
	if string(first) != want {
		t.Errorf("first frame:\n%s\nwant\n%s", first, want)
	}

	// A new line arrives (flushed to the bucket) and time moves on.
	ls := labels.FromStrings("app", "api", "env", "prod", "level", "info")
	writeDays(t, e.bkt, []ent{
		{ls: ls, ts: now.Add(time.Second).UnixNano(), line: "fresh line"},
		{ls: labels.FromStrings("app", "web", "env", "dev", "level", "info"), ts: now.Add(time.Second).UnixNano(), line: "other app"},
	})
	clock.Store(now.Add(5 * time.Second).UnixNano())
	_, next, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"streams":[{"stream":{"app":"api","env":"prod","level":"info"},"values":[["1795867201000000000","fresh line"]]}],"dropped_entries":null}`
	if string(next) != want {
		t.Errorf("second frame:\n%s\nwant\n%s", next, want)
	}

	// A line that reaches storage late, behind a newer one already sent,
	// is still tailed, once, and nothing is sent twice.
	writeDays(t, e.bkt, []ent{{ls: ls, ts: now.Add(3 * time.Second).UnixNano(), line: "newer line"}})
	clock.Store(now.Add(6 * time.Second).UnixNano())
	if _, next, err = conn.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(next), "newer line") || strings.Contains(string(next), "fresh line") {
		t.Errorf("third frame: %s", next)
	}
	writeDays(t, e.bkt, []ent{{ls: ls, ts: now.Add(2 * time.Second).UnixNano(), line: "late line"}})
	clock.Store(now.Add(8 * time.Second).UnixNano())
	if _, next, err = conn.Read(ctx); err != nil {
		t.Fatal(err)
	}
	want = `{"streams":[{"stream":{"app":"api","env":"prod","level":"info"},"values":[["1795867202000000000","late line"]]}],"dropped_entries":null}`
	if string(next) != want {
		t.Errorf("late frame:\n%s\nwant\n%s", next, want)
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// TestTailBadQuery answers a plain 400 before the upgrade.
func TestTailBadQuery(t *testing.T) {
	e := newEnv(t, 0, nil)
	code, body := get(t, e.h, "/loki/api/v1/tail", "query", `sum(rate({app="api"}[1m]))`)
	if code != http.StatusBadRequest || string(body) != "tail needs a log query\n" {
		t.Errorf("got %d %q", code, body)
	}
}
