package compat

import (
	"encoding/json"
	"os"
	"testing"
)

// TestPromtailCompat runs every case of testdata/promtail_cases.yaml
// through `kmlog agent -dry-run` and compares the entries it prints with
// Promtail's (testdata/promtail.json), normalised by normaliseDryRun.
func TestPromtailCompat(t *testing.T) {
	b, err := os.ReadFile("testdata/promtail.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []ptAnswer
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	byName := map[string]ptAnswer{}
	for _, a := range want {
		byName[a.Name] = a
	}
	known, err := differences("testdata/promtail_differences.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := readPromtailCases(t)
	same := 0
	for _, c := range cases {
		w, ok := byName[c.Name]
		if !ok {
			t.Errorf("%s: no Promtail answer captured: run the capture (testdata/README.md)", c.Name)
			continue
		}
		got := runDryRun(t, c, 0, kmlogBin, "agent", "-config.file", c.config(t, t.TempDir()), "-dry-run")
		equal := got.String() == w.String()
		why, isKnown := known[c.Name]
		switch {
		case equal && isKnown:
			t.Errorf("%s: listed in promtail_differences.txt (%s) but kmlog now prints what Promtail does: remove it", c.Name, why)
		case equal:
			same++
		case !isKnown:
			t.Errorf("%s:\n  Promtail: %s\n  kmlog:    %s", c.Name, w, got)
		}
	}
	t.Logf("kmlog agent prints %d of %d cases as Promtail does; %d known differences", same, len(cases), len(known))
}
