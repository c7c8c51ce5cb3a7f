package compat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The tail case: `logcli query --tail` on one stream of tenant tailOrg
// while lines are pushed with the current time. tailLines are what is
// pushed once the tail is connected (a "probe-N" line is pushed until one
// shows, to know it is); logcli_tail.json holds what logcli printed
// against Loki (--output=raw: the lines alone, so nothing depends on the
// clock; probe lines left out).
const tailOrg = "tail"

var tailLines = []string{"first tailed line", `{"level":"error","msg":"second"}`, "third: ünïcode", "fourth", "fifth and last"}

func pushNow(t testing.TB, base string, lines ...string) {
	t.Helper()
	now := time.Now().UnixNano()
	var vals [][]string
	for i, l := range lines {
		vals = append(vals, []string{strconv.FormatInt(now+int64(i), 10), l})
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": map[string]string{"app": "tail"}, "values": vals}}})
	req, _ := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Scope-OrgID", tailOrg)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
}

// tailWith pushes probe lines until one arrives on lines (the tail is
// connected), then tailLines, and returns the lines received that are not
// probes, once there are as many as pushed or after a minute.
func tailWith(t testing.TB, base string, lines <-chan string) []string {
	t.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		pushNow(t, base, fmt.Sprintf("probe-%d", n))
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "probe-") {
				goto ready
			}
		case <-tick.C:
		case <-deadline:
			t.Fatal("tail never showed a probe line")
		}
	}
ready:
	pushNow(t, base, tailLines...)
	var got []string
	for len(got) < len(tailLines) {
		select {
		case l := <-lines:
			if !strings.HasPrefix(l, "probe-") {
				got = append(got, l)
			}
		case <-deadline:
			return got
		}
	}
	return got
}

// logcliTail runs logcli --tail against base, sending printed lines on
// the returned channel until the test ends.
func logcliTail(t testing.TB, bin, base string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "query", "--tail", "--quiet", "--output=raw", "--addr="+base, "--org-id="+tailOrg, `{app="tail"}`)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1000)
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
	})
	t.Cleanup(func() { cancel(); cmd.Wait(); wg.Wait() })
	return ch
}

// wsTail tails base over WebSocket as logcli does (the request it makes),
// sending received lines on the channel.
func wsTail(t testing.TB, base string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	v := url.Values{"query": {`{app="tail"}`}, "limit": {"30"}, "start": {strconv.FormatInt(time.Now().UnixNano(), 10)}}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/loki/api/v1/tail?"+v.Encode(),
		&websocket.DialOptions{HTTPHeader: http.Header{"X-Scope-OrgID": {tailOrg}}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ch := make(chan string, 1000)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var frame struct {
				Streams []struct {
					Values [][]string `json:"values"`
				} `json:"streams"`
			}
			if json.Unmarshal(b, &frame) != nil {
				continue
			}
			for _, s := range frame.Streams {
				for _, v := range s.Values {
					if len(v) > 1 {
						ch <- v[1]
					}
				}
			}
		}
	})
	t.Cleanup(func() { cancel(); conn.CloseNow(); wg.Wait() })
	return ch
}

// TestLogcliTailCompat tails kmlog as `logcli query --tail` does (with
// logcli itself when $KMLOG_LOGCLI is set, else over WebSocket as logcli
// would) and compares the lines with what logcli printed against Loki.
func TestLogcliTailCompat(t *testing.T) {
	b, err := os.ReadFile("testdata/logcli_tail.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	k := startKmlog(t)
	var lines <-chan string
	if bin := os.Getenv("KMLOG_LOGCLI"); bin != "" {
		lines = logcliTail(t, bin, k.URL)
	} else {
		lines = wsTail(t, k.URL)
	}
	got := tailWith(t, k.URL, lines)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tail of kmlog:\n%q\nlogcli against Loki printed:\n%q", got, want)
	}
}
