package main

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
	"github.com/kubemate/kmlog/functions/compactor"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/ingestgw/limits"
)

// LimitsConfig is Loki's limits_config: the ingestion limits and the query
// limits side by side, under their Loki names. The runtime overrides file
// holds the same fields per tenant.
type LimitsConfig struct {
	Ingest    limits.Limits    `yaml:",inline"`
	Query     frontend.Limits  `yaml:",inline"`
	Retention compactor.Limits `yaml:",inline"`
}

// DefaultLimitsConfig returns Loki's defaults.
func DefaultLimitsConfig() LimitsConfig {
	return LimitsConfig{Ingest: limits.Default(), Query: frontend.DefaultLimits()}
}

// Validate names the first bad field.
func (l LimitsConfig) Validate() error {
	if err := l.Ingest.Validate(); err != nil {
		return err
	}
	if err := l.Retention.Validate(); err != nil {
		return err
	}
	return l.Query.Validate()
}

// tenantLimits serves every component's per-tenant limits from one
// overrides file (Loki's runtime config shape), reloaded when it changes:
//
//	overrides:
//	  tenant-financial:
//	    ingestion_rate_mb: 20
//	    max_query_length: 2160h
type tenantLimits struct {
	defaults LimitsConfig
	path     string
	logger   *slog.Logger
	ingest   *limits.Overrides
	query    atomic.Pointer[map[tenant.ID]frontend.Limits]
	retain   atomic.Pointer[map[tenant.ID]compactor.Limits]
	modTime  time.Time
	size     int64
}

// newTenantLimits loads the overrides file, if any. A bad file is an error
// at start, where an operator sees it.
func newTenantLimits(defaults LimitsConfig, path string, logger *slog.Logger) (*tenantLimits, error) {
	ingest, err := limits.NewOverrides(defaults.Ingest)
	if err != nil {
		return nil, err
	}
	tl := &tenantLimits{defaults: defaults, path: path, logger: logger, ingest: ingest}
	tl.query.Store(&map[tenant.ID]frontend.Limits{})
	tl.retain.Store(&map[tenant.ID]compactor.Limits{})
	if path != "" {
		if _, err := tl.reload(); err != nil {
			return nil, err
		}
	}
	return tl, nil
}

// Query returns a tenant's query limits.
func (tl *tenantLimits) Query(t tenant.ID) frontend.Limits {
	if l, ok := (*tl.query.Load())[t]; ok {
		return l
	}
	return tl.defaults.Query
}

// Retention returns a tenant's retention settings.
func (tl *tenantLimits) Retention(t tenant.ID) compactor.Limits {
	if l, ok := (*tl.retain.Load())[t]; ok {
		return l
	}
	return tl.defaults.Retention
}

// run reloads the file every period until ctx ends; a file that does not
// parse is logged and the limits in force stay.
func (tl *tenantLimits) run(ctx context.Context, period time.Duration) {
	if tl.path == "" {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := tl.reload()
		if err != nil {
			tl.logger.Error("reload overrides; keeping the limits in force", "path", tl.path, "err", err)
		} else if changed {
			tl.logger.Info("reloaded overrides", "path", tl.path)
		}
	}
}

func (tl *tenantLimits) reload() (bool, error) {
	fi, err := os.Stat(tl.path)
	if err != nil {
		return false, fmt.Errorf("stat overrides: %w", err)
	}
	if fi.ModTime().Equal(tl.modTime) && fi.Size() == tl.size {
		return false, nil
	}
	raw, err := os.ReadFile(tl.path)
	if err != nil {
		return false, fmt.Errorf("read overrides: %w", err)
	}
	m, err := parseOverrides(raw, tl.defaults)
	if err != nil {
		return false, fmt.Errorf("overrides %s: %w", tl.path, err)
	}
	ingest := make(map[tenant.ID]limits.Limits, len(m))
	query := make(map[tenant.ID]frontend.Limits, len(m))
	retain := make(map[tenant.ID]compactor.Limits, len(m))
	for t, l := range m {
		ingest[t], query[t], retain[t] = l.Ingest, l.Query, l.Retention
	}
	tl.ingest.Set(ingest)
	tl.query.Store(&query)
	tl.retain.Store(&retain)
	tl.modTime, tl.size = fi.ModTime(), fi.Size()
	return true, nil
}

// parseOverrides reads an overrides file: each tenant's fields are laid
// over defaults. Unknown fields and invalid tenant IDs are errors.
func parseOverrides(raw []byte, defaults LimitsConfig) (map[tenant.ID]LimitsConfig, error) {
	var doc struct {
		Overrides map[string]yaml.Node `yaml:"overrides"`
	}
	if err := decodeStrict(raw, &doc); err != nil {
		return nil, err
	}
	out := make(map[tenant.ID]LimitsConfig, len(doc.Overrides))
	for name, node := range doc.Overrides {
		t, err := tenant.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
		l := defaults
		b, err := yaml.Marshal(&node)
		if err != nil {
			return nil, err
		}
		// Node.Decode does not check unknown fields; a strict decoder does.
		if err := decodeStrict(b, &l); err != nil {
			return nil, fmt.Errorf("overrides for %s: %w", t, err)
		}
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("overrides for %s: %w", t, err)
		}
		out[t] = l
	}
	return out, nil
}

func decodeStrict(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
