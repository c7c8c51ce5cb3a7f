package ship

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
)

// Config is one client, in Promtail's clients: shape.
type Config struct {
	// Name names the client in metrics and as its WAL cursor; default
	// URL. Keep it stable: a new name starts from the WAL's oldest record.
	Name string `yaml:"name"`
	// URL is the push endpoint, e.g. https://gw:3100/loki/api/v1/push.
	URL string `yaml:"url"`
	// TenantID is the X-Scope-OrgID of entries without a tenant of their
	// own.
	TenantID string `yaml:"tenant_id"`
	// BatchWait is the longest a batch waits to fill up.
	BatchWait time.Duration `yaml:"batchwait"`
	// BatchSize is the batch size in bytes (of WAL records).
	BatchSize int `yaml:"batchsize"`
	// ExternalLabels are added to every stream.
	ExternalLabels map[string]string `yaml:"external_labels"`
	// Timeout bounds one push request.
	Timeout time.Duration `yaml:"timeout"`
	// BackoffConfig paces retries.
	BackoffConfig BackoffConfig `yaml:"backoff_config"`
	// BasicAuth, BearerToken and BearerTokenFile authenticate; at most
	// one of them. Files are read at every request, so rotated tokens
	// are picked up.
	BasicAuth       *BasicAuth `yaml:"basic_auth"`
	BearerToken     string     `yaml:"bearer_token"`
	BearerTokenFile string     `yaml:"bearer_token_file"`
	// TLSConfig configures https.
	TLSConfig TLSConfig `yaml:"tls_config"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
	// DropRateLimitedBatches drops a batch answered 429 instead of
	// retrying it.
	DropRateLimitedBatches bool `yaml:"drop_rate_limited_batches"`
}

// BackoffConfig is Promtail's backoff_config.
type BackoffConfig struct {
	MinPeriod  time.Duration `yaml:"min_period"`
	MaxPeriod  time.Duration `yaml:"max_period"`
	MaxRetries int           `yaml:"max_retries"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// TLSConfig is Prometheus' tls_config.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// DefaultConfig returns Promtail's defaults.
func DefaultConfig() Config {
	return Config{
		BatchWait: time.Second,
		BatchSize: 1 << 20,
		Timeout:   10 * time.Second,
		BackoffConfig: BackoffConfig{
			MinPeriod:  500 * time.Millisecond,
			MaxPeriod:  5 * time.Minute,
			MaxRetries: 10,
		},
	}
}

// ClientName returns Name, or URL when Name is empty.
func (c Config) ClientName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.URL
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid client config")

func configErr(format string, args ...any) error {
	return fmt.Errorf("validate client config: %w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Validate checks the configuration (files are checked by New).
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || c.URL == "" {
		return configErr("url %q is not a URL", c.URL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return configErr("url %q: scheme must be http or https", c.URL)
	}
	if c.TenantID != "" {
		if _, err := tenant.Parse(c.TenantID); err != nil {
			return configErr("tenant_id: %v", err)
		}
	}
	if c.BatchWait <= 0 || c.BatchSize <= 0 || c.Timeout <= 0 {
		return configErr("batchwait, batchsize and timeout must be positive")
	}
	b := c.BackoffConfig
	if b.MinPeriod <= 0 || b.MaxPeriod < b.MinPeriod || b.MaxRetries < 0 {
		return configErr("backoff_config: want 0 < min_period <= max_period and max_retries >= 0")
	}
	for name := range c.ExternalLabels {
		if !labels.ValidName(name) {
			return configErr("external_labels: invalid label name %q", name)
		}
	}
	auths := 0
	if c.BasicAuth != nil {
		auths++
		if c.BasicAuth.Password != "" && c.BasicAuth.PasswordFile != "" {
			return configErr("basic_auth: password and password_file are exclusive")
		}
	}
	if c.BearerToken != "" {
		auths++
	}
	if c.BearerTokenFile != "" {
		auths++
	}
	if auths > 1 {
		return configErr("basic_auth, bearer_token and bearer_token_file are exclusive")
	}
	if (c.TLSConfig.CertFile == "") != (c.TLSConfig.KeyFile == "") {
		return configErr("tls_config: cert_file and key_file go together")
	}
	return nil
}

// tlsConfig builds the client TLS configuration.
func (t TLSConfig) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice
		MinVersion:         tls.VersionTLS12,
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read ca_file %s: no certificates", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
