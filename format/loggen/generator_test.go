package loggen

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
)

var update = flag.Bool("update", false, "rewrite golden files")

// classify tells a line's kind from its shape alone.
func classify(line string) kind {
	switch {
	case strings.HasPrefix(line, "{"):
		return kindJSON
	case strings.HasPrefix(line, "ts="):
		return kindLogfmt
	case strings.Contains(line, "\n\tat "):
		return kindJavaStack
	case line != "" && line[0] >= '0' && line[0] <= '9' && strings.Contains(line, " - - ["):
		return kindNginx
	}
	return kindPlain
}

var nginxRE = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "[A-Z]+ \S+ HTTP/[12]\.[01]" \d{3} \d+ "[^"]*" "[^"]*" \d+ \d+\.\d{3} \[[^\]]+\] \[\] [\d.:]+ \d+ \d+\.\d{3} \d{3} [0-9a-f]{32}$`)

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42, Tenants: 2}
	a, b := New(cfg).Take(5000), New(cfg).Take(5000)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different entries (-a +b):\n%s", diff)
	}
	if diff := cmp.Diff(New(cfg).Streams(), New(cfg).Streams()); diff != "" {
		t.Fatalf("same seed, different streams:\n%s", diff)
	}
	cfg.Seed = 43
	c := New(cfg).Take(5000)
	same := 0
	for i := range a {
		if a[i].Line == c[i].Line {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 42 and 43 share %d of %d lines", same, len(a))
	}
	if slices.EqualFunc(New(Config{Seed: 42}).Streams(), New(Config{Seed: 43}).Streams(), labels.Equal) {
		t.Error("seeds 42 and 43 have the same streams")
	}
}

// TestGolden pins the output of seed 1, so that a change to the generated
// data, which benchmarks and tests depend on, is a visible decision.
func TestGolden(t *testing.T) {
	var sb strings.Builder
	for _, e := range New(Config{Seed: 1}).Take(40) {
		fmt.Fprintf(&sb, "%s %s %d %s\n%s\n", e.Tenant, e.Labels, e.Timestamp, e.Metadata, e.Line)
	}
	path := filepath.Join("testdata", "seed1.golden")
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(sb.String(), "\n")
	for i := range min(len(wl), len(gl)) {
		if wl[i] != gl[i] {
			t.Fatalf("output of seed 1 changed at line %d; run with -update if intended\nwant: %s\n got: %s", i+1, wl[i], gl[i])
		}
	}
	if len(wl) != len(gl) {
		t.Fatalf("output of seed 1 changed: %d lines, want %d; run with -update if intended", len(gl), len(wl))
	}
}

func TestEntriesAreValid(t *testing.T) {
	g := New(Config{Seed: 7, Tenants: 3})
	streams := map[string]bool{}
	for _, ls := range g.Streams() {
		streams[ls.String()] = true
	}
	wantNames := []string{"app", "container", "level", "namespace", "pod"}
	for i, e := range g.Take(30_000) {
		if _, err := tenant.Parse(string(e.Tenant)); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		var names []string
		for _, l := range e.Labels {
			names = append(names, l.Name)
			if !labels.ValidName(l.Name) || l.Value == "" {
				t.Fatalf("entry %d: bad label %q=%q", i, l.Name, l.Value)
			}
		}
		if !slices.Equal(names, wantNames) {
			t.Fatalf("entry %d: label names %v, want %v", i, names, wantNames)
		}
		if !streams[e.Labels.String()] {
			t.Fatalf("entry %d: stream %s is not in Streams()", i, e.Labels)
		}
		lvl := e.Labels.Get("level")
		if !slices.Contains(levelNames[:], lvl) {
			t.Fatalf("entry %d: level %q", i, lvl)
		}
		if e.Line == "" {
			continue
		}
		checkLine(t, i, e, lvl)
	}
}

// checkLine checks that a line is well formed for its kind and that the
// level it shows agrees with the stream's level label.
func checkLine(t *testing.T, i int, e Entry, lvl string) {
	t.Helper()
	switch classify(e.Line) {
	case kindJSON:
		var m map[string]any
		if err := json.Unmarshal([]byte(e.Line), &m); err != nil {
			t.Fatalf("entry %d: invalid JSON: %v\n%s", i, err, e.Line)
		}
		if m["level"] != lvl {
			t.Fatalf("entry %d: JSON level %v in stream level %q", i, m["level"], lvl)
		}
		if id, ok := m["trace_id"]; ok != e.Metadata.Has("trace_id") || (ok && id != e.Metadata.Get("trace_id")) {
			t.Fatalf("entry %d: trace_id %v, metadata %s", i, id, e.Metadata)
		}
	case kindLogfmt:
		if !strings.Contains(e.Line, " level="+lvl+" ") {
			t.Fatalf("entry %d: logfmt line without level=%s: %s", i, lvl, e.Line)
		}
	case kindJavaStack:
		want := map[string]string{"error": " ERROR ", "warn": "  WARN "}[lvl]
		if want == "" || !strings.Contains(e.Line[:strings.IndexByte(e.Line, '\n')], want) {
			t.Fatalf("entry %d: stack trace in stream level %q: %.200s", i, lvl, e.Line)
		}
	case kindNginx:
		if !nginxRE.MatchString(e.Line) {
			t.Fatalf("entry %d: not an ingress-nginx access line: %s", i, e.Line)
		}
		status := strings.Fields(e.Line[strings.Index(e.Line, `HTTP/`):])[1]
		ok := map[string]bool{"error": status[0] == '5', "warn": status[0] == '4'}
		if got, bad := ok[lvl], status[0] >= '4'; got != bad && (lvl == "error" || lvl == "warn" || bad) {
			t.Fatalf("entry %d: status %s in stream level %q", i, status, lvl)
		}
	}
	if e.Metadata != nil && classify(e.Line) != kindJSON {
		t.Fatalf("entry %d: metadata on a non-JSON line", i)
	}
}

func TestTimestamps(t *testing.T) {
	start := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	g := New(Config{Seed: 3, Start: start, Rate: 5000})
	es := g.Take(100_000)
	if es[0].Timestamp != start.UnixNano() {
		t.Errorf("first timestamp %d, want Start %d", es[0].Timestamp, start.UnixNano())
	}
	last := map[uint64]int64{}
	for i, e := range es {
		if i > 0 && e.Timestamp < es[i-1].Timestamp {
			t.Fatalf("entry %d: timestamp went back", i)
		}
		h := e.Labels.Hash()
		if e.Timestamp < last[h] {
			t.Fatalf("entry %d: stream %s went back in time", i, e.Labels)
		}
		last[h] = e.Timestamp
	}
	// The mean gap is 1/Rate: 100k lines at 5000/s take about 20s.
	span := time.Duration(es[len(es)-1].Timestamp - es[0].Timestamp)
	if span < 19*time.Second || span > 21*time.Second {
		t.Errorf("100000 lines at 5000/s span %v, want about 20s", span)
	}
	// The timestamp written in the line is the entry's.
	for _, e := range es[:2000] {
		if classify(e.Line) == kindJSON {
			want := time.Unix(0, e.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z")
			if !strings.HasPrefix(e.Line, `{"ts":"`+want+`"`) {
				t.Fatalf("line %s, want ts %s", e.Line, want)
			}
		}
	}
}

func TestMix(t *testing.T) {
	for _, tc := range []struct {
		name string
		mix  Mix
	}{
		{"default", Mix{}},
		{"json only", Mix{JSON: 1}},
		{"nginx heavy", Mix{JSON: 10, Logfmt: 10, Nginx: 60, JavaStack: 10, Plain: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Seed: 11, Mix: tc.mix}
			mix := cfg.withDefaults().Mix
			want := [numKinds]int{mix.JSON, mix.Logfmt, mix.Nginx, mix.JavaStack, mix.Plain}
			total := 0
			for _, w := range want {
				total += w
			}
			var got [numKinds]int
			n := 0
			for _, e := range New(cfg).Take(50_000) {
				if e.Line != "" {
					got[classify(e.Line)]++
					n++
				}
			}
			for k := range numKinds {
				share, wantShare := 100*float64(got[k])/float64(n), 100*float64(want[k])/float64(total)
				if share < wantShare-1.5 || share > wantShare+1.5 {
					t.Errorf("kind %d: %.1f%% of lines, want %.1f%%", k, share, wantShare)
				}
			}
		})
	}
}

func TestLevelsAndSkew(t *testing.T) {
	g := New(Config{Seed: 5})
	count := map[string]int{}
	perStream := map[string]int{}
	const n = 100_000
	for _, e := range g.Take(n) {
		count[e.Labels.Get("level")]++
		perStream[e.Labels.String()]++
	}
	want := map[string]float64{"info": 70, "debug": 15, "warn": 10, "error": 5}
	for lvl, w := range want {
		if got := 100 * float64(count[lvl]) / n; got < w*0.8-1 || got > w*1.2+1 {
			t.Errorf("level %s: %.1f%%, want about %.0f%%", lvl, got, w)
		}
	}
	// Zipf-like: the busiest tenth of the streams carries most lines.
	var counts []int
	for _, c := range perStream {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top := 0
	for _, c := range counts[:len(g.Streams())/10] {
		top += c
	}
	if share := float64(top) / n; share < 0.4 {
		t.Errorf("the busiest 10%% of streams carry %.0f%% of lines, want a skew above 40%%", 100*share)
	}
}

func TestTakeAndFill(t *testing.T) {
	for _, n := range []int64{1, 1000, 1 << 20} {
		es := New(Config{Seed: 9}).TakeBytes(n)
		var sum int64
		for _, e := range es {
			sum += int64(len(e.Line))
		}
		last := int64(len(es[len(es)-1].Line))
		if sum < n || sum-last >= n {
			t.Errorf("TakeBytes(%d): %d bytes in %d entries, last %d", n, sum, len(es), last)
		}
	}
	if es := New(Config{}).TakeBytes(0); len(es) != 0 {
		t.Errorf("TakeBytes(0) returned %d entries", len(es))
	}
	if es := New(Config{}).Take(123); len(es) != 123 {
		t.Errorf("Take(123) returned %d entries", len(es))
	}
	dst := make([]Entry, 2, 10)
	if dst = New(Config{}).Fill(dst); len(dst) != 10 || dst[1].Line != "" || dst[2].Line == "" {
		t.Errorf("Fill: len %d", len(dst))
	}
	// Take and Next draw from the same sequence.
	a, b := New(Config{Seed: 2}), New(Config{Seed: 2})
	es := a.Take(50)
	for i := range 50 {
		if e := b.Next(); e.Line != es[i].Line {
			t.Fatalf("entry %d differs between Take and Next", i)
		}
	}
}

func TestStackTraces(t *testing.T) {
	g := New(Config{Seed: 13, Mix: Mix{JavaStack: 1}})
	frame := regexp.MustCompile(`^(\tat [\w$./]+\.[\w$<>]+\([\w$]+\.(java|kt):\d+\)|Caused by: [\w.$]+: .+|\t\.\.\. \d+ more)$`)
	n := 0
	for _, e := range g.Take(2000) {
		if e.Line == "" {
			continue
		}
		n++
		lines := strings.Split(e.Line, "\n")
		if len(lines) < 10 || len(lines) > 40 {
			t.Fatalf("stack trace of %d lines:\n%s", len(lines), e.Line)
		}
		if !regexp.MustCompile(`^[\w.$]+: `).MatchString(lines[1]) {
			t.Fatalf("second line is not an exception: %q", lines[1])
		}
		for _, l := range lines[2:] {
			if !frame.MatchString(l) {
				t.Fatalf("bad frame line %q in\n%s", l, e.Line)
			}
		}
	}
	if n < 1900 {
		t.Errorf("only %d stack traces", n)
	}
}

// hexRuns returns the runs of exactly 32 lowercase hex digits in s.
func hexRuns(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'f') {
			j++
		}
		if j-i == 32 {
			out = append(out, s[i:j])
		}
		i = j + 1
	}
	return out
}

func TestNeedleTraceID(t *testing.T) {
	es := New(Config{Seed: 17}).Take(100_000)
	occurrences := map[string]int{}
	var needles []string
	for _, e := range es {
		for _, id := range hexRuns(e.Line) {
			occurrences[id]++
		}
		if id, ok := NeedleTraceID(e); ok {
			if !strings.Contains(e.Line, id) {
				t.Fatalf("needle %s is not in its line %s", id, e.Line)
			}
			needles = append(needles, id)
		}
	}
	if len(needles) < 1000 {
		t.Fatalf("only %d needles in 100000 entries", len(needles))
	}
	for _, id := range needles {
		if occurrences[id] != 1 {
			t.Fatalf("needle %s occurs %d times", id, occurrences[id])
		}
	}
	// Requests of several lines are never needles.
	multi := 0
	for _, e := range es {
		if id := e.Metadata.Get("trace_id"); id != "" && occurrences[id] > 1 {
			multi++
			if _, ok := NeedleTraceID(e); ok {
				t.Fatalf("trace %s occurs %d times but is a needle", id, occurrences[id])
			}
		}
	}
	if multi == 0 {
		t.Error("no trace ID repeats across the lines of a request")
	}
	if _, ok := NeedleTraceID(Entry{Line: "no trace here"}); ok {
		t.Error("a line without a trace is a needle")
	}
}

func TestRareLines(t *testing.T) {
	idRE := regexp.MustCompile(`id_number"?[:=]"?(\d{17}[\dX])`)
	var empty, long, ids int
	const n = 100_000
	for _, e := range New(Config{Seed: 19}).Take(n) {
		switch {
		case e.Line == "":
			empty++
		case len(e.Line) > 2048 && classify(e.Line) != kindJavaStack:
			long++
		}
		if m := idRE.FindStringSubmatch(e.Line); m != nil {
			ids++
			if d := m[1]; idCheck([]byte(d)) != d[17] {
				t.Fatalf("ID number %s has a bad check character", d)
			}
		}
	}
	if empty == 0 || empty > n/1000 {
		t.Errorf("%d empty lines in %d", empty, n)
	}
	if long < n/2000 || long > n/100 {
		t.Errorf("%d lines over 2 KB in %d", long, n)
	}
	if share := 100 * float64(ids) / n; share < 0.7 || share > 1.3 {
		t.Errorf("%.2f%% of lines carry an ID number, want about 1%%", share)
	}
	if got := idCheck([]byte("11010519491231002X")); got != 'X' {
		t.Errorf("check character of 11010519491231002X is %c", got)
	}
}

func TestTopology(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		g := New(Config{Seed: 1})
		if n := len(g.Streams()); n != 4*5*3*4 {
			t.Errorf("%d streams, want 240", n)
		}
		pod := regexp.MustCompile(`^[a-z0-9-]+-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$|^[a-z-]+-\d+$`)
		for _, ls := range g.Streams() {
			if p := ls.Get("pod"); !pod.MatchString(p) || !strings.HasPrefix(p, ls.Get("app")+"-") {
				t.Errorf("pod %q of app %q", p, ls.Get("app"))
			}
		}
	})
	t.Run("explicit tenants", func(t *testing.T) {
		ids := []tenant.ID{"tenant-financial", "tenant-retail"}
		g := New(Config{Seed: 1, TenantIDs: ids, Tenants: 7})
		if diff := cmp.Diff(ids, g.Tenants()); diff != "" {
			t.Error(diff)
		}
		streams := map[tenant.ID]map[string]bool{}
		for _, id := range ids {
			streams[id] = map[string]bool{}
			for _, ls := range g.TenantStreams(id) {
				streams[id][ls.String()] = true
			}
		}
		seen := map[tenant.ID]int{}
		for _, e := range g.Take(10_000) {
			seen[e.Tenant]++
			if !streams[e.Tenant][e.Labels.String()] {
				t.Fatalf("stream %s is not among %s's streams", e.Labels, e.Tenant)
			}
		}
		if len(seen) != 2 {
			t.Errorf("tenants seen: %v", seen)
		}
	})
	t.Run("tiny", func(t *testing.T) {
		// One app cannot cover every kind; the others fall back to JSON.
		g := New(Config{Seed: 1, Namespaces: 1, Apps: 1, PodsPerApp: 1})
		if n := len(g.Streams()); n != 4 {
			t.Errorf("%d streams, want 4", n)
		}
		for _, e := range g.Take(1000) {
			if k := classify(e.Line); e.Line != "" && k != kindJSON && k != kindJavaStack {
				t.Fatalf("line of kind %d from a lone Java app: %s", k, e.Line)
			}
		}
	})
	t.Run("many namespaces", func(t *testing.T) {
		g := New(Config{Seed: 1, Namespaces: 30, Apps: 20, PodsPerApp: 1})
		if n, want := len(g.Streams()), 30*20*4; n != want {
			t.Errorf("%d streams, want %d (names must not collide)", n, want)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"default", DefaultConfig(), true},
		{"negative tenants", Config{Tenants: -1}, false},
		{"negative apps", Config{Apps: -2}, false},
		{"negative rate", Config{Rate: -1}, false},
		{"negative mix", Config{Mix: Mix{JSON: 10, Plain: -1}}, false},
		{"bad tenant", Config{TenantIDs: []tenant.ID{"a/b"}}, false},
		{"repeated tenant", Config{TenantIDs: []tenant.ID{"a", "b", "a"}}, false},
		{"many tenants by ID", Config{Tenants: 1 << 30, TenantIDs: []tenant.ID{"a"}}, true},
		{"too many pods", Config{Tenants: 1000, Namespaces: 100, Apps: 100}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestFieldRepeatsMessageValue(t *testing.T) {
	re := regexp.MustCompile(`^scheduled job (\S+) (started|finished)$`)
	n := 0
	for _, e := range New(Config{Seed: 23, Mix: Mix{JSON: 1}}).Take(20_000) {
		var m struct{ Msg, Job string }
		if e.Line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(e.Line), &m); err != nil {
			t.Fatal(err)
		}
		if sm := re.FindStringSubmatch(m.Msg); sm != nil {
			n++
			if sm[1] != m.Job {
				t.Fatalf("message names job %q, field job is %q", sm[1], m.Job)
			}
		}
	}
	if n == 0 {
		t.Fatal("no scheduled job lines")
	}
}

// TestEveryTemplate renders each template once, with the rare extras, and
// checks that the line is well formed.
func TestEveryTemplate(t *testing.T) {
	g := New(Config{Seed: 31, Namespaces: 12, Apps: 12})
	g.clk.set(g.now)
	src := map[group]*source{}
	for _, s := range g.sources {
		if src[s.group] == nil && (s.group != groupPlain || s.app.style == styleKlog) {
			src[s.group] = s
		}
	}
	for l := range numLevels {
		java, golang := g.javaTmpl[l], g.goTmpl[l]
		for i := range java {
			g.javaTmpl[l] = java[i : i+1]
			b, _ := g.jsonLine(nil, src[groupJava], l, true, true)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil || m["level"] != levelNames[l] {
				t.Errorf("template %q: %v\n%s", javaMessages[l][i], err, b)
			}
			if msg, _ := m["msg"].(string); msg == "" || strings.ContainsAny(msg, "{}") {
				t.Errorf("template %q left a placeholder: %s", javaMessages[l][i], m["msg"])
			}
		}
		g.javaTmpl[l] = java
		for i := range golang {
			g.goTmpl[l] = golang[i : i+1]
			b := g.logfmtLine(nil, src[groupGo], l, true, false)
			if strings.ContainsAny(string(b), "{}") || strings.Count(string(b), `"`)%2 != 0 {
				t.Errorf("template %q: %s", goMessages[l][i], b)
			}
		}
		g.goTmpl[l] = golang
		for st := range numStyles {
			tmpls := g.plainTmpl[st][l]
			s := *src[groupPlain]
			app := *s.app
			app.style = st
			s.app = &app
			for i := range tmpls {
				g.plainTmpl[st][l] = tmpls[i : i+1]
				if b := g.plainLine(nil, &s, l, false, false); strings.ContainsAny(string(b), "{}") || len(b) < 10 {
					t.Errorf("template %q: %s", plainMessages[st][l][i], b)
				}
			}
			g.plainTmpl[st][l] = tmpls
		}
	}
}
