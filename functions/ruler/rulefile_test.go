package ruler

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseGroupErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string // all must appear in the error
	}{
		{"not yaml", "name: [", []string{"invalid rules config", "yaml"}},
		{"empty", "", []string{"invalid rules config", "empty document"}},
		{"unknown field", "name: g\nrulez: []\n", []string{"field rulez not found"}},
		{"no name", "rules:\n  - alert: A\n    expr: count_over_time({a=\"b\"}[1m])\n", []string{"rule group name must not be empty"}},
		{"no rules", "name: g\nrules: []\n", []string{"rule group 'g' has no rules"}},
		{"bad expr", "name: g\nrules:\n  - alert: A\n    expr: x\n  - alert: HighErrors\n    expr: sum(count_over_time({app=\"x\"}[5m]) > \n", []string{`group "g", rule 2, "HighErrors": could not parse expression`}},
		{"log query", "name: g\nrules:\n  - alert: A\n    expr: '{app=\"x\"} |= \"error\"'\n", []string{`group "g", rule 1, "A"`, "a log query cannot be a rule"}},
		{"both", "name: g\nrules:\n  - alert: A\n    record: r\n    expr: count_over_time({a=\"b\"}[1m])\n", []string{"only one of 'record' and 'alert'"}},
		{"neither", "name: g\nrules:\n  - expr: count_over_time({a=\"b\"}[1m])\n", []string{"one of 'record' or 'alert' must be set"}},
		{"bad record name", "name: g\nrules:\n  - record: 'a b'\n    expr: count_over_time({a=\"b\"}[1m])\n", []string{"invalid recording rule name"}},
		{"for in record", "name: g\nrules:\n  - record: r\n    for: 1m\n    expr: count_over_time({a=\"b\"}[1m])\n", []string{"invalid field 'for' in recording rule"}},
		{"bad label", "name: g\nrules:\n  - alert: A\n    expr: count_over_time({a=\"b\"}[1m])\n    labels:\n      'a-b': x\n", []string{"invalid label name: a-b"}},
		{"bad template", "name: g\nrules:\n  - alert: A\n    expr: count_over_time({a=\"b\"}[1m])\n    annotations:\n      summary: '{{ $labels.app '\n", []string{`rule 1, "A"`, "invalid annotation summary template"}},
		{"bad duration", "name: g\nrules:\n  - alert: A\n    for: 5 minutes\n    expr: count_over_time({a=\"b\"}[1m])\n", []string{`duration "5 minutes"`}},
		{"short interval", "name: g\ninterval: 10ms\nrules:\n  - alert: A\n    expr: count_over_time({a=\"b\"}[1m])\n", []string{`group "g"`, "shorter than 1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGroup([]byte(tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrBadRules) && !strings.Contains(tc.name, "expr") && !strings.Contains(tc.name, "log query") {
				var re *RuleError
				if !errors.As(err, &re) {
					t.Errorf("error %v is neither ErrBadRules nor a RuleError", err)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseGroupRoundTrip(t *testing.T) {
	g, err := ParseGroup([]byte(tradingGroup))
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := ParseGroup(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if g2.Rules[0].For != g.Rules[0].For || g2.Rules[0].Annotations["summary"] != g.Rules[0].Annotations["summary"] || g2.Interval != g.Interval {
		t.Fatalf("round trip changed the group:\n%s", b)
	}
}

func FuzzParseGroup(f *testing.F) {
	f.Add([]byte(tradingGroup))
	f.Add([]byte("name: g\nlimit: 3\nrules:\n  - record: a:b\n    expr: sum(rate({a=\"b\"}[1m]))\n    labels: {x: y}\n"))
	f.Add([]byte("name: g\nrules:\n  - alert: A\n    expr: count_over_time({a=\"b\"}[1m]) > 1\n    keep_firing_for: 5m\n    annotations: {d: '{{ $value | humanize }}'}\n"))
	f.Add([]byte("groups:\n  - name: a\n"))
	f.Add([]byte("name: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGroup(data)
		if err != nil {
			return
		}
		// A valid group survives storing: it marshals and parses back valid.
		b, err := yaml.Marshal(&g)
		if err != nil {
			t.Fatalf("marshal valid group: %v", err)
		}
		if _, err := ParseGroup(b); err != nil {
			t.Fatalf("stored group does not parse back: %v\n%s", err, b)
		}
		for _, r := range g.Rules {
			d := &templateData{Labels: map[string]string{"a": "b"}, Value: 1}
			for n, v := range r.Annotations {
				_ = expand(n, v, d)
			}
		}
	})
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("groups:\n" + indent(tradingGroup)))
	f.Add([]byte("groups:\n  - name: a\n    rules: []\n  - name: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseFile(data)
	})
}

func indent(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = "  - " + l
		} else {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte("groups:\n" + indent(tradingGroup)))
	if err != nil || len(f.Groups) != 1 {
		t.Fatalf("%v %+v", err, f)
	}
	if _, err := ParseFile([]byte("groups:\n" + indent(tradingGroup) + indent(tradingGroup))); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Fatalf("repeated group: %v", err)
	}
}
