package querier_test

import (
	"testing"
	"time"

	"github.com/kubemate/kmlog/functions/querier"
)

// TestEarlyStop checks that limited log queries, backward and forward,
// answer as the engine does over all entries and, read in time windows,
// read less of the day than one pass does.
func TestEarlyStop(t *testing.T) {
	s := newScenario(t, newDir(t), 20000)
	s.ingesters = nil
	windowed := newQuerier(t, s, querier.DefaultConfig())
	cfg := querier.DefaultConfig()
	cfg.NoEarlyStop = true
	onePass := newQuerier(t, s, cfg)
	cases := []qcase{
		{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 100},
		{query: `{namespace=~".+"}`, end: 24 * time.Hour, limit: 100, direction: "forward"},
		{query: `{namespace=~".+"} |= "a"`, end: 24 * time.Hour, limit: 50},
		{query: `{namespace=~".+"} |= "a"`, end: 24 * time.Hour, limit: 50, direction: "forward"},
	}
	// Sparse filters take several windows: the answers must not change.
	sparse := []qcase{
		{query: `{namespace=~".+"} |= "error" | logfmt`, end: 24 * time.Hour, limit: 30},
		{query: `{namespace=~".+"} |= "error"`, end: 24 * time.Hour, limit: 200, direction: "forward"},
		{query: `{namespace=~".+"} |~ "Exception"`, start: time.Hour, end: 3 * time.Hour, limit: 7},
	}
	checkQueries(t, windowed, s.storage, false, append(cases, sparse...))
	for _, c := range cases {
		w, err := windowed.Query(t.Context(), c.request(false))
		if err != nil {
			t.Fatal(err)
		}
		o, err := onePass.Query(t.Context(), c.request(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: windows read %d bytes, one pass %d", c.query, c.direction, w.Stats.BytesRead, o.Stats.BytesRead)
		// The newest data of the scenario is in four overlapping files,
		// the oldest in one: backward saves less.
		if w.Stats.BytesRead*5 > o.Stats.BytesRead*3 {
			t.Errorf("%s %s: windows read %d bytes, one pass %d: want at most 60%%", c.query, c.direction, w.Stats.BytesRead, o.Stats.BytesRead)
		}
	}
}
