package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/agent/relabel"
	"github.com/kubemate/kmlog/format/labels"
)

func invalid(path, format string, args ...any) error {
	return &Error{Path: path, Err: fmt.Errorf(format, args...)}
}

// Validate checks every section and compiles each job's relabel_configs
// into ScrapeConfig.Relabel. It moves a deprecated "client" entry into
// Clients. Errors are *Error values naming the key.
func (c *Config) Validate() error {
	if c.Client != nil {
		c.Clients = append(c.Clients, *c.Client)
		c.Client = nil
	}
	for _, check := range []func() error{
		c.Server.validate, c.Positions.validate, c.validateClients,
		c.TargetConfig.validate, c.LimitsConfig.validate, c.Global.validate,
		c.validateScrapeConfigs,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (s *ServerConfig) validate() error {
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("server.log_level", "unknown level %q (want debug, info, warn or error)", s.LogLevel)
	}
	switch s.LogFormat {
	case "logfmt", "json":
	default:
		return invalid("server.log_format", "unknown format %q (want logfmt or json)", s.LogFormat)
	}
	if s.HTTPListenPort < 0 || s.HTTPListenPort > 65535 {
		return invalid("server.http_listen_port", "%d is not a port", s.HTTPListenPort)
	}
	if s.GRPCListenPort < 0 || s.GRPCListenPort > 65535 {
		return invalid("server.grpc_listen_port", "%d is not a port", s.GRPCListenPort)
	}
	if s.HTTPPathPrefix != "" && !strings.HasPrefix(s.HTTPPathPrefix, "/") {
		return invalid("server.http_path_prefix", "%q must start with /", s.HTTPPathPrefix)
	}
	return nil
}

func (p *PositionsConfig) validate() error {
	if p.Filename == "" {
		return invalid("positions.filename", "must not be empty")
	}
	if p.SyncPeriod <= 0 {
		return invalid("positions.sync_period", "must be positive")
	}
	return nil
}

func (c *Config) validateClients() error {
	for i := range c.Clients {
		n := &c.Clients[i]
		path := fmt.Sprintf("clients[%d]", i)
		if n.Kind != yaml.MappingNode {
			return &Error{Path: path, Line: n.Line, Err: fmt.Errorf("expected a mapping, got %s", describe(n))}
		}
		var url string
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "url" {
				url = n.Content[j+1].Value
			}
		}
		if url == "" {
			return &Error{Path: path + ".url", Line: n.Line, Err: errors.New("must be set")}
		}
	}
	return nil
}

func (t *TargetConfig) validate() error {
	if t.SyncPeriod <= 0 {
		return invalid("target_config.sync_period", "must be positive")
	}
	return nil
}

func (l *LimitsConfig) validate() error {
	if l.ReadlineRateEnabled && l.ReadlineRate <= 0 {
		return invalid("limits_config.readline_rate", "must be positive when readline_rate_enabled is set")
	}
	if l.ReadlineRateEnabled && l.ReadlineBurst <= 0 {
		return invalid("limits_config.readline_burst", "must be positive when readline_rate_enabled is set")
	}
	if l.ReadlineRate < 0 {
		return invalid("limits_config.readline_rate", "must not be negative")
	}
	if l.ReadlineBurst < 0 {
		return invalid("limits_config.readline_burst", "must not be negative")
	}
	if l.MaxStreams < 0 {
		return invalid("limits_config.max_streams", "must not be negative")
	}
	if l.MaxLineSize < 0 {
		return invalid("limits_config.max_line_size", "must not be negative")
	}
	return nil
}

func (g *GlobalConfig) validate() error {
	f := g.FileWatchConfig
	if f.MinPollFrequency <= 0 {
		return invalid("global.file_watch_config.min_poll_frequency", "must be positive")
	}
	if f.MaxPollFrequency < f.MinPollFrequency {
		return invalid("global.file_watch_config.max_poll_frequency", "must not be less than min_poll_frequency")
	}
	return nil
}

func (c *Config) validateScrapeConfigs() error {
	jobs := make(map[string]int, len(c.ScrapeConfigs))
	for i := range c.ScrapeConfigs {
		sc := &c.ScrapeConfigs[i]
		path := fmt.Sprintf("scrape_configs[%d]", i)
		if sc.JobName == "" {
			return invalid(path+".job_name", "must be set")
		}
		if j, dup := jobs[sc.JobName]; dup {
			return invalid(path+".job_name", "%q is also the name of scrape_configs[%d]", sc.JobName, j)
		}
		jobs[sc.JobName] = i
		if err := sc.validate(path); err != nil {
			return err
		}
	}
	return nil
}

func (sc *ScrapeConfig) validate(path string) error {
	if len(sc.KubernetesSDConfigs) == 0 && len(sc.StaticConfigs) == 0 {
		return invalid(path, "job %q has no targets: set kubernetes_sd_configs or static_configs", sc.JobName)
	}
	for i := range sc.PipelineStages {
		n := &sc.PipelineStages[i]
		if n.Kind != yaml.MappingNode {
			return &Error{Path: fmt.Sprintf("%s.pipeline_stages[%d]", path, i), Line: n.Line, Err: fmt.Errorf("expected a mapping, got %s", describe(n))}
		}
	}
	sc.Relabel = sc.Relabel[:0]
	for i, rc := range sc.RelabelConfigs {
		rp := fmt.Sprintf("%s.relabel_configs[%d]", path, i)
		r, err := relabel.New(rc.Relabel())
		if err != nil {
			if fe, ok := errors.AsType[*relabel.FieldError](err); ok {
				return &Error{Path: rp + "." + fe.Field, Err: fe.Err}
			}
			return &Error{Path: rp, Err: err}
		}
		sc.Relabel = append(sc.Relabel, r)
	}
	for i := range sc.KubernetesSDConfigs {
		if err := sc.KubernetesSDConfigs[i].validate(fmt.Sprintf("%s.kubernetes_sd_configs[%d]", path, i)); err != nil {
			return err
		}
	}
	for i, st := range sc.StaticConfigs {
		sp := fmt.Sprintf("%s.static_configs[%d]", path, i)
		if len(st.Targets) == 0 {
			return invalid(sp+".targets", "must list at least one target (Promtail's examples use localhost)")
		}
		for name := range st.Labels {
			if !labels.ValidName(name) {
				return invalid(sp+".labels."+name, "%q is not a valid label name", name)
			}
		}
	}
	return nil
}

// Roles of Prometheus's Kubernetes discovery that the agent does not
// implement.
func unsupportedRole(role string) bool {
	switch role {
	case "node", "service", "endpoints", "endpointslice", "ingress":
		return true
	}
	return false
}

func (k *KubernetesSDConfig) validate(path string) error {
	switch {
	case k.Role == "":
		return invalid(path+".role", "must be set (to pod)")
	case unsupportedRole(k.Role):
		return invalid(path+".role", "role %q is not supported: the agent discovers pods only", k.Role)
	case k.Role != "pod":
		return invalid(path+".role", "unknown role %q", k.Role)
	}
	customHTTP := k.BearerToken != "" || k.BearerTokenFile != "" || k.Authorization != nil || k.BasicAuth != nil ||
		k.TLSConfig != (TLSConfig{}) || k.ProxyURL != ""
	if k.APIServer != "" && k.KubeconfigFile != "" {
		return invalid(path+".kubeconfig_file", "cannot be used together with api_server")
	}
	if k.KubeconfigFile != "" && customHTTP {
		return invalid(path+".kubeconfig_file", "cannot be used together with HTTP client settings (bearer_token, authorization, basic_auth, tls_config, proxy_url)")
	}
	if k.APIServer == "" && k.KubeconfigFile == "" && customHTTP {
		return invalid(path+".api_server", "must be set when HTTP client settings are given (in-cluster config brings its own)")
	}
	if k.APIServer != "" {
		u, err := url.Parse(k.APIServer)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return invalid(path+".api_server", "%q is not an absolute URL", k.APIServer)
		}
	}
	if k.ProxyURL != "" {
		if u, err := url.Parse(k.ProxyURL); err != nil || u.Scheme == "" || u.Host == "" {
			return invalid(path+".proxy_url", "%q is not an absolute URL", k.ProxyURL)
		}
	}
	auths := 0
	for _, set := range []bool{k.BearerToken != "" || k.BearerTokenFile != "", k.Authorization != nil, k.BasicAuth != nil} {
		if set {
			auths++
		}
	}
	if auths > 1 {
		return invalid(path, "at most one of bearer_token/bearer_token_file, authorization and basic_auth may be set")
	}
	if k.BearerToken != "" && k.BearerTokenFile != "" {
		return invalid(path+".bearer_token_file", "cannot be used together with bearer_token")
	}
	if a := k.Authorization; a != nil {
		if a.Credentials != "" && a.CredentialsFile != "" {
			return invalid(path+".authorization.credentials_file", "cannot be used together with credentials")
		}
		if strings.EqualFold(a.Type, "basic") {
			return invalid(path+".authorization.type", "use basic_auth instead of authorization type Basic")
		}
	}
	if b := k.BasicAuth; b != nil && b.Password != "" && b.PasswordFile != "" {
		return invalid(path+".basic_auth.password_file", "cannot be used together with password")
	}
	if (k.TLSConfig.CertFile == "") != (k.TLSConfig.KeyFile == "") {
		return invalid(path+".tls_config", "cert_file and key_file must be set together")
	}
	for i, ns := range k.Namespaces.Names {
		if ns == "" {
			return invalid(fmt.Sprintf("%s.namespaces.names[%d]", path, i), "must not be empty")
		}
	}
	for i, s := range k.Selectors {
		sp := fmt.Sprintf("%s.selectors[%d]", path, i)
		switch {
		case s.Role == "":
			return invalid(sp+".role", "must be set (to pod)")
		case s.Role != "pod":
			return invalid(sp+".role", "role %q: a pod discovery takes only pod selectors", s.Role)
		case i > 0:
			return invalid(sp+".role", "selector role %q repeats", s.Role)
		}
	}
	return nil
}
