package ruler

import (
	"time"

	"github.com/kubemate/kmlog/format/labels"
)

// AlertState is the state of one alert, as Prometheus names it.
type AlertState string

// States. An inactive alert is a resolved one, kept for a while so that
// Alertmanager hears of the resolution.
const (
	StateInactive AlertState = "inactive"
	StatePending  AlertState = "pending"
	StateFiring   AlertState = "firing"
)

// Alert is one instance of an alerting rule: one label set of its query's
// result. Its fields are what a fresh instance needs to carry on exactly,
// so all of it is stored between ticks.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	State       AlertState        `json:"state"`
	Value       float64           `json:"value"`
	// ActiveAt is when the condition first held (pending began).
	ActiveAt time.Time `json:"active_at"`
	// FiredAt is when it went from pending to firing.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// ResolvedAt is when it stopped firing.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// LastSentAt is the last evaluation time it was sent to Alertmanager;
	// ValidUntil the endsAt sent with it.
	LastSentAt time.Time `json:"last_sent_at,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// KeepFiringSince is when the condition stopped holding while
	// keep_firing_for keeps the alert firing.
	KeepFiringSince time.Time `json:"keep_firing_since,omitzero"`
}

func (a *Alert) key() string { return labels.FromMap(a.Labels).String() }

// needsSending is Prometheus's rule: never pending ones; a resolution not
// sent yet; otherwise once per resendDelay.
func (a *Alert) needsSending(ts time.Time, resendDelay time.Duration) bool {
	if a.State == StatePending {
		return false
	}
	if a.ResolvedAt.After(a.LastSentAt) {
		return true
	}
	return !a.LastSentAt.Add(resendDelay).After(ts)
}

// ruleState is what is kept of one rule between ticks.
type ruleState struct {
	// ID ties state to the rule: alert or record name and expression.
	ID             string    `json:"id"`
	Health         string    `json:"health"`
	LastError      string    `json:"last_error,omitempty"`
	LastEvaluation time.Time `json:"last_evaluation,omitzero"`
	EvalSeconds    float64   `json:"evaluation_seconds"`
	Alerts         []*Alert  `json:"alerts,omitempty"`
}

// groupState is the stored state of one rule group.
type groupState struct {
	// EvaluatedAt is the aligned time of the last evaluation.
	EvaluatedAt time.Time   `json:"evaluated_at,omitzero"`
	EvalSeconds float64     `json:"evaluation_seconds"`
	Rules       []ruleState `json:"rules"`
}

func ruleID(r Rule) string {
	if r.Alert != "" {
		return "alert\x00" + r.Alert + "\x00" + r.Expr
	}
	return "record\x00" + r.Record + "\x00" + r.Expr
}

// Health values, as Prometheus reports them.
const (
	healthUnknown = "unknown"
	healthOK      = "ok"
	healthErr     = "err"
)
