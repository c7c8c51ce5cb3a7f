package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Config is the server config file. Every field has a default, so an empty
// file (or none) is a valid config.
type Config struct {
	Server ServerConfig `yaml:"server"`
	Log    LogConfig    `yaml:"log"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	HTTPListenAddress string `yaml:"http_listen_address"`
}

// LogConfig is the process's own logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// DefaultConfig is the all-in-one config on a local directory.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{HTTPListenAddress: "127.0.0.1:3100"},
		Log:    LogConfig{Level: "info", Format: "text"},
	}
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Server.HTTPListenAddress); err != nil {
		return fmt.Errorf("server.http_listen_address %q: %w", c.Server.HTTPListenAddress, err)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	return nil
}

// loadConfig reads path (when not empty) over the defaults. Unknown keys
// are errors, so a typo never silently falls back to a default.
func loadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := parseConfig(raw, os.LookupEnv, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig expands ${VAR} and ${VAR:-default} and decodes strictly.
func parseConfig(raw []byte, lookup func(string) (string, bool), cfg *Config) error {
	expanded, err := expandEnv(raw, lookup)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	// An empty document decodes to io.EOF: the defaults stand.
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default}. An unset variable without
// a default is an error naming it.
func expandEnv(raw []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := envRef.FindSubmatch(m)
		name := string(sub[1])
		if v, ok := lookup(name); ok {
			return []byte(v)
		}
		if len(sub[2]) > 0 {
			return sub[3]
		}
		missing = append(missing, name)
		return m
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", missing[0], missing[0])
	}
	return out, nil
}
