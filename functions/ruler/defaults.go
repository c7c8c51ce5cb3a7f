package ruler

import (
	"embed"
	"fmt"
	"path"
	"slices"

	"github.com/kubemate/kmlog/format/tenant"
)

// DefaultNamespace holds kmlog's built-in rule groups. A tenant's own
// group of the same name in this namespace replaces the built-in one.
const DefaultNamespace = "kmlog-defaults"

//go:embed defaults/*.yaml
var defaultFS embed.FS

// DefaultGroups returns kmlog's built-in groups (the LogStorm rule).
func DefaultGroups() []RuleGroup {
	entries, err := defaultFS.ReadDir("defaults")
	if err != nil {
		panic("BUG: " + err.Error())
	}
	var out []RuleGroup
	for _, e := range entries {
		b, err := defaultFS.ReadFile(path.Join("defaults", e.Name()))
		if err != nil {
			panic("BUG: " + err.Error())
		}
		g, err := ParseGroup(b)
		if err != nil {
			panic(fmt.Sprintf("BUG: default rules %s: %v", e.Name(), err))
		}
		out = append(out, g)
	}
	return out
}

// withDefaults adds the built-in groups a tenant has not replaced; their
// refs have no key.
func (r *Ruler) withDefaults(refs []groupRef) []groupRef {
	if !r.cfg.DefaultRules {
		return refs
	}
	for _, g := range r.defaults {
		if slices.ContainsFunc(refs, func(x groupRef) bool { return x.ns == DefaultNamespace && x.name == g.Name }) {
			continue
		}
		refs = append(refs, groupRef{ns: DefaultNamespace, name: g.Name})
	}
	return refs
}

// defaultGroup returns a built-in group by name.
func (r *Ruler) defaultGroup(name string) (StoredGroup, bool) {
	for _, g := range r.defaults {
		if g.Name == name {
			return StoredGroup{Namespace: DefaultNamespace, RuleGroup: g}, true
		}
	}
	return StoredGroup{}, false
}

// tickTenants are the tenants with rules plus, with default rules on,
// those of default_rules_tenants.
func (r *Ruler) tickTenants(stored []tenant.ID) []tenant.ID {
	if !r.cfg.DefaultRules {
		return stored
	}
	out := slices.Clone(stored)
	for _, s := range r.cfg.DefaultRulesTenants {
		t := tenant.ID(s)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
