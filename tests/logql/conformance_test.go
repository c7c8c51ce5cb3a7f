package logql

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/logql/engine"
	"github.com/kubemate/kmlog/logql/syntax"
)

func TestConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/*.test")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	total := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			n := runScript(t, f)
			total += n
		})
	}
	t.Logf("%d eval cases", total)
}

type script struct {
	t       *testing.T
	file    string
	entries []engine.Entry
	opts    engine.Opts
	cases   int
}

type block struct {
	line  int
	head  string
	lines []string
}

func readBlocks(path string) ([]block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		l := strings.TrimSpace(raw)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if l == "" {
			cur = nil
			continue
		}
		if cur == nil {
			out = append(out, block{line: n, head: l})
			cur = &out[len(out)-1]
			continue
		}
		cur.lines = append(cur.lines, l)
	}
	return out, sc.Err()
}

func runScript(t *testing.T, path string) int {
	blocks, err := readBlocks(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &script{t: t, file: path}
	for _, b := range blocks {
		if err := s.run(b); err != nil {
			t.Errorf("%s:%d: %s: %v", path, b.line, b.head, err)
		}
	}
	return s.cases
}

func parseDur(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// cutLabels splits "{...} rest" at the closing brace, honouring quotes.
func cutLabels(s string) (labels.Labels, string, error) {
	if !strings.HasPrefix(s, "{") {
		return nil, "", fmt.Errorf("want a label set: %q", s)
	}
	inQ := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inQ && c == '\\':
			i++
		case c == '"':
			inQ = !inQ
		case !inQ && c == '}':
			ls, err := labels.Parse(s[:i+1])
			if err != nil {
				return nil, "", err
			}
			return ls, strings.TrimPrefix(s[i+1:], " "), nil
		}
	}
	return nil, "", fmt.Errorf("unterminated label set: %q", s)
}

func (s *script) run(b block) error {
	f := strings.Fields(b.head)
	switch f[0] {
	case "clear":
		s.entries, s.opts = nil, engine.Opts{}
		return nil
	case "set":
		if len(f) != 3 {
			return fmt.Errorf("set needs a name and a value")
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		switch f[1] {
		case "max_series":
			s.opts.MaxSeries = n
		case "max_entries":
			s.opts.MaxEntries = n
		default:
			return fmt.Errorf("unknown option %s", f[1])
		}
		return nil
	case "load":
		return s.load(b)
	case "eval", "eval_fail":
		s.cases++
		return s.eval(b, f[0] == "eval_fail")
	}
	return fmt.Errorf("unknown command %q", f[0])
}

func (s *script) load(b block) error {
	ls, _, err := cutLabels(strings.TrimSpace(strings.TrimPrefix(b.head, "load")))
	if err != nil {
		return err
	}
	for _, l := range b.lines {
		off, line, _ := strings.Cut(l, " ")
		var md labels.Labels
		if i := strings.LastIndex(line, " @meta {"); i >= 0 {
			if md, _, err = cutLabels(line[i+len(" @meta "):]); err != nil {
				return err
			}
			line = line[:i]
		}
		times, err := expandOffsets(off)
		if err != nil {
			return err
		}
		for _, ts := range times {
			s.entries = append(s.entries, engine.Entry{Labels: ls, Timestamp: int64(ts), Line: []byte(line), Metadata: md})
		}
	}
	return nil
}

// expandOffsets reads "30s" or "1m-5m/1m".
func expandOffsets(s string) ([]time.Duration, error) {
	rng, stepS, ok := strings.Cut(s, "/")
	if !ok {
		d, err := parseDur(s)
		return []time.Duration{d}, err
	}
	a, bs, ok := strings.Cut(rng, "-")
	if !ok {
		return nil, fmt.Errorf("bad offset range %q", s)
	}
	from, err1 := parseDur(a)
	to, err2 := parseDur(bs)
	step, err3 := parseDur(stepS)
	if err1 != nil || err2 != nil || err3 != nil || step <= 0 {
		return nil, fmt.Errorf("bad offset range %q", s)
	}
	var out []time.Duration
	for d := from; d <= to; d += step {
		out = append(out, d)
	}
	return out, nil
}

// parseEvalHead reads the parameters of an eval line.
func parseEvalHead(head string) (kind string, p engine.Params, err error) {
	rest := head
	next := func() string {
		rest = strings.TrimLeft(rest, " ")
		w, r, _ := strings.Cut(rest, " ")
		rest = r
		return w
	}
	next() // eval / eval_fail
	kind = next()
	dur := func() time.Duration {
		d, e := parseDur(next())
		if e != nil && err == nil {
			err = e
		}
		return d
	}
	switch kind {
	case "instant":
		if w := next(); w != "at" {
			return "", p, fmt.Errorf("want 'at', got %q", w)
		}
		at := dur()
		p.Start, p.End = time.Unix(0, int64(at)), time.Unix(0, int64(at))
	case "range", "logs":
		if w := next(); w != "from" {
			return "", p, fmt.Errorf("want 'from', got %q", w)
		}
		p.Start = time.Unix(0, int64(dur()))
		if w := next(); w != "to" {
			return "", p, fmt.Errorf("want 'to', got %q", w)
		}
		p.End = time.Unix(0, int64(dur()))
		for {
			save := rest
			w := next()
			switch w {
			case "step":
				p.Step = dur()
			case "limit":
				p.Limit, err = strconv.Atoi(next())
			case "forward":
				p.Direction = engine.Forward
			case "backward":
				p.Direction = engine.Backward
			case "interval":
				p.Interval = dur()
			default:
				rest = save
				p.Query = strings.TrimSpace(rest)
				return kind, p, err
			}
		}
	default:
		return "", p, fmt.Errorf("unknown eval kind %q", kind)
	}
	p.Query = strings.TrimSpace(rest)
	return kind, p, err
}

func (s *script) eval(b block, fail bool) error {
	kind, p, err := parseEvalHead(b.head)
	if err != nil {
		return err
	}
	src := engine.NewMemSource(s.entries)
	eng := engine.New(s.opts)
	res, qerr := eng.Query(context.Background(), src, p)
	if fail {
		if qerr == nil {
			return fmt.Errorf("want an error, got %v", res.Value)
		}
		for _, l := range b.lines {
			if want, ok := strings.CutPrefix(l, "expected_error "); ok {
				want = strings.Trim(want, `"`)
				if !strings.Contains(qerr.Error(), want) {
					return fmt.Errorf("error %q does not contain %q", qerr, want)
				}
			}
		}
		return nil
	}
	if qerr != nil {
		return qerr
	}
	if err := check(kind, p, res.Value, b.lines); err != nil {
		return err
	}
	// The same query split into one-minute shards must agree.
	expr, err := syntax.Parse(p.Query)
	if err != nil || !engine.Shardable(expr) || p.Interval > 0 {
		return nil
	}
	got, err := splitQuery(eng, src, p, time.Minute)
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	if err := check(kind, p, got.Value, b.lines); err != nil {
		return fmt.Errorf("split into shards: %w", err)
	}
	return nil
}

// splitQuery runs p as shards of width w covering every entry time the
// query can read, round-tripping each partial through its binary form.
func splitQuery(eng *engine.Engine, src engine.Source, p engine.Params, w time.Duration) (engine.Result, error) {
	ctx := context.Background()
	from := p.Start.Add(-2 * time.Hour).Truncate(w)
	var parts []*engine.Partial
	for t := from; !t.After(p.End); t = t.Add(w) {
		part, err := eng.Partial(ctx, src, p, t, t.Add(w))
		if err != nil {
			return engine.Result{}, err
		}
		data, err := part.MarshalBinary()
		if err != nil {
			return engine.Result{}, err
		}
		var back engine.Partial
		if err := back.UnmarshalBinary(data); err != nil {
			return engine.Result{}, err
		}
		parts = append(parts, &back)
	}
	m, err := engine.Merge(parts...)
	if err != nil {
		return engine.Result{}, err
	}
	return eng.Finalize(ctx, p, m)
}

func check(kind string, p engine.Params, v engine.Value, want []string) error {
	switch kind {
	case "logs":
		ss, ok := v.(engine.Streams)
		if !ok {
			return fmt.Errorf("want streams, got %s", v.Type())
		}
		var got []string
		for _, st := range ss {
			for _, e := range st.Entries {
				got = append(got, fmt.Sprintf("%s %s %s", st.Labels, fmtOffset(e.Timestamp), e.Line))
			}
		}
		want = normLogLines(want)
		if slices.Equal(got, want) {
			return nil
		}
		return diffLines(got, want)
	case "instant":
		switch v := v.(type) {
		case engine.Scalar:
			if len(want) != 1 {
				return fmt.Errorf("got scalar %v, want %d lines", v.V, len(want))
			}
			w, err := parseValue(want[0])
			if err != nil {
				return err
			}
			if !close(w, v.V) {
				return fmt.Errorf("got scalar %v, want %v", v.V, w)
			}
			return nil
		case engine.Vector:
			var got []string
			for _, s := range v {
				got = append(got, fmt.Sprintf("%s %s", s.Labels, fmtFloat(s.V)))
			}
			if len(got) != len(want) {
				return diffLines(got, want)
			}
			for i := range want {
				wl, wr, err := cutLabels(want[i])
				if err != nil {
					return err
				}
				wv, err := parseValue(wr)
				if err != nil {
					return err
				}
				if !labels.Equal(wl, v[i].Labels) || !close(wv, v[i].V) {
					return diffLines(got, want)
				}
			}
			return nil
		}
		return fmt.Errorf("want vector or scalar, got %s", v.Type())
	case "range":
		m, ok := v.(engine.Matrix)
		if !ok {
			return fmt.Errorf("want matrix, got %s", v.Type())
		}
		n := int((p.End.Sub(p.Start))/p.Step) + 1
		var got []string
		for _, s := range m {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = "_"
			}
			for _, pt := range s.Points {
				k := (pt.T - p.Start.UnixMilli()) / p.Step.Milliseconds()
				vals[k] = fmtFloat(pt.V)
			}
			got = append(got, fmt.Sprintf("%s %s", s.Labels, strings.Join(vals, " ")))
		}
		if len(got) != len(want) {
			return diffLines(got, want)
		}
		for i := range want {
			wl, wr, err := cutLabels(want[i])
			if err != nil {
				return err
			}
			wvals, err := expandValues(wr)
			if err != nil {
				return err
			}
			gl, gr, _ := cutLabels(got[i])
			gvals := strings.Fields(gr)
			if !labels.Equal(wl, gl) || len(wvals) != len(gvals) {
				return diffLines(got, want)
			}
			for j := range wvals {
				if (wvals[j] == "_") != (gvals[j] == "_") {
					return diffLines(got, want)
				}
				if wvals[j] == "_" {
					continue
				}
				a, _ := parseValue(wvals[j])
				b, _ := parseValue(gvals[j])
				if !close(a, b) {
					return diffLines(got, want)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("unknown kind %s", kind)
}

func normLogLines(want []string) []string {
	out := make([]string, len(want))
	for i, w := range want {
		ls, rest, err := cutLabels(w)
		if err != nil {
			out[i] = w
			continue
		}
		off, line, _ := strings.Cut(rest, " ")
		if d, err := parseDur(off); err == nil {
			off = fmtOffset(int64(d))
		}
		out[i] = ls.String() + " " + off + " " + line
	}
	return out
}

func fmtOffset(ns int64) string { return time.Duration(ns).String() }

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func parseValue(s string) (float64, error) {
	switch s = strings.TrimSpace(s); s {
	case "Inf", "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// expandValues reads promqltest value lists: _ , v, vxN, a+bxN, a-bxN.
func expandValues(s string) ([]string, error) {
	var out []string
	for _, w := range strings.Fields(s) {
		base, cnt, ok := strings.Cut(w, "x")
		if !ok || w == "_" {
			out = append(out, w)
			continue
		}
		n, err := strconv.Atoi(cnt)
		if err != nil {
			return nil, fmt.Errorf("bad value %q", w)
		}
		if base == "_" {
			for range n {
				out = append(out, "_")
			}
			continue
		}
		// a+b or a-b (the sign after the first character).
		var a, d float64
		if i := strings.IndexAny(base[1:], "+-"); i >= 0 {
			if a, err = parseValue(base[:i+1]); err != nil {
				return nil, err
			}
			if d, err = parseValue(base[i+1:]); err != nil {
				return nil, err
			}
			for k := 0; k <= n; k++ {
				out = append(out, fmtFloat(a+float64(k)*d))
			}
			continue
		}
		if a, err = parseValue(base); err != nil {
			return nil, err
		}
		for range n {
			out = append(out, fmtFloat(a))
		}
	}
	return out, nil
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b))
}

func diffLines(got, want []string) error {
	return fmt.Errorf("result differs\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
}
