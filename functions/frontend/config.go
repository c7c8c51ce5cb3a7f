package frontend

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Frontend.
type Config struct {
	// Limits are every tenant's limits unless Overrides says otherwise.
	Limits Limits `yaml:"limits"`
	// Overrides, when set, returns a tenant's limits (cmd wires the
	// overrides file); nil means Limits for everyone.
	Overrides LimitsFunc `yaml:"-"`

	// CacheSize is the memory the results cache may hold, in bytes; 0
	// disables the memory tier (the bucket tier still works).
	CacheSize int64 `yaml:"cache_size_bytes"`

	// TailPollInterval is how often a tail connection asks the queriers
	// for new lines.
	TailPollInterval time.Duration `yaml:"tail_poll_interval"`
	// TailMaxDuration closes a tail connection after this long (Loki:
	// tail_max_duration).
	TailMaxDuration time.Duration `yaml:"tail_max_duration"`

	// BuildInfo is what /loki/api/v1/status/buildinfo reports. Grafana
	// reads Version to decide which Loki features to offer.
	BuildInfo BuildInfo `yaml:"build_info"`

	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time `yaml:"-"`
}

// BuildInfo is Loki's buildinfo answer.
type BuildInfo struct {
	Version   string `yaml:"version" json:"version"`
	Revision  string `yaml:"revision" json:"revision"`
	Branch    string `yaml:"branch" json:"branch"`
	BuildUser string `yaml:"build_user" json:"buildUser"`
	BuildDate string `yaml:"build_date" json:"buildDate"`
	GoVersion string `yaml:"go_version" json:"goVersion"`
}

// DefaultConfig returns the defaults: Loki's limits, a 256 MiB memory
// cache, tails polled every second for at most an hour.
func DefaultConfig() Config {
	return Config{
		Limits:           DefaultLimits(),
		CacheSize:        256 << 20,
		TailPollInterval: time.Second,
		TailMaxDuration:  time.Hour,
		BuildInfo:        BuildInfo{Version: "3.4.2", Branch: "kmlog"},
	}
}

// ErrBadConfig is wrapped by Config.Validate errors.
var ErrBadConfig = errors.New("invalid frontend config")

// Validate checks c.
func (c Config) Validate() error {
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	switch {
	case c.CacheSize < 0:
		return fmt.Errorf("%w: cache_size_bytes is negative", ErrBadConfig)
	case c.TailPollInterval <= 0:
		return fmt.Errorf("%w: tail_poll_interval must be positive", ErrBadConfig)
	case c.TailMaxDuration <= 0:
		return fmt.Errorf("%w: tail_max_duration must be positive", ErrBadConfig)
	}
	return nil
}
