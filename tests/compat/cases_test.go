package compat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the start of the dataset: one hour before a UTC midnight, so that
// the dataset spans two days (two shards for kmlog).
var t0 = time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)

// span is how long the dataset lasts.
const span = 2 * time.Hour

// A qcase is one line of testdata/cases.txt:
//
//	log [limit=N] [dir=forward|backward] [start=+D] [end=+D] [interval=D] [cat] :: <LogQL>
//	range [step=D] [start=+D] [end=+D] [cat] :: <LogQL>
//	instant [time=+D] :: <LogQL>
//	get [org=a|b] :: <path with {+D} placeholders: t0 + D in Unix nanoseconds>
//
// Offsets are from t0 (Go durations, "+" may be omitted; "-" allowed).
// Defaults: log and range cover the whole dataset, limit 100, backward,
// step 5m; instant is at t0+1h. `cat` asks for Loki's categorize-labels
// encoding, as Grafana does.
type qcase struct {
	Line int
	Text string // the line as written: the key of the case
	Kind string
	Path string // the request path and query string
	Cat  bool
	Org  string
}

var placeholder = regexp.MustCompile(`\{([+-]?[0-9a-z.]+)\}`)

func offset(s string) (time.Time, error) {
	s = strings.TrimPrefix(s, "+")
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, err
	}
	return t0.Add(d), nil
}

func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

func readCases(path string) ([]qcase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []qcase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	n := 0
	seen := map[string]int{}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseCase(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if prev, ok := seen[line]; ok {
			return nil, fmt.Errorf("%s:%d: same case as line %d", path, n, prev)
		}
		seen[line] = n
		c.Line = n
		out = append(out, c)
	}
	return out, sc.Err()
}

func parseCase(line string) (qcase, error) {
	head, q, ok := strings.Cut(line, " :: ")
	if !ok {
		return qcase{}, fmt.Errorf("no ' :: ' in %q", line)
	}
	f := strings.Fields(head)
	c := qcase{Text: line, Kind: f[0]}
	opts := map[string]string{}
	for _, o := range f[1:] {
		if o == "cat" {
			c.Cat = true
			continue
		}
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return c, fmt.Errorf("option %q", o)
		}
		opts[k] = v
	}
	get := func(k, def string) string {
		if v, ok := opts[k]; ok {
			delete(opts, k)
			return v
		}
		return def
	}
	v := url.Values{}
	var err error
	at := func(k, def string) string {
		if err != nil {
			return ""
		}
		var t time.Time
		t, err = offset(get(k, def))
		return ns(t)
	}
	switch c.Kind {
	case "log":
		v.Set("query", q)
		v.Set("start", at("start", "0s"))
		v.Set("end", at("end", span.String()))
		v.Set("limit", get("limit", "100"))
		v.Set("direction", get("dir", "backward"))
		if iv := get("interval", ""); iv != "" {
			v.Set("interval", iv)
		}
		c.Path = "/loki/api/v1/query_range?" + v.Encode()
	case "range":
		v.Set("query", q)
		v.Set("start", at("start", "0s"))
		v.Set("end", at("end", span.String()))
		v.Set("step", get("step", "5m"))
		if l := get("limit", ""); l != "" {
			v.Set("limit", l)
		}
		c.Path = "/loki/api/v1/query_range?" + v.Encode()
	case "instant":
		v.Set("query", q)
		v.Set("time", at("time", "1h"))
		if l := get("limit", ""); l != "" {
			v.Set("limit", l)
		}
		if d := get("dir", ""); d != "" {
			v.Set("direction", d)
		}
		c.Path = "/loki/api/v1/query?" + v.Encode()
	case "get":
		c.Org = get("org", "")
		c.Path = placeholder.ReplaceAllStringFunc(q, func(m string) string {
			t, e := offset(m[1 : len(m)-1])
			if e != nil {
				err = e
			}
			return ns(t)
		})
		// Written readably; sent with spaces and pipes escaped.
		c.Path = strings.NewReplacer(" ", "%20", "|", "%7C").Replace(c.Path)
	default:
		return c, fmt.Errorf("kind %q", c.Kind)
	}
	if err != nil {
		return c, err
	}
	if len(opts) > 0 {
		return c, fmt.Errorf("unknown options %v", opts)
	}
	return c, nil
}

// answer is one captured HTTP answer.
type answer struct {
	Case   string          `json:"case"`
	Status int             `json:"status"`
	JSON   json.RawMessage `json:"json,omitempty"`
	Text   string          `json:"text,omitempty"`
}

// orgHeader is the tenant every case uses unless it names others;
// otherOrg holds a copy of the dataset's web streams, for multi-tenant
// queries.
const (
	orgHeader = "compat"
	otherOrg  = "other"
)

// otherBody is the push body for otherOrg: the dataset's app="web" streams.
func otherBody(t testing.TB, dataset []byte) []byte {
	t.Helper()
	var d struct {
		Streams []map[string]any `json:"streams"`
	}
	if err := json.Unmarshal(dataset, &d); err != nil {
		t.Fatal(err)
	}
	var keep []map[string]any
	for _, s := range d.Streams {
		if s["stream"].(map[string]any)["app"] == "web" {
			keep = append(keep, s)
		}
	}
	d.Streams = keep
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c qcase) do(client *http.Client, base string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, base+c.Path, nil)
	if err != nil {
		return answer{}, err
	}
	org := orgHeader
	if c.Org != "" {
		org = c.Org
	}
	req.Header.Set("X-Scope-OrgID", org)
	if c.Cat {
		req.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return makeAnswer(c.Text, resp.StatusCode, body), nil
}

// makeAnswer normalises a body: JSON bodies lose their "stats" (query
// statistics: timings, bytes and chunk counts of each implementation's
// storage, which are not part of the answer) and are re-indented with
// sorted keys; other bodies are kept as trimmed text.
func makeAnswer(name string, status int, body []byte) answer {
	a := answer{Case: name, Status: status}
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		a.Text = strings.TrimSpace(string(body))
		return a
	}
	if m, ok := v.(map[string]any); ok {
		if data, ok := m["data"].(map[string]any); ok {
			delete(data, "stats")
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		a.Text = strings.TrimSpace(string(body))
		return a
	}
	a.JSON = b
	return a
}

func readAnswers(path string) (map[string]answer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var as []answer
	if err := json.Unmarshal(b, &as); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	m := make(map[string]answer, len(as))
	for _, a := range as {
		m[a.Case] = a
	}
	return m, nil
}

func writeAnswers(path string, as []answer) error {
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, a := range as {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		buf.Write(b)
		if i < len(as)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// differences reads testdata/differences.txt: "case text\treason" per
// line; the cases kmlog answers differently on purpose.
func differences(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, why, ok := strings.Cut(l, "\t")
		if !ok || strings.TrimSpace(why) == "" {
			return nil, fmt.Errorf("%s: no reason for %q", path, l)
		}
		m[k] = why
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
