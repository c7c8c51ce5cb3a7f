// Package limits holds the per-tenant ingestion limits: their Loki names
// and defaults (so an existing Loki limits_config block and runtime
// overrides file read unchanged) and Overrides, which serves each
// tenant's limits and takes new ones while kmlog runs.
package limits

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kubemate/kmlog/format/tenant"
)

// Limits are one tenant's ingestion limits.
type Limits struct {
	IngestionRateMB           float64  `yaml:"ingestion_rate_mb"`
	IngestionBurstSizeMB      float64  `yaml:"ingestion_burst_size_mb"`
	PerStreamRateLimit        ByteSize `yaml:"per_stream_rate_limit"`
	PerStreamRateLimitBurst   ByteSize `yaml:"per_stream_rate_limit_burst"`
	MaxGlobalStreamsPerUser   int      `yaml:"max_global_streams_per_user"`
	MaxLineSize               ByteSize `yaml:"max_line_size"`
	MaxLineSizeTruncate       bool     `yaml:"max_line_size_truncate"`
	MaxLabelNamesPerSeries    int      `yaml:"max_label_names_per_series"`
	MaxLabelNameLength        int      `yaml:"max_label_name_length"`
	MaxLabelValueLength       int      `yaml:"max_label_value_length"`
	RejectOldSamples          bool     `yaml:"reject_old_samples"`
	RejectOldSamplesMaxAge    Duration `yaml:"reject_old_samples_max_age"`
	CreationGracePeriod       Duration `yaml:"creation_grace_period"`
	MaxStructuredMetadataSize ByteSize `yaml:"max_structured_metadata_size"`
	MaxStructuredMetadataKeys int      `yaml:"max_structured_metadata_entries_count"`
}

// Default returns Loki's defaults.
func Default() Limits {
	return Limits{
		IngestionRateMB:           4,
		IngestionBurstSizeMB:      6,
		PerStreamRateLimit:        3 << 20,
		PerStreamRateLimitBurst:   15 << 20,
		MaxGlobalStreamsPerUser:   5000,
		MaxLineSize:               256 << 10,
		MaxLabelNamesPerSeries:    15,
		MaxLabelNameLength:        1024,
		MaxLabelValueLength:       2048,
		RejectOldSamples:          true,
		RejectOldSamplesMaxAge:    Duration(7 * 24 * time.Hour),
		CreationGracePeriod:       Duration(10 * time.Minute),
		MaxStructuredMetadataSize: 64 << 10,
		MaxStructuredMetadataKeys: 128,
	}
}

// Validate names the first bad field.
func (l Limits) Validate() error {
	switch {
	case l.IngestionRateMB < 0:
		return errors.New("ingestion_rate_mb: must not be negative")
	case l.IngestionBurstSizeMB < 0:
		return errors.New("ingestion_burst_size_mb: must not be negative")
	case l.PerStreamRateLimit < 0 || l.PerStreamRateLimitBurst < 0:
		return errors.New("per_stream_rate_limit: must not be negative")
	case l.MaxGlobalStreamsPerUser < 0:
		return errors.New("max_global_streams_per_user: must not be negative")
	case l.MaxLineSize < 0:
		return errors.New("max_line_size: must not be negative")
	case l.MaxLabelNamesPerSeries < 0 || l.MaxLabelNameLength < 0 || l.MaxLabelValueLength < 0:
		return errors.New("max_label_*: must not be negative")
	}
	return nil
}

// IngestionRate is the tenant's sustained rate in bytes per second; 0
// means unlimited.
func (l Limits) IngestionRate() float64 { return l.IngestionRateMB * (1 << 20) }

// IngestionBurst is the tenant's burst in bytes.
func (l Limits) IngestionBurst() int64 { return int64(l.IngestionBurstSizeMB * (1 << 20)) }

// Overrides serves each tenant's limits: the defaults, or the tenant's
// own limits when Set gave some. It is safe for concurrent use. Reading
// and reloading the overrides file is the caller's business (cmd/kmlog
// reads one file for every component's limits).
type Overrides struct {
	defaults Limits
	current  atomic.Pointer[map[tenant.ID]Limits]
}

// NewOverrides returns overrides that give every tenant defaults.
func NewOverrides(defaults Limits) (*Overrides, error) {
	if err := defaults.Validate(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	o := &Overrides{defaults: defaults}
	o.Set(nil)
	return o, nil
}

// Set replaces the per-tenant limits.
func (o *Overrides) Set(m map[tenant.ID]Limits) {
	if m == nil {
		m = map[tenant.ID]Limits{}
	}
	o.current.Store(&m)
}

// For returns a tenant's limits.
func (o *Overrides) For(t tenant.ID) Limits {
	if l, ok := (*o.current.Load())[t]; ok {
		return l
	}
	return o.defaults
}
