package config

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/agent/relabel"
	"github.com/kubemate/kmlog/format/labels"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadHelmDefault(t *testing.T) {
	cfg, err := Load("testdata/helm-default.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.HTTPListenPort != 3101 || cfg.Server.LogLevel != "info" || cfg.Server.LogFormat != "logfmt" {
		t.Errorf("server %+v", cfg.Server)
	}
	if cfg.Positions.Filename != "/run/promtail/positions.yaml" || cfg.Positions.SyncPeriod != Duration(10*time.Second) {
		t.Errorf("positions %+v", cfg.Positions)
	}
	if len(cfg.Clients) != 1 || cfg.Clients[0].Content[1].Value != "http://loki-gateway/loki/api/v1/push" {
		t.Errorf("clients %+v", cfg.Clients)
	}
	// An empty limits_config keeps the defaults.
	if cfg.LimitsConfig != DefaultConfig().LimitsConfig {
		t.Errorf("limits %+v", cfg.LimitsConfig)
	}
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("%d scrape configs", len(cfg.ScrapeConfigs))
	}
	sc := cfg.ScrapeConfigs[0]
	if sc.JobName != "kubernetes-pods" || len(sc.KubernetesSDConfigs) != 1 || sc.KubernetesSDConfigs[0].Role != "pod" {
		t.Errorf("job %+v", sc)
	}
	if len(sc.PipelineStages) != 1 || sc.PipelineStages[0].Content[0].Value != "cri" {
		t.Errorf("pipeline_stages %+v", sc.PipelineStages)
	}
	if len(sc.Relabel) != 11 || len(sc.RelabelConfigs) != 11 {
		t.Fatalf("%d relabel rules", len(sc.Relabel))
	}
	// The chart's rules applied to a Deployment's pod, as Promtail would.
	in := labels.FromStrings(
		"__meta_kubernetes_namespace", "prod",
		"__meta_kubernetes_pod_name", "trading-service-7d4b9c8f6d-x2x9q",
		"__meta_kubernetes_pod_uid", "0b1c7a52-8d1e-4c59-9a50-3f6a2d8a1c11",
		"__meta_kubernetes_pod_container_name", "app",
		"__meta_kubernetes_pod_controller_kind", "ReplicaSet",
		"__meta_kubernetes_pod_controller_name", "trading-service-7d4b9c8f6d",
		"__meta_kubernetes_pod_node_name", "node-1",
		"__meta_kubernetes_pod_label_pod_template_hash", "7d4b9c8f6d",
	)
	got, keep := relabel.Process(in, sc.Relabel...)
	if !keep {
		t.Fatal("dropped")
	}
	want := map[string]string{
		"app":       "trading-service",
		"job":       "prod/trading-service",
		"namespace": "prod",
		"pod":       "trading-service-7d4b9c8f6d-x2x9q",
		"container": "app",
		"node_name": "node-1",
		"__path__":  "/var/log/pods/*0b1c7a52-8d1e-4c59-9a50-3f6a2d8a1c11/app/*.log",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if got.Has("instance") || got.Has("component") {
		t.Errorf("unexpected labels in %s", got)
	}
}

func TestLoadRealistic(t *testing.T) {
	cfg, err := Load("testdata/realistic.yaml", env(map[string]string{"TENANT": "tenant-financial", "HOSTNAME": "node-7"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.LogLevel != "info" {
		t.Errorf("log_level %q: default not applied", cfg.Server.LogLevel)
	}
	if cfg.Client != nil || len(cfg.Clients) != 1 {
		t.Fatalf("client not moved to clients: %v %d", cfg.Client, len(cfg.Clients))
	}
	var tenant, cluster string
	c := cfg.Clients[0]
	for i := 0; i+1 < len(c.Content); i += 2 {
		switch c.Content[i].Value {
		case "tenant_id":
			tenant = c.Content[i+1].Value
		case "external_labels":
			cluster = c.Content[i+1].Content[1].Value
		}
	}
	if tenant != "tenant-financial" || cluster != "dev" {
		t.Errorf("tenant %q cluster %q", tenant, cluster)
	}
	want := LimitsConfig{ReadlineRate: 500, ReadlineBurst: 1000, ReadlineRateEnabled: true, MaxStreams: 2000, MaxLineSize: 256 << 10, MaxLineSizeTruncate: true}
	if diff := cmp.Diff(want, cfg.LimitsConfig); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if cfg.TargetConfig.SyncPeriod != Duration(3*time.Second) || cfg.Global.FileWatchConfig.MaxPollFrequency != Duration(time.Second) {
		t.Errorf("target %+v global %+v", cfg.TargetConfig, cfg.Global)
	}
	k := cfg.ScrapeConfigs[0].KubernetesSDConfigs[0]
	if diff := cmp.Diff([]string{"prod", "staging"}, k.Namespaces.Names); diff != "" {
		t.Error(diff)
	}
	if len(k.Selectors) != 1 || k.Selectors[0].Label != "app.kubernetes.io/managed-by!=kubemate-ignore" {
		t.Errorf("selectors %+v", k.Selectors)
	}
	st := cfg.ScrapeConfigs[1].StaticConfigs[0]
	if diff := cmp.Diff(map[string]string{"job": "syslog", "host": "node-7", "__path__": "/var/log/{syslog,messages}"}, st.Labels); diff != "" {
		t.Error(diff)
	}
	// A regex capture reference survives env expansion.
	if r := cfg.ScrapeConfigs[0].RelabelConfigs[4]; *r.Replacement != "$1" {
		t.Errorf("replacement %q", *r.Replacement)
	}
}

// TestLoadStaticWithoutPath: a static group without __path__ loads, as in
// Promtail; its targets name no files.
func TestLoadStaticWithoutPath(t *testing.T) {
	cfg, err := Load("testdata/static-no-path.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ScrapeConfigs[0].StaticConfigs[0].Labels["job"]; got != "varlogs" {
		t.Errorf("job label %q", got)
	}
}

func TestParseEmpty(t *testing.T) {
	cfg, err := Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultConfig(), *cfg, cmp.Comparer(func(a, b ScrapeConfig) bool { return a.JobName == b.JobName })); diff != "" {
		t.Error(diff)
	}
}

// TestBadFixtures loads every testdata/*.bad.yaml and checks that the
// error contains the text of its first line ("# error: ...").
func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := bufio.NewReader(fh).ReadString('\n')
			fh.Close()
			want, ok := strings.CutPrefix(strings.TrimSpace(first), "# error: ")
			if !ok {
				t.Fatalf("first line %q is not '# error: ...'", first)
			}
			_, err = Load(f, env(nil))
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\ndoes not contain %q", err, want)
			}
		})
	}
}

func TestExpandEnv(t *testing.T) {
	lookup := env(map[string]string{"A": "alpha", "EMPTY": "", "B_2": "b"})
	cases := []struct{ in, want string }{
		{"x: ${A}", "x: alpha"},
		{"x: ${MISSING}", "x: "},
		{"x: ${MISSING:-dflt}", "x: dflt"},
		{"x: ${EMPTY:-dflt}", "x: dflt"},
		{"x: ${A:-dflt}", "x: alpha"},
		{"x: ${B_2}${A}", "x: balpha"},
		{"r: $1 ${1} $A $$", "r: $1 ${1} $A $$"},
		{"r: $${A}", "r: ${A}"},
		{"r: ${A-b}", "r: ${A-b}"},
		{"tail $", "tail $"},
		{"${:-x}", "${:-x}"},
	}
	for _, tc := range cases {
		got, err := ExpandEnv(tc.in, lookup)
		if err != nil || got != tc.want {
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := ExpandEnv("x: ${A", lookup); err == nil {
		t.Error("unterminated: no error")
	}
}

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{
		"10s": 10 * time.Second, "250ms": 250 * time.Millisecond, "1d": 24 * time.Hour,
		"1w": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1h30m": 90 * time.Minute,
	}
	for in, want := range cases {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "10", "-1s", "1x", "99999999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	cases := map[string]int64{"0": 0, "256": 256, "256KB": 256 << 10, "1MiB": 1 << 20, "1.5kb": 1536, "2G": 2 << 30, "10B": 10}
	for in, want := range cases {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KB", "1PB", "x"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q): no error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("scrape_configs: [{job_name: a, static_configs: [{targets: [x], labels: {__path__: '${P:-/x}'}}]}]"))
	f.Add([]byte("server: &a {http_listen_port: 1}\npositions: *a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, env(map[string]string{"P": "/var/log/*.log"}))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %q does not wrap ErrInvalid", err)
			}
			return
		}
		// A config that parsed validates again unchanged.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("re-validate: %v", err)
		}
	})
}
