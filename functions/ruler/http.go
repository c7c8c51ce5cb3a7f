package ruler

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/tenant"
)

// HeaderOrgID carries the tenant, set by the gateway.
const HeaderOrgID = "X-Scope-OrgID"

// Handler serves Loki's rules API and the Prometheus-style listings:
//
//	GET    /loki/api/v1/rules                        every namespace (YAML)
//	GET    /loki/api/v1/rules/{namespace}            one namespace (YAML)
//	GET    /loki/api/v1/rules/{namespace}/{group}    one group (YAML)
//	POST   /loki/api/v1/rules/{namespace}            create or replace a group (YAML body): 202
//	DELETE /loki/api/v1/rules/{namespace}            a namespace: 202
//	DELETE /loki/api/v1/rules/{namespace}/{group}    a group: 202
//	GET    /prometheus/api/v1/rules                  groups with rule health and alerts (JSON)
//	GET    /prometheus/api/v1/alerts                 active alerts (JSON)
//
// /api/prom/rules… and /api/prom/api/v1/… are the same, as in Loki. The
// tenant comes from X-Scope-OrgID (the gateway sets it).
func (r *Ruler) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, base := range []string{"/loki/api/v1/rules", "/api/prom/rules"} {
		mux.HandleFunc("GET "+base, r.serveList)
		mux.HandleFunc("GET "+base+"/{namespace}", r.serveList)
		mux.HandleFunc("GET "+base+"/{namespace}/{group}", r.serveGetGroup)
		mux.HandleFunc("POST "+base+"/{namespace}", r.servePost)
		mux.HandleFunc("DELETE "+base+"/{namespace}", r.serveDeleteNamespace)
		mux.HandleFunc("DELETE "+base+"/{namespace}/{group}", r.serveDeleteGroup)
	}
	for _, base := range []string{"/prometheus/api/v1", "/api/prom/api/v1"} {
		mux.HandleFunc("GET "+base+"/rules", r.servePromRules)
		mux.HandleFunc("GET "+base+"/alerts", r.servePromAlerts)
	}
	return mux
}

// Paths reports whether the Handler serves path, so that a mux in front
// of several handlers can route to it.
func Paths(path string) bool {
	for _, p := range []string{"/loki/api/v1/rules", "/api/prom/rules", "/prometheus/api/v1/rules", "/prometheus/api/v1/alerts", "/api/prom/api/v1/rules", "/api/prom/api/v1/alerts"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

var errNoOrgID = errors.New("no org id")

func tenantOf(req *http.Request) (tenant.ID, error) {
	v := req.Header.Get(HeaderOrgID)
	if v == "" {
		return "", errNoOrgID
	}
	return tenant.Parse(v)
}

// names reads the path values, refusing names Loki refuses.
func names(req *http.Request) (ns, group string, err error) {
	ns, group = req.PathValue("namespace"), req.PathValue("group")
	for _, n := range []string{ns, group} {
		if n != "" && !filepath.IsLocal(n) {
			return "", "", errors.New("invalid namespace or group name: path traversal not allowed")
		}
	}
	return ns, group, nil
}

// promResponse is the JSON envelope of Loki's ruler API.
type promResponse struct {
	Status    string `json:"status"`
	Data      any    `json:"data"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

func writeJSONStatus(w http.ResponseWriter, code int, v promResponse) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// promError answers with the Prometheus API's error shape.
func promError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSONStatus(w, code, promResponse{Status: "error", ErrorType: typ, Error: msg})
}

func accepted(w http.ResponseWriter) {
	writeJSONStatus(w, http.StatusAccepted, promResponse{Status: "success"})
}

// fail answers with Loki's plain-text errors of the rules API.
func fail(w http.ResponseWriter, code int, err error) {
	http.Error(w, err.Error(), code)
}

// target reads the tenant and the namespace and group of the path, or
// answers the request itself and returns ok false.
func target(w http.ResponseWriter, req *http.Request) (t tenant.ID, ns, group string, ok bool) {
	t, err := tenantOf(req)
	if errors.Is(err, errNoOrgID) {
		fail(w, http.StatusUnauthorized, err)
		return "", "", "", false
	}
	if err == nil {
		ns, group, err = names(req)
	}
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return "", "", "", false
	}
	return t, ns, group, true
}

func writeYAML(w http.ResponseWriter, v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(b)
}

func (r *Ruler) serveList(w http.ResponseWriter, req *http.Request) {
	t, ns, _, ok := target(w, req)
	if !ok {
		return
	}
	gs, err := r.store.Groups(req.Context(), t, ns)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	if len(gs) == 0 {
		fail(w, http.StatusNotFound, ErrNoRuleGroups)
		return
	}
	out := map[string][]RuleGroup{}
	for _, g := range gs {
		out[g.Namespace] = append(out[g.Namespace], g.RuleGroup)
	}
	writeYAML(w, out)
}

func (r *Ruler) serveGetGroup(w http.ResponseWriter, req *http.Request) {
	t, ns, group, ok := target(w, req)
	if !ok {
		return
	}
	g, err := r.store.Group(req.Context(), t, ns, group)
	if errors.Is(err, ErrGroupNotFound) {
		fail(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	writeYAML(w, g.RuleGroup)
}

func (r *Ruler) servePost(w http.ResponseWriter, req *http.Request) {
	t, ns, _, ok := target(w, req)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBodySize+1))
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	g, err := ParseGroup(body)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if err := checkNames(ns, g.Name); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if err := r.store.Put(req.Context(), t, ns, g); err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	r.log.Info("stored rule group", "tenant", t, "namespace", ns, "group", g.Name, "rules", len(g.Rules))
	accepted(w)
}

func (r *Ruler) serveDeleteNamespace(w http.ResponseWriter, req *http.Request) {
	t, ns, _, ok := target(w, req)
	if !ok {
		return
	}
	if err := r.store.DeleteNamespace(req.Context(), t, ns); err != nil {
		if errors.Is(err, ErrNamespaceNotFound) {
			fail(w, http.StatusNotFound, err)
			return
		}
		promError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	accepted(w)
}

func (r *Ruler) serveDeleteGroup(w http.ResponseWriter, req *http.Request) {
	t, ns, group, ok := target(w, req)
	if !ok {
		return
	}
	if err := r.store.Delete(req.Context(), t, ns, group); err != nil {
		promError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	accepted(w)
}

// Prometheus API shapes (Loki's ruler API answers the same).
type apiAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    *time.Time        `json:"activeAt"`
	Value       string            `json:"value"`
}

type apiRule struct {
	State          string            `json:"state,omitempty"`
	Name           string            `json:"name"`
	Query          string            `json:"query"`
	Duration       float64           `json:"duration,omitempty"`
	KeepFiringFor  float64           `json:"keepFiringFor,omitempty"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Alerts         []apiAlert        `json:"alerts,omitempty"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError"`
	Type           string            `json:"type"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	EvaluationTime float64           `json:"evaluationTime"`
}

type apiGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []apiRule `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	EvaluationTime float64   `json:"evaluationTime"`
}

func toAPIAlert(a *Alert) apiAlert {
	at := a.ActiveAt
	ann := a.Annotations
	if ann == nil {
		ann = map[string]string{}
	}
	return apiAlert{Labels: a.Labels, Annotations: ann, State: string(a.State), ActiveAt: &at, Value: formatValue(a.Value)}
}

// status reads the groups of t with their stored state.
func (r *Ruler) status(ctx context.Context, t tenant.ID) ([]apiGroup, error) {
	refs, err := r.store.list(ctx, t, "")
	if err != nil {
		return nil, err
	}
	if len(refs) > 0 || slices.Contains(r.cfg.DefaultRulesTenants, string(t)) {
		refs = r.withDefaults(refs)
	}
	out := make([]apiGroup, 0, len(refs))
	for _, ref := range refs {
		g, err := r.loadRef(ctx, ref)
		if errors.Is(err, ErrGroupNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		st, _, err := loadState(ctx, r.bkt, t, g.Namespace, g.Name)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]ruleState, len(st.Rules))
		for _, rs := range st.Rules {
			byID[rs.ID] = rs
		}
		ag := apiGroup{Name: g.Name, File: g.Namespace, Interval: r.interval(g.RuleGroup).Seconds(), Limit: g.Limit,
			LastEvaluation: st.EvaluatedAt, EvaluationTime: st.EvalSeconds, Rules: make([]apiRule, 0, len(g.Rules))}
		for _, rule := range g.Rules {
			rs, ok := byID[ruleID(rule)]
			if !ok {
				rs = ruleState{Health: healthUnknown}
			}
			ar := apiRule{Query: rule.Expr, Labels: rule.Labels, Health: rs.Health, LastError: rs.LastError,
				LastEvaluation: rs.LastEvaluation, EvaluationTime: rs.EvalSeconds}
			if ar.Labels == nil {
				ar.Labels = map[string]string{}
			}
			if rule.Alert != "" {
				ar.Type, ar.Name = "alerting", rule.Alert
				ar.Duration, ar.KeepFiringFor = time.Duration(rule.For).Seconds(), time.Duration(rule.KeepFiringFor).Seconds()
				ar.Annotations = rule.Annotations
				if ar.Annotations == nil {
					ar.Annotations = map[string]string{}
				}
				ar.State = string(StateInactive)
				ar.Alerts = []apiAlert{}
				for _, a := range rs.Alerts {
					if a.State == StateInactive {
						continue
					}
					ar.Alerts = append(ar.Alerts, toAPIAlert(a))
					if a.State == StateFiring || ar.State == string(StateInactive) {
						ar.State = string(a.State)
					}
				}
			} else {
				ar.Type, ar.Name = "recording", rule.Record
			}
			ag.Rules = append(ag.Rules, ar)
		}
		out = append(out, ag)
	}
	slices.SortStableFunc(out, func(a, b apiGroup) int { return strings.Compare(a.File, b.File) })
	return out, nil
}

// statusOrFail returns the tenant's groups with their rules' state, or
// answers the request itself and returns ok false.
func (r *Ruler) statusOrFail(w http.ResponseWriter, req *http.Request) ([]apiGroup, bool) {
	t, err := tenantOf(req)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errNoOrgID) {
			code = http.StatusUnauthorized
		}
		promError(w, code, "bad_data", err.Error())
		return nil, false
	}
	groups, err := r.status(req.Context(), t)
	if err != nil {
		promError(w, http.StatusInternalServerError, "server_error", err.Error())
		return nil, false
	}
	return groups, true
}

func (r *Ruler) servePromRules(w http.ResponseWriter, req *http.Request) {
	typ := strings.ToLower(req.URL.Query().Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		promError(w, http.StatusBadRequest, "bad_data", `not supported value "`+typ+`"`)
		return
	}
	groups, ok := r.statusOrFail(w, req)
	if !ok {
		return
	}
	q := req.URL.Query()
	keep := func(values []string, v string) bool { return len(values) == 0 || slices.Contains(values, v) }
	out := groups[:0]
	for _, g := range groups {
		if !keep(q["rule_group"], g.Name) || !keep(q["file"], g.File) {
			continue
		}
		rules := g.Rules[:0]
		for _, rl := range g.Rules {
			if typ == "alert" && rl.Type != "alerting" || typ == "record" && rl.Type != "recording" || !keep(q["rule_name"], rl.Name) {
				continue
			}
			rules = append(rules, rl)
		}
		if len(rules) == 0 && (typ != "" || len(q["rule_name"]) > 0) {
			continue
		}
		g.Rules = rules
		out = append(out, g)
	}
	writeJSONStatus(w, http.StatusOK, promResponse{Status: "success", Data: map[string]any{"groups": out}})
}

func (r *Ruler) servePromAlerts(w http.ResponseWriter, req *http.Request) {
	groups, ok := r.statusOrFail(w, req)
	if !ok {
		return
	}
	alerts := []apiAlert{}
	for _, g := range groups {
		for _, rl := range g.Rules {
			alerts = append(alerts, rl.Alerts...)
		}
	}
	writeJSONStatus(w, http.StatusOK, promResponse{Status: "success", Data: map[string]any{"alerts": alerts}})
}
