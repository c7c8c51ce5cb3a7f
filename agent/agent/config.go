package agent

import (
	"bytes"
	"fmt"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/agent/ship"
	"github.com/kubemate/kmlog/agent/wal"
)

// ClientConfigs decodes the raw clients: entries into ship configs over
// ship.DefaultConfig, strictly (an unknown key is an error), and checks
// that their names are unique, since each name is a WAL cursor.
func ClientConfigs(cfg config.Config) ([]ship.Config, error) {
	var out []ship.Config
	seen := map[string]int{}
	for i := range cfg.Clients {
		c := ship.DefaultConfig()
		if err := decodeNode(&cfg.Clients[i], &c); err != nil {
			return nil, fmt.Errorf("clients[%d]: %w", i, err)
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("clients[%d]: %w", i, err)
		}
		if j, ok := seen[c.ClientName()]; ok {
			return nil, fmt.Errorf("clients[%d]: name %q is also clients[%d]'s: set distinct names", i, c.ClientName(), j)
		}
		seen[c.ClientName()] = i
		out = append(out, c)
	}
	return out, nil
}

// walSection is the wal: section: wal.Config's keys plus Promtail's
// "enabled", which is accepted and ignored (the WAL is always on).
type walSection struct {
	Enabled    *bool `yaml:"enabled"`
	wal.Config `yaml:",inline"`
}

// WALConfig decodes the raw wal: section over wal.DefaultConfig. Without
// a dir, the WAL lives beside the positions file, in "wal".
func WALConfig(cfg config.Config) (wal.Config, error) {
	s := walSection{Config: wal.DefaultConfig()}
	s.Dir = ""
	if !cfg.WAL.IsZero() {
		if err := decodeNode(&cfg.WAL, &s); err != nil {
			return wal.Config{}, fmt.Errorf("wal: %w", err)
		}
	}
	if s.Dir == "" {
		s.Dir = filepath.Join(filepath.Dir(cfg.Positions.Filename), "wal")
	}
	if err := s.Config.Validate(); err != nil {
		return wal.Config{}, fmt.Errorf("wal: %w", err)
	}
	return s.Config, nil
}

// decodeNode decodes n into v, rejecting unknown keys.
func decodeNode(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Errorf("re-encode: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
