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
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/console"
	"github.com/kubemate/kmlog/format/bucket/s3"
	"github.com/kubemate/kmlog/format/tenant"
	"github.com/kubemate/kmlog/functions/compactor"
	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/querier"
	"github.com/kubemate/kmlog/ingestgw/distributor"
	"github.com/kubemate/kmlog/ingestgw/gateway"
	"github.com/kubemate/kmlog/ingestgw/ingester"
)

// Config is the server config file. Every field has a default, so an empty
// file (or none) is a valid config: all roles in one process on ./data.
type Config struct {
	Target        string             `yaml:"target"`
	Server        ServerConfig       `yaml:"server"`
	Log           LogConfig          `yaml:"log"`
	Storage       StorageConfig      `yaml:"storage"`
	Gateway       gateway.Config     `yaml:"gateway"`
	Distributor   distributor.Config `yaml:"distributor"`
	Ingester      IngesterConfig     `yaml:"ingester"`
	Ring          RingConfig         `yaml:"ring"`
	Querier       querier.Config     `yaml:"querier"`
	Frontend      FrontendConfig     `yaml:"frontend"`
	Compactor     compactor.Config   `yaml:"compactor"`
	Limits        LimitsConfig       `yaml:"limits_config"`
	RuntimeConfig RuntimeConfig      `yaml:"runtime_config"`
	Demo          DemoConfig         `yaml:"demo"`
	Ruler         RulerConfig        `yaml:"ruler"`
	Console       console.Config     `yaml:"console"`
}

// ServerConfig is the HTTP listener of every role.
type ServerConfig struct {
	HTTPListenAddress string `yaml:"http_listen_address"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (debug.SetMemoryLimit): the collector runs more often as the heap
	// nears it, so the resident size stays near the live heap instead of
	// twice it. 0 derives it for the targets that run an ingester:
	// max_head_bytes plus 64 MiB, plus frontend.cache_size_bytes for all;
	// none for the others; a negative value sets none. GOMEMLIMIT, when set, wins.
	MemoryLimit int64 `yaml:"memory_limit"`
}

// memoryLimitHeadroom is what a process running an ingester is allowed
// beyond its heads: the upload of a head (Parquet pages, zstd encoders),
// the WAL, query caches and push bodies in flight.
const memoryLimitHeadroom = 64 << 20

// memoryLimit is the soft memory limit cfg asks for, or 0 for none.
func memoryLimit(cfg Config) int64 {
	switch {
	case cfg.Server.MemoryLimit > 0:
		return cfg.Server.MemoryLimit
	case cfg.Server.MemoryLimit < 0:
		return 0
	case cfg.Target == "all":
		// The query frontend's results cache lives here too.
		return cfg.Ingester.MaxHeadBytes + max(cfg.Frontend.CacheSizeBytes, 0) + memoryLimitHeadroom
	case cfg.Target == "ingester":
		return cfg.Ingester.MaxHeadBytes + memoryLimitHeadroom
	}
	return 0
}

// LogConfig is the process's own logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// StorageConfig picks the bucket.
type StorageConfig struct {
	Backend string    `yaml:"backend"` // "dir" or "s3"
	Dir     string    `yaml:"dir"`     // for "dir"
	S3      s3.Config `yaml:"s3"`      // for "s3"
}

// IngesterConfig is the ingester (with its WAL).
type IngesterConfig struct {
	ingester.Config `yaml:",inline"`
	// MaxRecvMsgSize caps a push body on the ingester's internal endpoint.
	MaxRecvMsgSize int64 `yaml:"max_recv_msg_size"`
}

// FrontendConfig is the query frontend. Its per-tenant limits come from
// limits_config and the overrides file.
type FrontendConfig struct {
	CacheSizeBytes   int64         `yaml:"cache_size_bytes"`
	TailPollInterval time.Duration `yaml:"tail_poll_interval"`
	TailMaxDuration  time.Duration `yaml:"tail_max_duration"`
	// QuerierURL is where target frontend sends shards (a querier's
	// Knative Service or function URL).
	QuerierURL string `yaml:"querier_url"`
}

// RingConfig says where the ingesters are: a static list of host:port, or
// the SRV name of a headless service. With both, the SRV records replace
// the list once they answer; an ingester is one member however it is spelt.
type RingConfig struct {
	Members []string      `yaml:"members"`
	SRV     string        `yaml:"srv"`
	Refresh time.Duration `yaml:"refresh"`
	// DNSServer, when set ("host:port"), answers the SRV lookups instead
	// of the system resolver (a cluster DNS reached directly, or a test's).
	DNSServer string `yaml:"dns_server"`
	// ProbeInterval is how often the gateway asks each ingester's /ready
	// (and how long it waits): its own readiness needs a quorum up.
	ProbeInterval time.Duration `yaml:"probe_interval"`
}

// RuntimeConfig is the reloadable per-tenant overrides file.
type RuntimeConfig struct {
	File   string        `yaml:"file"`
	Period time.Duration `yaml:"period"`
}

// DefaultConfig is the all-in-one config on a local directory.
func DefaultConfig() Config {
	ing := IngesterConfig{Config: ingester.DefaultConfig(), MaxRecvMsgSize: 100 << 20}
	ing.WAL.Dir = "data/wal"
	// One small process: heads are flushed at 16 MiB of raw lines (about
	// 45,000 lines; the compactor merges the small files) and bound to
	// 128 MiB, so that with the soft memory limit derived from it
	// (server.memory_limit, 208 MiB with the 16 MiB results cache) the
	// process stays near 200 MiB resident.
	ing.FlushSize = 16 << 20
	ing.MaxHeadBytes = 128 << 20
	gw := gateway.DefaultConfig()
	return Config{
		Target:        "all",
		Server:        ServerConfig{HTTPListenAddress: "127.0.0.1:3100"},
		Log:           LogConfig{Level: "info", Format: "text"},
		Storage:       StorageConfig{Backend: "dir", Dir: "data/objects", S3: s3.DefaultConfig()},
		Gateway:       gw,
		Distributor:   distributor.DefaultConfig(),
		Ingester:      ing,
		Ring:          RingConfig{Refresh: 15 * time.Second, ProbeInterval: 5 * time.Second},
		Querier:       querier.DefaultConfig(),
		Frontend:      defaultFrontendConfig(),
		Compactor:     compactor.DefaultConfig(),
		Limits:        DefaultLimitsConfig(),
		RuntimeConfig: RuntimeConfig{Period: 10 * time.Second},
		Demo:          DemoConfig{Tenant: string(tenant.Fake), Rate: 20, Backfill: 3 * time.Hour},
		Ruler:         defaultRulerConfig(),
		Console:       console.DefaultConfig(),
	}
}

func defaultFrontendConfig() FrontendConfig {
	d := frontend.DefaultConfig()
	// 16 MiB, not the package's 256 MiB: the all-in-one process is small
	// and its soft memory limit counts the cache (server.memory_limit).
	return FrontendConfig{CacheSizeBytes: 16 << 20, TailPollInterval: d.TailPollInterval, TailMaxDuration: d.TailMaxDuration}
}

// targets are the roles kmlog can run.
var targets = []string{"all", "gateway", "ingester", "querier", "frontend", "compactor", "ruler"}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	ok := false
	for _, t := range targets {
		ok = ok || c.Target == t
	}
	if !ok {
		return fmt.Errorf("target %q: want one of %v", c.Target, targets)
	}
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
	switch c.Storage.Backend {
	case "dir":
		if c.Storage.Dir == "" {
			return errors.New("storage.dir: must be set with backend dir")
		}
	case "s3":
		if err := c.Storage.S3.Validate(); err != nil {
			return fmt.Errorf("storage.s3: %w", err)
		}
	default:
		return fmt.Errorf("storage.backend %q: want dir or s3", c.Storage.Backend)
	}
	gw := c.Gateway
	if c.Target != "all" && c.Target != "gateway" && c.Target != "frontend" {
		// One config file serves every role; only these verify tokens,
		// so only they need (and are given) a key source.
		gw.Auth.Enabled = false
	}
	if err := gw.Validate(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := c.Distributor.Validate(); err != nil {
		return fmt.Errorf("distributor: %w", err)
	}
	if err := c.Ingester.Config.Validate(); err != nil {
		return fmt.Errorf("ingester: %w", err)
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("limits_config: %w", err)
	}
	if c.Demo.Enabled {
		if c.Target != "all" {
			return errors.New("demo.enabled: demo data is for target all")
		}
		if _, err := tenant.Parse(c.Demo.Tenant); err != nil {
			return fmt.Errorf("demo.tenant: %w", err)
		}
		if c.Demo.Rate <= 0 || c.Demo.Rate > 100000 {
			return fmt.Errorf("demo.rate %v: want 0 < rate <= 100000", c.Demo.Rate)
		}
		if c.Demo.Backfill < 0 || c.Demo.Backfill > 7*24*time.Hour {
			return fmt.Errorf("demo.backfill %s: want 0 to 168h", c.Demo.Backfill)
		}
	}
	if err := c.Querier.Validate(); err != nil {
		return fmt.Errorf("querier: %w", err)
	}
	if err := c.Compactor.Validate(); err != nil {
		return fmt.Errorf("compactor: %w", err)
	}
	if err := c.Ruler.Validate(); err != nil {
		return err
	}
	if c.Target == "ruler" && c.Frontend.QuerierURL == "" {
		return errors.New("frontend.querier_url: target ruler needs a querier URL")
	}
	if err := c.Console.Validate(); err != nil {
		return err
	}
	if c.Target == "frontend" && c.Frontend.QuerierURL == "" {
		return errors.New("frontend.querier_url: target frontend needs a querier URL")
	}
	if c.Ring.Refresh <= 0 || c.Ring.ProbeInterval <= 0 {
		return fmt.Errorf("ring: refresh %s and probe_interval %s must be positive", c.Ring.Refresh, c.Ring.ProbeInterval)
	}
	if c.Ring.DNSServer != "" {
		if _, _, err := net.SplitHostPort(c.Ring.DNSServer); err != nil {
			return fmt.Errorf("ring.dns_server %q: %w", c.Ring.DNSServer, err)
		}
	}
	if c.Target == "gateway" && len(c.Ring.Members) == 0 && c.Ring.SRV == "" {
		return errors.New("ring: target gateway needs ring.members or ring.srv")
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
