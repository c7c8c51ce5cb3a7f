// Package relabel applies Prometheus relabelling rules to label sets, with
// Prometheus's semantics: source label values joined by a separator, a
// regular expression anchored at both ends, "$1"-style replacements, and
// the actions replace, keep, drop, keepequal, dropequal, hashmod, labelmap,
// labeldrop, labelkeep, lowercase and uppercase.
//
// Rules are compiled once from a Config (New) and then applied to many
// label sets (Process, ProcessMap). A compiled Rule is immutable and safe
// for concurrent use.
package relabel

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
)

// Action is what a rule does.
type Action string

// The actions, as spelled in YAML (case-insensitive there).
const (
	Replace   Action = "replace"
	Keep      Action = "keep"
	Drop      Action = "drop"
	KeepEqual Action = "keepequal"
	DropEqual Action = "dropequal"
	HashMod   Action = "hashmod"
	LabelMap  Action = "labelmap"
	LabelDrop Action = "labeldrop"
	LabelKeep Action = "labelkeep"
	Lowercase Action = "lowercase"
	Uppercase Action = "uppercase"
)

// ParseAction returns the action spelled s, ignoring case.
func ParseAction(s string) (Action, error) {
	switch a := Action(strings.ToLower(s)); a {
	case Replace, Keep, Drop, KeepEqual, DropEqual, HashMod, LabelMap, LabelDrop, LabelKeep, Lowercase, Uppercase:
		return a, nil
	}
	return "", fmt.Errorf("unknown relabel action %q", s)
}

// Defaults of a rule's fields, as in Prometheus.
const (
	DefaultSeparator   = ";"
	DefaultRegex       = "(.*)"
	DefaultReplacement = "$1"
)

// Config is one relabelling rule as written in a config file. Start from
// DefaultConfig: the zero value's empty Regex matches only the empty
// string, and its empty Action is invalid.
type Config struct {
	SourceLabels []string
	Separator    string
	// Regex is unanchored as written; New anchors it at both ends.
	Regex       string
	Modulus     uint64
	TargetLabel string
	Replacement string
	Action      Action
}

// DefaultConfig returns a rule with Prometheus's defaults: action
// replace, separator ";", regex "(.*)", replacement "$1".
func DefaultConfig() Config {
	return Config{
		Action:      Replace,
		Separator:   DefaultSeparator,
		Regex:       DefaultRegex,
		Replacement: DefaultReplacement,
	}
}

// ErrInvalid is wrapped by every error from New.
var ErrInvalid = errors.New("invalid relabel config")

// FieldError is an invalid rule, about the YAML field Field (action,
// regex, target_label, ...).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string   { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// relabelTarget is what a target_label holding $-references, or a
// labelmap replacement, must look like (Prometheus's check).
var relabelTarget = regexp.MustCompile(`^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`)

// Rule is a compiled Config.
type Rule struct {
	cfg       Config
	re        *regexp.Regexp
	isDefault bool // regex is the default "(.*)": the replace fast path applies
}

// Config returns the configuration the rule was compiled from.
func (r *Rule) Config() Config { return r.cfg }

// New validates cfg as Prometheus does and compiles its regex, anchored
// as ^(?s:regex)$. Errors are *FieldError values naming the bad field.
func New(cfg Config) (*Rule, error) {
	a, err := ParseAction(string(cfg.Action))
	if err != nil {
		if cfg.Action == "" {
			return nil, fieldErr("action", "must not be empty")
		}
		return nil, &FieldError{Field: "action", Err: err}
	}
	cfg.Action = a
	re, err := regexp.Compile("^(?s:" + cfg.Regex + ")$")
	if err != nil {
		return nil, &FieldError{Field: "regex", Err: err}
	}
	def := DefaultConfig()
	needsTarget := a == Replace || a == HashMod || a == Lowercase || a == Uppercase || a == KeepEqual || a == DropEqual
	switch {
	case a == HashMod && cfg.Modulus == 0:
		return nil, fieldErr("modulus", "hashmod action requires a non-zero modulus")
	case needsTarget && cfg.TargetLabel == "":
		return nil, fieldErr("target_label", "%s action requires a target_label", a)
	case a == Replace && !strings.Contains(cfg.TargetLabel, "$") && !labels.ValidName(cfg.TargetLabel),
		a == Replace && strings.Contains(cfg.TargetLabel, "$") && !relabelTarget.MatchString(cfg.TargetLabel),
		(a == Lowercase || a == Uppercase || a == KeepEqual || a == DropEqual || a == HashMod) && !labels.ValidName(cfg.TargetLabel):
		return nil, fieldErr("target_label", "%q is not a valid target label for %s action", cfg.TargetLabel, a)
	case (a == Lowercase || a == Uppercase || a == KeepEqual || a == DropEqual) && cfg.Replacement != def.Replacement:
		return nil, fieldErr("replacement", "must not be set for %s action", a)
	case a == LabelMap && !relabelTarget.MatchString(cfg.Replacement):
		return nil, fieldErr("replacement", "%q is not a valid label name template for labelmap action", cfg.Replacement)
	}
	if a == KeepEqual || a == DropEqual {
		switch {
		case cfg.Regex != def.Regex:
			return nil, fieldErr("regex", "must not be set for %s action (it takes only source_labels and target_label)", a)
		case cfg.Modulus != 0:
			return nil, fieldErr("modulus", "must not be set for %s action (it takes only source_labels and target_label)", a)
		case cfg.Separator != def.Separator:
			return nil, fieldErr("separator", "must not be set for %s action (it takes only source_labels and target_label)", a)
		}
	}
	if a == LabelDrop || a == LabelKeep {
		switch {
		case cfg.SourceLabels != nil:
			return nil, fieldErr("source_labels", "must not be set for %s action (it takes only regex)", a)
		case cfg.TargetLabel != "":
			return nil, fieldErr("target_label", "must not be set for %s action (it takes only regex)", a)
		case cfg.Modulus != 0:
			return nil, fieldErr("modulus", "must not be set for %s action (it takes only regex)", a)
		case cfg.Separator != def.Separator:
			return nil, fieldErr("separator", "must not be set for %s action (it takes only regex)", a)
		case cfg.Replacement != def.Replacement:
			return nil, fieldErr("replacement", "must not be set for %s action (it takes only regex)", a)
		}
	}
	for i, n := range cfg.SourceLabels {
		if !labels.ValidName(n) {
			return nil, fieldErr(fmt.Sprintf("source_labels[%d]", i), "%q is not a valid label name", n)
		}
	}
	return &Rule{cfg: cfg, re: re, isDefault: cfg.Regex == DefaultRegex}, nil
}

// NewAll compiles a list of rules; an error names the rule's index
// ("[2].action: ...").
func NewAll(cfgs []Config) ([]*Rule, error) {
	rules := make([]*Rule, 0, len(cfgs))
	for i, c := range cfgs {
		r, err := New(c)
		if err != nil {
			return nil, fmt.Errorf("[%d].%w", i, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// Process applies rules in order to a copy of ls. It returns the
// resulting set and true, or nil and false when a rule dropped it.
func Process(ls labels.Labels, rules ...*Rule) (labels.Labels, bool) {
	m := ls.Map()
	if !ProcessMap(m, rules...) {
		return nil, false
	}
	return labels.FromMap(m), true
}

// ProcessMap applies rules in order to m, editing it in place. It
// returns false when a rule dropped the set; m is then partly edited.
// Setting a label to the empty value deletes it, as in Prometheus.
func ProcessMap(m map[string]string, rules ...*Rule) bool {
	for _, r := range rules {
		if !r.apply(m) {
			return false
		}
	}
	return true
}

func set(m map[string]string, name, value string) {
	if value == "" {
		delete(m, name)
		return
	}
	m[name] = value
}

func (r *Rule) apply(m map[string]string) bool {
	c := &r.cfg
	var val string
	switch len(c.SourceLabels) {
	case 0:
	case 1:
		val = m[c.SourceLabels[0]]
	default:
		var b strings.Builder
		for i, n := range c.SourceLabels {
			if i > 0 {
				b.WriteString(c.Separator)
			}
			b.WriteString(m[n])
		}
		val = b.String()
	}
	switch c.Action {
	case Drop:
		return !r.re.MatchString(val)
	case Keep:
		return r.re.MatchString(val)
	case DropEqual:
		return m[c.TargetLabel] != val
	case KeepEqual:
		return m[c.TargetLabel] == val
	case Replace:
		// Fast path, as in Prometheus: nothing to expand.
		if val == "" && r.isDefault && !strings.Contains(c.TargetLabel, "$") && !strings.Contains(c.Replacement, "$") {
			set(m, c.TargetLabel, c.Replacement)
			return true
		}
		idx := r.re.FindStringSubmatchIndex(val)
		if idx == nil {
			return true
		}
		target := string(r.re.ExpandString(nil, c.TargetLabel, val, idx))
		if !labels.ValidName(target) {
			return true
		}
		set(m, target, string(r.re.ExpandString(nil, c.Replacement, val, idx)))
	case Lowercase:
		set(m, c.TargetLabel, strings.ToLower(val))
	case Uppercase:
		set(m, c.TargetLabel, strings.ToUpper(val))
	case HashMod:
		sum := md5.Sum([]byte(val))
		// The last 8 bytes, big-endian, as Prometheus does.
		mod := binary.BigEndian.Uint64(sum[8:]) % c.Modulus
		m[c.TargetLabel] = strconv.FormatUint(mod, 10)
	case LabelMap:
		// Range over a snapshot: labels added here are not matched again.
		// Names are visited in sorted order, so when two map to the same
		// label the later name wins, as over Prometheus's sorted sets.
		var names []string
		for name := range m {
			if r.re.MatchString(name) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		vals := make([]string, len(names))
		for i, n := range names {
			vals[i] = m[n]
		}
		for i, n := range names {
			set(m, r.re.ReplaceAllString(n, c.Replacement), vals[i])
		}
	case LabelDrop:
		for name := range m {
			if r.re.MatchString(name) {
				delete(m, name)
			}
		}
	case LabelKeep:
		for name := range m {
			if !r.re.MatchString(name) {
				delete(m, name)
			}
		}
	default:
		panic(fmt.Sprintf("BUG: relabel: unknown action %q", c.Action))
	}
	return true
}
