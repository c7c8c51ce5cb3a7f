package ruler

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/logql/syntax"
)

// RuleFile is a Prometheus rule file: the body of a namespace, and what
// GET /loki/api/v1/rules answers for each namespace.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is one group of rules evaluated together at one interval, in
// Prometheus's rule-file format. Interval 0 means the ruler's
// evaluation_interval; Limit 0 means no limit on the alerts (series) one
// rule may produce.
type RuleGroup struct {
	Name     string         `yaml:"name"`
	Interval model.Duration `yaml:"interval,omitempty"`
	Limit    int            `yaml:"limit,omitempty"`
	Rules    []Rule         `yaml:"rules"`
}

// Rule is an alerting rule (Alert set) or a recording rule (Record set)
// with a LogQL metric expression.
type Rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           model.Duration    `yaml:"for,omitempty"`
	KeepFiringFor model.Duration    `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

// Name is the alert or record name.
func (r Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// RuleError is a problem with one rule of a group, in Prometheus's words:
// group "g", rule 2, "HighErrors": cause. Rule counts from 1; 0 means the
// problem is the group's own.
type RuleError struct {
	Group    string
	Rule     int
	RuleName string
	Err      error
}

func (e *RuleError) Error() string {
	if e.Rule == 0 {
		return fmt.Sprintf("group %q: %v", e.Group, e.Err)
	}
	return fmt.Sprintf("group %q, rule %d, %q: %v", e.Group, e.Rule, e.RuleName, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// ErrBadRules is wrapped by every error of ParseGroup and ParseFile.
var ErrBadRules = errors.New("invalid rules config")

// Limits on names: a namespace or group name becomes one key segment,
// base64-encoded (see store.go).
const (
	maxNameLen  = 180
	maxRules    = 10000
	maxExprLen  = 64 << 10
	maxBodySize = 8 << 20
)

// ParseGroup reads and validates one rule group, the body of POST
// /loki/api/v1/rules/{namespace}.
func ParseGroup(data []byte) (RuleGroup, error) {
	var g RuleGroup
	if err := decodeStrict(data, &g); err != nil {
		return RuleGroup{}, fmt.Errorf("%w: %v", ErrBadRules, err)
	}
	if err := g.Validate(); err != nil {
		return RuleGroup{}, err
	}
	return g, nil
}

// ParseFile reads and validates a whole rule file.
func ParseFile(data []byte) (RuleFile, error) {
	var f RuleFile
	if err := decodeStrict(data, &f); err != nil {
		return RuleFile{}, fmt.Errorf("%w: %v", ErrBadRules, err)
	}
	seen := make(map[string]bool, len(f.Groups))
	var errs []error
	for _, g := range f.Groups {
		if seen[g.Name] {
			errs = append(errs, &RuleError{Group: g.Name, Err: fmt.Errorf("%w: repeated in the same file", ErrBadRules)})
			continue
		}
		seen[g.Name] = true
		if err := g.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return RuleFile{}, errors.Join(errs...)
	}
	return f, nil
}

func decodeStrict(data []byte, v any) error {
	if len(data) > maxBodySize {
		return fmt.Errorf("rule file of %d bytes is over the limit of %d", len(data), maxBodySize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		return err
	}
	return nil
}

// Validate checks the group as Prometheus does, with LogQL expressions,
// and returns every problem found, each naming group, rule and cause.
func (g RuleGroup) Validate() error {
	gerr := func(format string, args ...any) error {
		return &RuleError{Group: g.Name, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadRules}, args...)...)}
	}
	switch {
	case g.Name == "":
		return fmt.Errorf("%w: rule group name must not be empty", ErrBadRules)
	case len(g.Name) > maxNameLen:
		return gerr("rule group name is longer than %d bytes", maxNameLen)
	case len(g.Rules) == 0:
		return fmt.Errorf("%w: rule group '%s' has no rules", ErrBadRules, g.Name)
	case len(g.Rules) > maxRules:
		return gerr("rule group has %d rules, the limit is %d", len(g.Rules), maxRules)
	case g.Interval < 0:
		return gerr("interval must not be negative")
	case g.Interval > 0 && time.Duration(g.Interval) < time.Second:
		return gerr("interval %s is shorter than 1s", g.Interval)
	case g.Limit < 0:
		return gerr("limit must not be negative")
	}
	var errs []error
	for i, r := range g.Rules {
		for _, err := range r.validate() {
			errs = append(errs, &RuleError{Group: g.Name, Rule: i + 1, RuleName: r.Name(), Err: err})
		}
	}
	return errors.Join(errs...)
}

func (r Rule) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	switch {
	case r.Record != "" && r.Alert != "":
		bad("only one of 'record' and 'alert' must be set")
	case r.Record == "" && r.Alert == "":
		bad("one of 'record' or 'alert' must be set")
	}
	if r.Expr == "" {
		bad("field 'expr' must be set in rule")
	} else if len(r.Expr) > maxExprLen {
		bad("expr is longer than %d bytes", maxExprLen)
	} else if expr, err := syntax.Parse(r.Expr); err != nil {
		bad("could not parse expression: %v", err)
	} else if syntax.IsLogQuery(expr) {
		bad("could not parse expression: a log query cannot be a rule; use a metric query such as count_over_time(%s[5m])", r.Expr)
	}
	if r.Record != "" {
		if len(r.Annotations) > 0 {
			bad("invalid field 'annotations' in recording rule")
		}
		if r.For != 0 {
			bad("invalid field 'for' in recording rule")
		}
		if r.KeepFiringFor != 0 {
			bad("invalid field 'keep_firing_for' in recording rule")
		}
		if !model.LegacyValidation.IsValidMetricName(r.Record) {
			bad("invalid recording rule name: %s", r.Record)
		}
	}
	if r.For < 0 {
		bad("field 'for' must not be negative")
	}
	if r.KeepFiringFor < 0 {
		bad("field 'keep_firing_for' must not be negative")
	}
	for n, v := range r.Labels {
		if !model.LabelName(n).IsValidLegacy() || strings.HasPrefix(n, "__") {
			bad("invalid label name: %s", n)
		}
		if n == model.AlertNameLabel && r.Alert != "" {
			bad("invalid label name: %s", n)
		}
		if err := checkTemplate("label "+n, v); err != nil {
			errs = append(errs, err)
		}
	}
	for n, v := range r.Annotations {
		if !model.LabelName(n).IsValidLegacy() {
			bad("invalid annotation name: %s", n)
		}
		if err := checkTemplate("annotation "+n, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
