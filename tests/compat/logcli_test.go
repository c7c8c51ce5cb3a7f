package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// lcCase is one logcli command of testdata/logcli_cases.txt and what it
// did against Loki: its stdout, and every HTTP request it made with
// Loki's answer (normalised as makeAnswer does).
type lcCase struct {
	Command  string      `json:"command"`
	Stdout   string      `json:"stdout"`
	Requests []lcRequest `json:"requests"`
}

type lcRequest struct {
	Path   string `json:"path"`
	Answer answer `json:"answer"`
}

var lcTime = regexp.MustCompile(`\{t\+([0-9a-z.]+)\}`)

func readLogcliCases(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/logcli_cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// logcliArgs turns a command line into arguments: flags split on spaces,
// everything from the first non-flag argument after the subcommand on is
// one argument (the query, or a label name).
func logcliArgs(t testing.TB, command, addr string) []string {
	t.Helper()
	command = lcTime.ReplaceAllStringFunc(command, func(m string) string {
		d, err := time.ParseDuration(lcTime.FindStringSubmatch(m)[1])
		if err != nil {
			t.Fatal(err)
		}
		return t0.Add(d).Format(time.RFC3339)
	})
	f := strings.Fields(command)
	args := []string{f[0], "--addr=" + addr, "--org-id=" + orgHeader}
	for i := 1; i < len(f); i++ {
		if !strings.HasPrefix(f[i], "--") {
			rest := strings.Join(f[i:], " ")
			if f[0] == "labels" {
				return append(args, f[i:]...)
			}
			return append(args, rest)
		}
		args = append(args, f[i])
	}
	return args
}

// recorder is a reverse proxy to a Loki-API server that records each
// request path and the answer.
type recorder struct {
	mu   sync.Mutex
	reqs []lcRequest
	srv  *httptest.Server
}

func newRecorder(t testing.TB, upstream string) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out, err := http.NewRequestWithContext(req.Context(), req.Method, upstream+req.URL.RequestURI(), req.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		out.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, lcRequest{Path: req.URL.RequestURI(), Answer: makeAnswer(req.URL.Path, resp.StatusCode, body)})
		r.mu.Unlock()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) take() []lcRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func runLogcli(t testing.TB, bin string, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if err := cmd.Run(); err != nil {
		t.Fatalf("logcli %q: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestLogcliCompat checks the logcli commands of testdata/logcli_cases.txt
// against kmlog: every HTTP request logcli made of Loki is sent to kmlog
// and must be answered as Loki answered it; and, when $KMLOG_LOGCLI names
// a logcli binary, logcli itself runs against kmlog and must print what
// it printed against Loki.
func TestLogcliCompat(t *testing.T) {
	b, err := os.ReadFile("testdata/logcli.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []lcCase
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	known, err := differences("testdata/logcli_differences.txt")
	if err != nil {
		t.Fatal(err)
	}
	cmds := readLogcliCases(t)
	if len(want) != len(cmds) {
		t.Fatalf("%d captured commands, %d in logcli_cases.txt: run the capture (testdata/README.md)", len(want), len(cmds))
	}
	k := startKmlog(t)
	k.loadDataset(t)
	bin := os.Getenv("KMLOG_LOGCLI")
	same, total := 0, 0
	for i, c := range want {
		if c.Command != cmds[i] {
			t.Fatalf("capture %d is %q, logcli_cases.txt has %q: run the capture", i, c.Command, cmds[i])
		}
		for _, r := range c.Requests {
			total++
			q := qcase{Text: r.Path, Path: r.Path}
			got, err := q.do(k.Client, k.URL)
			if err != nil {
				t.Fatal(err)
			}
			diff := compareAnswers(q, r.Answer, got)
			why, isKnown := known[c.Command]
			switch {
			case diff == "":
				same++
			case !isKnown:
				t.Errorf("%s\n  request %s\n%s", c.Command, r.Path, diff)
			default:
				t.Logf("%s: known difference (%s)", c.Command, why)
			}
		}
		if bin != "" {
			got := runLogcli(t, bin, logcliArgs(t, c.Command, k.URL))
			if strings.HasPrefix(c.Command, "series ") {
				// Loki lists series in Go map order (differs run to run).
				got, c.Stdout = sortedLines(got), sortedLines(c.Stdout)
			}
			if got != c.Stdout {
				if _, isKnown := known[c.Command]; !isKnown {
					t.Errorf("logcli %s against kmlog printed:\n%s\nagainst Loki:\n%s", c.Command, got, c.Stdout)
				}
			}
		}
	}
	if bin == "" {
		t.Log("$KMLOG_LOGCLI not set: logcli's requests were replayed, logcli itself not run")
	}
	t.Logf("kmlog answers %d of %d logcli requests as Loki does", same, total)
}

func sortedLines(s string) string {
	ls := strings.Split(s, "\n")
	sort.Strings(ls)
	return strings.Join(ls, "\n")
}
