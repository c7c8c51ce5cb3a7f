package loggen

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
)

// ErrInvalidConfig is wrapped by every error from Config.Validate.
var ErrInvalidConfig = errors.New("invalid loggen config")

// Config shapes the generated cluster and its traffic. Zero-valued fields
// take the defaults of DefaultConfig, so Config{Seed: 7} is a complete
// configuration.
type Config struct {
	// Seed makes the output reproducible: the same Config always yields the
	// same topology and the same sequence of entries.
	Seed uint64 `yaml:"seed"`
	// Tenants is the number of tenants, named "tenant-0", "tenant-1", ...
	// It is ignored when TenantIDs is set. Default 1.
	Tenants int `yaml:"tenants"`
	// TenantIDs names the tenants explicitly.
	TenantIDs []tenant.ID `yaml:"tenant_ids"`
	// Namespaces per tenant. Default 4.
	Namespaces int `yaml:"namespaces"`
	// Apps per namespace. Default 5.
	Apps int `yaml:"apps"`
	// PodsPerApp is the replica count of every app. Default 3.
	PodsPerApp int `yaml:"pods_per_app"`
	// Start is the first timestamp; it is used in UTC. Default
	// 2026-11-25T00:00:00Z.
	Start time.Time `yaml:"start"`
	// Rate is the average number of lines per second over all tenants and
	// streams. Default 1000.
	Rate float64 `yaml:"rate"`
	// Mix is the share of each line kind in percent; the zero value means
	// the default 40/25/20/5/10.
	Mix Mix `yaml:"mix"`
}

// Mix weighs the line kinds. The fields are relative weights, normally
// percentages that sum to 100.
type Mix struct {
	JSON      int `yaml:"json"`       // JSON application logs from JVM services
	Logfmt    int `yaml:"logfmt"`     // logfmt logs from Go services
	Nginx     int `yaml:"nginx"`      // ingress-nginx access logs
	JavaStack int `yaml:"java_stack"` // multi-line Java exceptions, one entry each
	Plain     int `yaml:"plain"`      // plain text: klog, CoreDNS, PostgreSQL, Redis, batch jobs
}

// DefaultConfig returns the default configuration with seed 1: one tenant,
// 4 namespaces of 5 apps of 3 pods, 1000 lines per second from
// 2026-11-25T00:00:00Z, and the mix 40/25/20/5/10.
func DefaultConfig() Config {
	return Config{
		Seed:       1,
		Tenants:    1,
		Namespaces: 4,
		Apps:       5,
		PodsPerApp: 3,
		Start:      time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
		Rate:       1000,
		Mix:        Mix{JSON: 40, Logfmt: 25, Nginx: 20, JavaStack: 5, Plain: 10},
	}
}

// withDefaults returns c with every zero-valued field replaced by its default.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Tenants == 0 {
		c.Tenants = d.Tenants
	}
	if c.Namespaces == 0 {
		c.Namespaces = d.Namespaces
	}
	if c.Apps == 0 {
		c.Apps = d.Apps
	}
	if c.PodsPerApp == 0 {
		c.PodsPerApp = d.PodsPerApp
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	c.Start = c.Start.UTC()
	if c.Rate == 0 {
		c.Rate = d.Rate
	}
	if c.Mix == (Mix{}) {
		c.Mix = d.Mix
	}
	return c
}

// Validate reports whether c, after defaults are applied, can be generated.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Tenants < 0:
		return fmt.Errorf("%w: tenants is %d", ErrInvalidConfig, c.Tenants)
	case c.Namespaces < 0:
		return fmt.Errorf("%w: namespaces is %d", ErrInvalidConfig, c.Namespaces)
	case c.Apps < 0:
		return fmt.Errorf("%w: apps is %d", ErrInvalidConfig, c.Apps)
	case c.PodsPerApp < 0:
		return fmt.Errorf("%w: pods_per_app is %d", ErrInvalidConfig, c.PodsPerApp)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("%w: rate is %v", ErrInvalidConfig, c.Rate)
	}
	tenants := c.Tenants
	if len(c.TenantIDs) > 0 {
		tenants = len(c.TenantIDs)
	}
	const maxSources = 1 << 20
	if n := int64(tenants) * int64(c.Namespaces) * int64(c.Apps) * int64(c.PodsPerApp); n > maxSources {
		return fmt.Errorf("%w: %d pods, the limit is %d", ErrInvalidConfig, n, maxSources)
	}
	for _, w := range []int{c.Mix.JSON, c.Mix.Logfmt, c.Mix.Nginx, c.Mix.JavaStack, c.Mix.Plain} {
		if w < 0 {
			return fmt.Errorf("%w: negative mix weight %d", ErrInvalidConfig, w)
		}
	}
	for i, id := range c.TenantIDs {
		if _, err := tenant.Parse(string(id)); err != nil {
			return fmt.Errorf("%w: tenant_ids[%d]: %w", ErrInvalidConfig, i, err)
		}
		if slices.Contains(c.TenantIDs[:i], id) {
			return fmt.Errorf("%w: tenant_ids[%d]: %q repeats", ErrInvalidConfig, i, id)
		}
	}
	return nil
}
