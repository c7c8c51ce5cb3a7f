// Package config reads the node agent's configuration: Promtail's YAML
// file format (server, positions, clients, scrape_configs with
// kubernetes_sd_configs, static_configs, relabel_configs and
// pipeline_stages, limits_config, target_config, global), so that an
// existing Promtail config, such as the one the Grafana Helm chart
// renders, loads unchanged.
//
// Decoding is strict: an unknown key, a value of the wrong type or an
// invalid value is an error whose text starts with the key's path, such
// as "scrape_configs[0].relabel_configs[2].action: unknown relabel action
// \"foo\"". Keys Promtail accepts for features this agent does not have
// (journal, syslog, file_sd_configs, ...) are errors saying so.
//
// The sections other packages own stay raw YAML here: clients (agent/ship
// decodes them), pipeline_stages (agent/pipeline builds them) and wal
// (agent/wal), so this package depends on none of them.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/agent/relabel"
)

// ErrInvalid is wrapped by every error from Parse, Load and Validate.
var ErrInvalid = errors.New("invalid agent config")

// Error is a configuration error at Path (a dotted key path with list
// indexes), on Line of the YAML text when known.
type Error struct {
	Path string
	Line int
	Err  error
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// Config is the agent's whole configuration file.
type Config struct {
	Server    ServerConfig    `yaml:"server"`
	Positions PositionsConfig `yaml:"positions"`
	// Clients are Promtail's clients entries (url, tenant_id,
	// batchwait, ...), kept raw for agent/ship. The deprecated
	// single-client key "client" is appended here.
	Clients       []yaml.Node    `yaml:"clients"`
	Client        *yaml.Node     `yaml:"client"`
	ScrapeConfigs []ScrapeConfig `yaml:"scrape_configs"`
	TargetConfig  TargetConfig   `yaml:"target_config"`
	LimitsConfig  LimitsConfig   `yaml:"limits_config"`
	Global        GlobalConfig   `yaml:"global"`
	Tracing       TracingConfig  `yaml:"tracing"`
	Options       OptionsConfig  `yaml:"options"`
	// WAL is Promtail's wal section, kept raw for agent/wal.
	WAL yaml.Node `yaml:"wal"`
}

// ServerConfig is the agent's own HTTP server (metrics, readiness,
// targets). The gRPC keys are accepted for compatibility and unused.
type ServerConfig struct {
	HTTPListenAddress       string   `yaml:"http_listen_address"`
	HTTPListenPort          int      `yaml:"http_listen_port"`
	GRPCListenAddress       string   `yaml:"grpc_listen_address"`
	GRPCListenPort          int      `yaml:"grpc_listen_port"`
	LogLevel                string   `yaml:"log_level"`
	LogFormat               string   `yaml:"log_format"`
	HTTPPathPrefix          string   `yaml:"http_path_prefix"`
	RegisterInstrumentation *bool    `yaml:"register_instrumentation"`
	GracefulShutdownTimeout Duration `yaml:"graceful_shutdown_timeout"`
	HTTPServerReadTimeout   Duration `yaml:"http_server_read_timeout"`
	HTTPServerWriteTimeout  Duration `yaml:"http_server_write_timeout"`
	HTTPServerIdleTimeout   Duration `yaml:"http_server_idle_timeout"`
	GRPCServerMaxRecvMsg    int      `yaml:"grpc_server_max_recv_msg_size"`
	GRPCServerMaxSendMsg    int      `yaml:"grpc_server_max_send_msg_size"`
	GRPCServerMaxStreams    int      `yaml:"grpc_server_max_concurrent_streams"`
	Disable                 bool     `yaml:"disable"`
	EnableRuntimeReload     bool     `yaml:"enable_runtime_reload"`
	HealthCheckTarget       *bool    `yaml:"health_check_target"`
	ProfilingEnabled        bool     `yaml:"profiling_enabled"`
	ExternalURL             string   `yaml:"external_url"`
}

// PositionsConfig is where the read offsets of tailed files are kept.
type PositionsConfig struct {
	Filename          string   `yaml:"filename"`
	SyncPeriod        Duration `yaml:"sync_period"`
	IgnoreInvalidYAML bool     `yaml:"ignore_invalid_yaml"`
	ReadOnly          bool     `yaml:"readonly"`
}

// TargetConfig controls file discovery.
type TargetConfig struct {
	// SyncPeriod is how often __path__ globs are expanded again to find
	// new and removed files.
	SyncPeriod Duration `yaml:"sync_period"`
}

// LimitsConfig are the agent-wide read limits.
type LimitsConfig struct {
	ReadlineRate        float64  `yaml:"readline_rate"`
	ReadlineBurst       int      `yaml:"readline_burst"`
	ReadlineRateEnabled bool     `yaml:"readline_rate_enabled"`
	ReadlineRateDrop    bool     `yaml:"readline_rate_drop"`
	MaxStreams          int      `yaml:"max_streams"`
	MaxLineSize         ByteSize `yaml:"max_line_size"`
	MaxLineSizeTruncate bool     `yaml:"max_line_size_truncate"`
}

// GlobalConfig holds settings shared by all targets.
type GlobalConfig struct {
	FileWatchConfig FileWatchConfig `yaml:"file_watch_config"`
}

// FileWatchConfig bounds how often a tailed file is polled for changes.
type FileWatchConfig struct {
	MinPollFrequency Duration `yaml:"min_poll_frequency"`
	MaxPollFrequency Duration `yaml:"max_poll_frequency"`
}

// TracingConfig is accepted for compatibility; tracing is not exported.
type TracingConfig struct {
	Enabled bool `yaml:"enabled"`
}

// OptionsConfig is Promtail's options section.
type OptionsConfig struct {
	// StreamLagLabels is deprecated in Promtail and ignored.
	StreamLagLabels []string `yaml:"stream_lag_labels"`
}

// ScrapeConfig is one job: where its targets come from, how their labels
// are rewritten, and the pipeline their lines go through.
type ScrapeConfig struct {
	JobName string `yaml:"job_name"`
	// PipelineStages is the raw pipeline_stages list; agent/pipeline
	// builds it.
	PipelineStages      []yaml.Node          `yaml:"pipeline_stages"`
	KubernetesSDConfigs []KubernetesSDConfig `yaml:"kubernetes_sd_configs"`
	StaticConfigs       []StaticConfig       `yaml:"static_configs"`
	RelabelConfigs      []RelabelConfig      `yaml:"relabel_configs"`
	// Encoding is the files' character encoding (IANA name); empty
	// means UTF-8. The tailer interprets it.
	Encoding string `yaml:"encoding"`

	// Relabel holds RelabelConfigs compiled by Validate.
	Relabel []*relabel.Rule `yaml:"-"`
}

// unsupportedKey names the scrape_config keys of Promtail that this
// agent does not implement.
func (ScrapeConfig) unsupportedKey(key string) (string, bool) {
	switch key {
	case "journal", "syslog", "gcplog", "loki_push_api", "windows_events", "kafka",
		"gelf", "cloudflare", "heroku_drain", "azure_event_hubs", "docker_sd_configs":
		return "the agent only tails files found by kubernetes_sd_configs or static_configs", true
	case "file_sd_configs", "consul_sd_configs", "consulagent_sd_configs", "dns_sd_configs",
		"ec2_sd_configs", "azure_sd_configs", "gce_sd_configs", "openstack_sd_configs",
		"serverset_sd_configs", "nerve_sd_configs", "marathon_sd_configs", "triton_sd_configs",
		"digitalocean_sd_configs", "eureka_sd_configs", "hetzner_sd_configs", "http_sd_configs":
		return "the only service discovery is kubernetes_sd_configs (role pod) plus static_configs", true
	case "decompression":
		return "compressed files are not read", true
	}
	return "", false
}

// KubernetesSDConfig is a kubernetes_sd_configs entry. Only role pod is
// supported; the agent always restricts it to the pods of its own node.
type KubernetesSDConfig struct {
	Role            string               `yaml:"role"`
	APIServer       string               `yaml:"api_server"`
	KubeconfigFile  string               `yaml:"kubeconfig_file"`
	Namespaces      NamespaceDiscovery   `yaml:"namespaces"`
	Selectors       []SelectorConfig     `yaml:"selectors"`
	AttachMetadata  AttachMetadata       `yaml:"attach_metadata"`
	BearerToken     string               `yaml:"bearer_token"`
	BearerTokenFile string               `yaml:"bearer_token_file"`
	Authorization   *AuthorizationConfig `yaml:"authorization"`
	BasicAuth       *BasicAuthConfig     `yaml:"basic_auth"`
	TLSConfig       TLSConfig            `yaml:"tls_config"`
	ProxyURL        string               `yaml:"proxy_url"`
	FollowRedirects *bool                `yaml:"follow_redirects"`
	EnableHTTP2     *bool                `yaml:"enable_http2"`
}

// NamespaceDiscovery restricts discovery to some namespaces; empty means
// all.
type NamespaceDiscovery struct {
	Names []string `yaml:"names"`
	// OwnNamespace adds the agent's own namespace (from its service
	// account) to Names.
	OwnNamespace bool `yaml:"own_namespace"`
}

// SelectorConfig narrows discovery with Kubernetes label and field
// selectors.
type SelectorConfig struct {
	Role  string `yaml:"role"`
	Label string `yaml:"label"`
	Field string `yaml:"field"`
}

// AttachMetadata is accepted for compatibility; node metadata is not
// attached.
type AttachMetadata struct {
	Node bool `yaml:"node"`
}

// AuthorizationConfig is an Authorization header for the API server.
type AuthorizationConfig struct {
	Type            string `yaml:"type"`
	Credentials     string `yaml:"credentials"`
	CredentialsFile string `yaml:"credentials_file"`
}

// BasicAuthConfig is HTTP basic authentication for the API server.
type BasicAuthConfig struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// TLSConfig configures TLS to the API server.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// StaticConfig is a fixed target group: files named by the __path__
// label (a glob) with the given labels.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// RelabelConfig is a relabel_configs entry as written; unset fields take
// Prometheus's defaults (see relabel.DefaultConfig).
type RelabelConfig struct {
	SourceLabels []string `yaml:"source_labels"`
	Separator    *string  `yaml:"separator"`
	Regex        *string  `yaml:"regex"`
	Modulus      uint64   `yaml:"modulus"`
	TargetLabel  string   `yaml:"target_label"`
	Replacement  *string  `yaml:"replacement"`
	Action       string   `yaml:"action"`
}

// Relabel returns the rule with defaults filled in.
func (r RelabelConfig) Relabel() relabel.Config {
	c := relabel.DefaultConfig()
	c.SourceLabels = r.SourceLabels
	if r.Separator != nil {
		c.Separator = *r.Separator
	}
	if r.Regex != nil {
		c.Regex = *r.Regex
	}
	c.Modulus = r.Modulus
	c.TargetLabel = r.TargetLabel
	if r.Replacement != nil {
		c.Replacement = *r.Replacement
	}
	if r.Action != "" {
		c.Action = relabel.Action(r.Action)
	}
	return c
}

// DefaultConfig returns the defaults Promtail uses for every key a file
// leaves out.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{
			HTTPListenPort:          9080,
			GRPCListenPort:          9095,
			LogLevel:                "info",
			LogFormat:               "logfmt",
			GracefulShutdownTimeout: Duration(30 * time.Second),
			HTTPServerReadTimeout:   Duration(30 * time.Second),
			HTTPServerWriteTimeout:  Duration(30 * time.Second),
			HTTPServerIdleTimeout:   Duration(120 * time.Second),
		},
		Positions: PositionsConfig{
			Filename:   "/var/log/positions.yaml",
			SyncPeriod: Duration(10 * time.Second),
		},
		TargetConfig: TargetConfig{SyncPeriod: Duration(10 * time.Second)},
		LimitsConfig: LimitsConfig{
			ReadlineRate:     10000,
			ReadlineBurst:    10000,
			ReadlineRateDrop: true,
		},
		Global: GlobalConfig{FileWatchConfig: FileWatchConfig{
			MinPollFrequency: Duration(250 * time.Millisecond),
			MaxPollFrequency: Duration(250 * time.Millisecond),
		}},
	}
}

// Load reads and parses the file at path; see Parse.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read agent config: %w", err)
	}
	cfg, err := Parse(data, lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return cfg, nil
}

// maxConfigSize bounds the input Parse accepts.
const maxConfigSize = 16 << 20

// Parse decodes a config file over DefaultConfig and validates it. When
// lookupEnv is not nil, ${VAR} and ${VAR:-default} are first expanded
// with it (Promtail's -config.expand-env); nil leaves the text as is.
// An empty document yields the defaults (with no scrape configs).
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &Error{Err: fmt.Errorf("config is %d bytes, more than %d", len(data), maxConfigSize)}
	}
	if lookupEnv != nil {
		s, err := ExpandEnv(string(data), lookupEnv)
		if err != nil {
			return nil, &Error{Err: err}
		}
		data = []byte(s)
	}
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &cfg, cfg.Validate()
		}
		return nil, &Error{Err: fmt.Errorf("parse YAML: %w", err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{Line: extra.Line, Err: errors.New("more than one YAML document")}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if err := decodeStrict(root, &cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}
