//go:build lokicapture

package compat

// Capture answers from a running Grafana Loki (and logcli, Promtail):
//
//	go test -tags lokicapture -run TestCapture ./tests/compat/ \
//	    -loki http://127.0.0.1:3199 -logcli /path/to/logcli -promtail /path/to/promtail
//
// testdata/README.md gives the Loki config and command line used. These
// tests talk to programs that are already running or built; they never
// build Loki.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	lokiURL    = flag.String("loki", "", "URL of a running Loki to capture answers from")
	regenerate = flag.Bool("regenerate", false, "write testdata/dataset.json anew before capturing")
)

// TestCaptureLoki pushes the dataset into Loki (tenant "compat") and
// records its answer to every case in cases.txt into loki.json.
func TestCaptureLoki(t *testing.T) {
	if *regenerate {
		b, err := json.MarshalIndent(genDataset(), "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/dataset.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if *lokiURL == "" {
		t.Skip("no -loki")
	}
	body, err := os.ReadFile("testdata/dataset.json")
	if err != nil {
		t.Fatal(err)
	}
	pushJSON(t, *lokiURL, orgHeader, body)
	pushJSON(t, *lokiURL, otherOrg, otherBody(t, body))
	// This Loki answers for old entries only once they are flushed to its
	// store (its ingesters are asked about recent days only).
	resp, err := http.Post(*lokiURL+"/flush", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitStable(t, *lokiURL)
	cases, err := readCases("testdata/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: time.Minute}
	var as []answer
	for _, c := range cases {
		a, err := c.do(client, *lokiURL)
		if err != nil {
			t.Fatalf("%s: %v", c.Text, err)
		}
		as = append(as, a)
	}
	if err := writeAnswers("testdata/loki.json", as); err != nil {
		t.Fatal(err)
	}
	t.Logf("captured %d answers", len(as))
}

// waitStable polls the number of entries Loki counts in the dataset until
// it is not zero and the same three times in a row, a second apart.
func waitStable(t testing.TB, base string) {
	q := qcase{Text: "wait", Path: "/loki/api/v1/query?query=" + url.QueryEscape(`sum(count_over_time({app=~".+"}[3h]))`) + "&time=" + ns(t0.Add(3*time.Hour))}
	var last string
	same := 0
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		a, err := q.do(http.DefaultClient, base)
		if err != nil {
			t.Fatal(err)
		}
		s := string(a.JSON)
		if s == last && strings.Contains(s, `"value"`) {
			if same++; same == 2 {
				t.Logf("Loki counts: %s", s)
				return
			}
		} else {
			same = 0
		}
		last = s
	}
	t.Fatalf("Loki's count of the dataset did not settle: %s", last)
}

func pushJSON(t testing.TB, base, org string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Scope-OrgID", org)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg bytes.Buffer
	msg.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s: %s", resp.Status, msg.String())
	}
}

// The dataset: a Loki JSON push body.
type pushBody struct {
	Streams []pushStream `json:"streams"`
}

type pushStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

// genDataset makes the dataset: five streams of different line shapes
// over two hours (crossing a UTC midnight), with structured metadata on
// some entries, some of whose keys are also fields of the line.
func genDataset() pushBody {
	r := rand.New(rand.NewPCG(2026, 12))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var body pushBody
	add := func(stream map[string]string, every time.Duration, jitter time.Duration, line func(i int) (string, map[string]string)) {
		s := pushStream{Stream: stream}
		for i, ts := 0, t0; ts.Before(t0.Add(span)); i, ts = i+1, ts.Add(every) {
			at := ts.Add(time.Duration(r.Int64N(int64(jitter) + 1)))
			l, md := line(i)
			v := []any{strconv.FormatInt(at.UnixNano(), 10), l}
			if len(md) > 0 {
				v = append(v, md)
			}
			s.Values = append(s.Values, v)
		}
		body.Streams = append(body.Streams, s)
	}
	users := []string{"alice", "bob", "carol", "dave", "émile", "陈"}
	paths := []string{"/v1/orders", "/v1/orders/42", "/v1/users", "/healthz", "/v1/pay"}
	// JSON lines; some without latency or status, some malformed; trace_id
	// and sometimes level in structured metadata.
	for _, pod := range []string{"api-1", "api-2"} {
		add(map[string]string{"app": "api", "namespace": "prod", "pod": pod, "env": "prod"}, 45*time.Second, 20*time.Second, func(i int) (string, map[string]string) {
			lvl := pick("info", "info", "info", "warn", "error", "debug")
			m := map[string]any{"level": lvl, "msg": pick("request served", "order placed", "payment failed", "cache miss"), "path": pick(paths...),
				"user": map[string]any{"name": pick(users...), "id": r.IntN(1000)}}
			if r.IntN(5) != 0 {
				m["status"] = pick("200", "200", "201", "404", "500", "503")
			}
			if r.IntN(4) != 0 {
				m["latency"] = fmt.Sprintf("%dms", r.IntN(2000))
			}
			if r.IntN(3) == 0 {
				m["size"] = pick("512B", "2KB", "1.5MB", "300kB", "12MiB")
			}
			if r.IntN(6) == 0 {
				m["tags"] = []string{pick("a", "b"), pick("c", "d")}
			}
			b, _ := json.Marshal(m)
			line := string(b)
			if r.IntN(25) == 0 {
				line = line[:len(line)/2] // malformed
			}
			md := map[string]string{"trace_id": fmt.Sprintf("%016x", r.Uint64())}
			if r.IntN(3) == 0 {
				md["level"] = pick("info", "error")
			}
			if r.IntN(4) == 0 {
				md["msg"] = "from metadata"
			}
			return line, md
		})
	}
	// logfmt lines, with a key without '=', quoted values and durations.
	add(map[string]string{"app": "worker", "namespace": "prod", "pod": "worker-0"}, time.Minute, 30*time.Second, func(i int) (string, map[string]string) {
		l := fmt.Sprintf(`level=%s msg=%q job=%s duration=%s bytes=%s count=%d`, pick("info", "info", "warn", "error"),
			pick("job done", "job failed: timeout", "retrying \"sync\""), pick("sync", "index", "compact"),
			pick("1.5s", "250ms", "2m3s", "17us", "bad"), pick("12MB", "3KiB", "900B", "1GB"), r.IntN(50))
		if r.IntN(4) == 0 {
			l += " dry_run"
		}
		if r.IntN(5) == 0 {
			l += " level=override"
		}
		var md map[string]string
		if r.IntN(3) == 0 {
			md = map[string]string{"job": "from-metadata"}
		}
		return l, md
	})
	// Access-log lines for pattern, regexp and ip().
	add(map[string]string{"app": "web", "namespace": "dev", "pod": "web-0"}, 40*time.Second, 10*time.Second, func(i int) (string, map[string]string) {
		ip := pick("10.0.0.1", "10.0.3.7", "192.168.1.20", "172.16.5.4", "2001:db8::1", "8.8.8.8")
		return fmt.Sprintf(`%s - - [30/Nov/2026:23:00:00 +0000] "%s %s HTTP/1.1" %s %d "-" "%s"`, ip, pick("GET", "POST", "DELETE"),
			pick(paths...), pick("200", "301", "404", "500"), r.IntN(5000), pick("curl/8.5", "Mozilla/5.0 (X11)", "kube-probe/1.31")), nil
	})
	// Coloured lines for decolorize.
	add(map[string]string{"app": "colors", "namespace": "dev", "pod": "colors-0"}, 2*time.Minute, 30*time.Second, func(i int) (string, map[string]string) {
		return fmt.Sprintf("\x1b[%sm%s\x1b[0m user=%s took %dms", pick("31", "32", "1;33"), pick("ERROR", "INFO", "WARN"), pick(users...), r.IntN(900)), nil
	})
	// Plain text with a level stream label, unicode, empty and long lines.
	add(map[string]string{"app": "legacy", "namespace": "prod", "pod": "legacy-0", "level": "error"}, 3*time.Minute, time.Minute, func(i int) (string, map[string]string) {
		switch i % 7 {
		case 0:
			return "", nil
		case 1:
			return strings.Repeat("long line ", 60), nil
		case 2:
			return "naïve café | pipes | and \"quotes\" \\ backslash", nil
		}
		return fmt.Sprintf("transaction %d failed: code=%d", 1000+i, pick3(r)), nil
	})
	return body
}

func pick3(r *rand.Rand) int { return []int{1, 2, 3}[r.IntN(3)] }

var promtailBin = flag.String("promtail", "", "path of a Promtail binary to capture dry-run answers from")

// TestCapturePromtail runs every case of promtail_cases.yaml through
// `promtail --dry-run --stdin` and writes promtail.json.
func TestCapturePromtail(t *testing.T) {
	if *promtailBin == "" {
		t.Skip("no -promtail")
	}
	var as []ptAnswer
	for _, c := range readPromtailCases(t) {
		dir := t.TempDir()
		// Promtail can exit before printing its last entries once stdin
		// ends (its printer races with shutdown): run each case five times
		// and keep the most complete output.
		var a ptAnswer
		for range 5 {
			r := runDryRun(t, c, 0, *promtailBin, "-config.file", c.config(t, dir), "--dry-run", "--stdin", "-log.level", "error")
			if n, m := len(strings.Join(r.Lines, "\n")), len(strings.Join(a.Lines, "\n")); a.Name == "" || n > m {
				a = r
			}
		}
		as = append(as, a)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(as); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/promtail.json", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var logcliBin = flag.String("logcli", "", "path of a logcli binary to capture answers with (needs -loki)")

// TestCaptureLogcli runs every command of logcli_cases.txt against Loki
// through a recording proxy and writes logcli.json. The dataset must be
// loaded already (TestCaptureLoki).
func TestCaptureLogcli(t *testing.T) {
	if *logcliBin == "" || *lokiURL == "" {
		t.Skip("no -logcli or -loki")
	}
	rec := newRecorder(t, *lokiURL)
	var out []lcCase
	for _, c := range readLogcliCases(t) {
		stdout := runLogcli(t, *logcliBin, logcliArgs(t, c, rec.srv.URL))
		out = append(out, lcCase{Command: c, Stdout: stdout, Requests: rec.take()})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/logcli.json", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCaptureOTLP sends testdata/otlp/*.json to Loki's /otlp/v1/logs as
// OTLP/JSON and as protobuf and writes what Loki answers to otlpQueries
// into otlp.json.
func TestCaptureOTLP(t *testing.T) {
	if *lokiURL == "" {
		t.Skip("no -loki")
	}
	pushOTLP(t, *lokiURL)
	resp, err := http.Post(*lokiURL+"/flush", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client := &http.Client{Timeout: time.Minute}
	var as []answer
	cases := otlpCases(t)
	// Wait until the first query of each tenant sees entries.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		a, err := cases[0].do(client, *lokiURL)
		b, err2 := cases[len(otlpQueries)].do(client, *lokiURL)
		if err == nil && err2 == nil && strings.Contains(string(a.JSON), `"values"`) && strings.Contains(string(b.JSON), `"values"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Loki shows no OTLP entries: %s", a.JSON)
		}
	}
	for _, c := range cases {
		a, err := c.do(client, *lokiURL)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	if err := writeAnswers("testdata/otlp.json", as); err != nil {
		t.Fatal(err)
	}
}

// TestCaptureLogcliTail runs `logcli query --tail` against Loki while
// lines are pushed and writes what it printed to logcli_tail.json.
func TestCaptureLogcliTail(t *testing.T) {
	if *logcliBin == "" || *lokiURL == "" {
		t.Skip("no -logcli or -loki")
	}
	got := tailWith(t, *lokiURL, logcliTail(t, *logcliBin, *lokiURL))
	b, err := json.MarshalIndent(got, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/logcli_tail.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
