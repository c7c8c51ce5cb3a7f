package ruler

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/logql/engine"
)

// script is a Querier whose answers the test sets per tenant and
// expression: the state machine's input, without a query engine. (The
// e2e tests run the real query path.)
type script struct {
	mu    sync.Mutex
	v     map[string]engine.Vector // tenant + "\x00" + expr
	calls map[string]int
}

func newScript() *script {
	return &script{v: map[string]engine.Vector{}, calls: map[string]int{}}
}

func (s *script) set(t tenant.ID, expr string, samples ...engine.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v[string(t)+"\x00"+expr] = samples
}

func (s *script) Query(_ context.Context, t tenant.ID, p engine.Params) (engine.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(t) + "\x00" + p.Query
	s.calls[k]++
	out := engine.Vector{}
	for _, smp := range s.v[k] {
		smp.T = p.Start.UnixMilli()
		out = append(out, smp)
	}
	return engine.Result{Value: out}, nil
}

func (s *script) count(t tenant.ID, expr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[string(t)+"\x00"+expr]
}

func sample(v float64, nv ...string) engine.Sample {
	return engine.Sample{Labels: labels.FromStrings(nv...), V: v}
}

// amRecorder records what is posted to /api/v2/alerts.
type amRecorder struct {
	mu     sync.Mutex
	posts  [][]amAlert
	auth   []string
	srv    *httptest.Server
	status int
}

func newAMRecorder(t *testing.T) *amRecorder {
	r := &amRecorder{status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/api/v2/alerts" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var as []amAlert
		if err := json.Unmarshal(b, &as); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.posts = append(r.posts, as)
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *amRecorder) take() []amAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []amAlert
	for _, p := range r.posts {
		out = append(out, p...)
	}
	r.posts = nil
	return out
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestRuler(t *testing.T, bkt bucket.Bucket, q Querier, mod func(*Config)) *Ruler {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ExternalURL = "http://kmlog.example"
	cfg.DefaultRules = false // TestDefaultRules turns them on
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg, bkt, q, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustPut(t *testing.T, r *Ruler, tn tenant.ID, ns, yml string) {
	t.Helper()
	g, err := ParseGroup([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Store().Put(context.Background(), tn, ns, g); err != nil {
		t.Fatal(err)
	}
}

func mustTick(t *testing.T, r *Ruler, at time.Time) TickStats {
	t.Helper()
	st, err := r.Tick(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// alertsOf returns the stored alerts of one group's rules.
func alertsOf(t *testing.T, bkt bucket.Bucket, tn tenant.ID, ns, group string) []*Alert {
	t.Helper()
	st, _, err := loadState(context.Background(), bkt, tn, ns, group)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Alert
	for _, rs := range st.Rules {
		out = append(out, rs.Alerts...)
	}
	return out
}
