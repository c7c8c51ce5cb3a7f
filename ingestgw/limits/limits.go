// Package limits holds the per-tenant ingestion limits and the overrides
// file that changes them per tenant while kmlog runs.
//
// Field names and defaults follow Loki's limits_config, so an existing
// Loki limits block and runtime overrides file read unchanged (unknown
// fields are errors). The overrides file has Loki's shape:
//
//	overrides:
//	  tenant-financial:
//	    ingestion_rate_mb: 20
//	    max_global_streams_per_user: 20000
//
// A tenant's limits are the defaults with that tenant's fields laid over
// them. Overrides.Run reloads the file when it changes; a file that does
// not parse is logged and the previous limits stay in force.
package limits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

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

// Overrides serves each tenant's limits: the defaults, with the overrides
// file laid over them. It is safe for concurrent use.
type Overrides struct {
	defaults Limits
	path     string
	logger   *slog.Logger
	current  atomic.Pointer[map[tenant.ID]Limits]
	modTime  time.Time
	size     int64
}

// NewOverrides loads path (when not empty) over defaults. A bad file is an
// error here, at start, where an operator sees it.
func NewOverrides(defaults Limits, path string, logger *slog.Logger) (*Overrides, error) {
	if err := defaults.Validate(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	o := &Overrides{defaults: defaults, path: path, logger: logger}
	empty := map[tenant.ID]Limits{}
	o.current.Store(&empty)
	if path != "" {
		if _, err := o.reload(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// For returns a tenant's limits.
func (o *Overrides) For(t tenant.ID) Limits {
	if l, ok := (*o.current.Load())[t]; ok {
		return l
	}
	return o.defaults
}

// Run reloads the overrides file every interval when its size or time
// changed, until ctx ends.
func (o *Overrides) Run(ctx context.Context, interval time.Duration) {
	if o.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := o.reload()
		if err != nil {
			o.logger.Error("reload limits overrides; keeping the previous ones", "path", o.path, "err", err)
		} else if changed {
			o.logger.Info("reloaded limits overrides", "path", o.path)
		}
	}
}

func (o *Overrides) reload() (bool, error) {
	fi, err := os.Stat(o.path)
	if err != nil {
		return false, fmt.Errorf("stat overrides: %w", err)
	}
	if fi.ModTime().Equal(o.modTime) && fi.Size() == o.size {
		return false, nil
	}
	raw, err := os.ReadFile(o.path)
	if err != nil {
		return false, fmt.Errorf("read overrides: %w", err)
	}
	m, err := ParseOverrides(raw, o.defaults)
	if err != nil {
		return false, fmt.Errorf("overrides %s: %w", o.path, err)
	}
	o.current.Store(&m)
	o.modTime, o.size = fi.ModTime(), fi.Size()
	return true, nil
}

// ParseOverrides reads an overrides file: each tenant's fields are laid
// over defaults. Unknown fields and invalid tenant IDs are errors.
func ParseOverrides(raw []byte, defaults Limits) (map[tenant.ID]Limits, error) {
	var doc struct {
		Overrides map[string]yaml.Node `yaml:"overrides"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := make(map[tenant.ID]Limits, len(doc.Overrides))
	for name, node := range doc.Overrides {
		t, err := tenant.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
		l := defaults
		if err := decodeStrict(&node, &l); err != nil {
			return nil, fmt.Errorf("overrides for %s: %w", t, err)
		}
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("overrides for %s: %w", t, err)
		}
		out[t] = l
	}
	return out, nil
}

// decodeStrict decodes a node rejecting unknown fields (Node.Decode alone
// does not check them).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
