package gateway

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config configures the gateway: listener, TLS, authentication and limits.
type Config struct {
	TLS  TLSConfig  `yaml:"tls"`
	Auth AuthConfig `yaml:"auth"`
	// FrontendURL is the query frontend the gateway forwards every
	// non-push request to (target gateway; see Forward). Empty: those
	// paths answer 404.
	FrontendURL string `yaml:"frontend_url"`
	// MaxRequestBodyBytes bounds every request body (413 above it).
	MaxRequestBodyBytes int64 `yaml:"max_request_body_bytes"`
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long Serve waits for in-flight requests once
	// its context ends, before closing the remaining connections.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// TLSConfig enables TLS when CertFile and KeyFile are set. The files are
// re-read when they change, so a renewed certificate needs no restart.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, requires every client to present a
	// certificate signed by one of these CAs (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file"`
	// MinVersion is "1.2" (the default) or "1.3".
	MinVersion string `yaml:"min_version"`
}

// Enabled reports whether TLS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" }

// AuthConfig configures JWT authentication. At least one key source must be
// set when Enabled is true.
type AuthConfig struct {
	Enabled bool `yaml:"enabled"`
	// HS256Secret or HS256SecretFile holds the HS256 shared secret, at least
	// 32 bytes. A trailing newline in the file is ignored.
	HS256Secret     string `yaml:"hs256_secret"`
	HS256SecretFile string `yaml:"hs256_secret_file"`
	// JWKSFile and JWKSURL hold public keys as a JWKS document (RFC 7517).
	JWKSFile string `yaml:"jwks_file"`
	JWKSURL  string `yaml:"jwks_url"`
	// JWKSRefresh is how often keys from JWKSURL are refetched.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// TenantClaim names the claim holding the tenant ID. A name that is not
	// a top-level claim is looked up as a dotted path into nested objects:
	// "kubemate.tenant" reads {"kubemate": {"tenant": "…"}}.
	TenantClaim string `yaml:"tenant_claim"`
	// Leeway tolerates clock skew when checking exp and nbf.
	Leeway time.Duration `yaml:"leeway"`
}

// MinHS256SecretBytes is the shortest HS256 secret accepted (RFC 7518 §3.2).
const MinHS256SecretBytes = 32

// DefaultConfig returns the defaults: cleartext, auth off, 16 MiB bodies.
func DefaultConfig() Config {
	return Config{
		TLS:                 TLSConfig{MinVersion: "1.2"},
		MaxRequestBodyBytes: 16 << 20,
		ReadHeaderTimeout:   10 * time.Second,
		IdleTimeout:         2 * time.Minute,
		ShutdownTimeout:     30 * time.Second,
		Auth: AuthConfig{
			JWKSRefresh: 5 * time.Minute,
			TenantClaim: "tenant",
			Leeway:      30 * time.Second,
		},
	}
}

// Validate reports the first invalid field, named by its yaml path.
func (c Config) Validate() error {
	if c.MaxRequestBodyBytes <= 0 {
		return invalid("max_request_body_bytes", "must be positive, got %d", c.MaxRequestBodyBytes)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout},
		{"idle_timeout", c.IdleTimeout},
		{"shutdown_timeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			return invalid(d.name, "must not be negative, got %s", d.v)
		}
	}
	if c.FrontendURL != "" {
		u, err := url.Parse(c.FrontendURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid("frontend_url", "want an http or https URL, got %q", c.FrontendURL)
		}
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	return c.Auth.validate()
}

func (c TLSConfig) validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return invalid("tls.cert_file", "cert_file and key_file must be set together")
	}
	if c.ClientCAFile != "" && c.CertFile == "" {
		return invalid("tls.client_ca_file", "needs tls.cert_file and tls.key_file")
	}
	if _, err := tlsVersion(c.MinVersion); err != nil {
		return invalid("tls.min_version", "%v", err)
	}
	return nil
}

func tlsVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("want \"1.2\" or \"1.3\", got %q", s)
}

func (c AuthConfig) validate() error {
	if c.HS256Secret != "" && c.HS256SecretFile != "" {
		return invalid("auth.hs256_secret", "set hs256_secret or hs256_secret_file, not both")
	}
	if c.HS256Secret != "" && len(c.HS256Secret) < MinHS256SecretBytes {
		return invalid("auth.hs256_secret", "must be at least %d bytes, got %d", MinHS256SecretBytes, len(c.HS256Secret))
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid("auth.jwks_url", "want an http or https URL, got %q", c.JWKSURL)
		}
		if c.JWKSRefresh <= 0 {
			return invalid("auth.jwks_refresh", "must be positive, got %s", c.JWKSRefresh)
		}
	}
	if c.Leeway < 0 {
		return invalid("auth.leeway", "must not be negative, got %s", c.Leeway)
	}
	if !c.Enabled {
		return nil
	}
	if c.HS256Secret == "" && c.HS256SecretFile == "" && c.JWKSFile == "" && c.JWKSURL == "" {
		return invalid("auth", "enabled without hs256_secret, hs256_secret_file, jwks_file or jwks_url")
	}
	if c.TenantClaim == "" || strings.HasPrefix(c.TenantClaim, ".") || strings.HasSuffix(c.TenantClaim, ".") || strings.Contains(c.TenantClaim, "..") {
		return invalid("auth.tenant_claim", "want a claim name or dotted path, got %q", c.TenantClaim)
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}
