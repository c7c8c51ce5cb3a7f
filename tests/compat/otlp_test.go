package compat

import (
	"testing"
)

// TestOTLPCompat sends the OTLP requests of testdata/otlp to kmlog's
// /otlp/v1/logs (OTLP/JSON and protobuf) and compares what queries read
// back with Loki's answers (testdata/otlp.json).
func TestOTLPCompat(t *testing.T) {
	want, err := readAnswers("testdata/otlp.json")
	if err != nil {
		t.Fatal(err)
	}
	known, err := differences("testdata/otlp_differences.txt")
	if err != nil {
		t.Fatal(err)
	}
	k := startKmlog(t)
	pushOTLP(t, k.URL)
	k.post(t, "/flush", "", "", nil)
	cases := otlpCases(t)
	same := 0
	for _, c := range cases {
		w, ok := want[c.Text]
		if !ok {
			t.Errorf("no Loki answer captured for %q: run the capture (testdata/README.md)", c.Text)
			continue
		}
		got, err := c.do(k.Client, k.URL)
		if err != nil {
			t.Fatal(err)
		}
		diff := compareAnswers(c, w, got)
		why, isKnown := known[c.Text]
		switch {
		case diff == "" && isKnown:
			t.Errorf("%s: listed in otlp_differences.txt (%s) but kmlog now answers as Loki: remove it", c.Text, why)
		case diff == "":
			same++
		case !isKnown:
			t.Errorf("%s\n%s", c.Text, diff)
		}
	}
	t.Logf("kmlog answers %d of %d OTLP cases as Loki does; %d known differences", same, len(cases), len(known))
}
