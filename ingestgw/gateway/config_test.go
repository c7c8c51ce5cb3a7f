package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func loadConfig(t *testing.T, path string) Config {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	return cfg
}

func TestDefaultConfigIsValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
}

func TestGoodConfig(t *testing.T) {
	cfg := loadConfig(t, "testdata/good.yaml")
	require.NoError(t, cfg.Validate())
	want := DefaultConfig()
	want.TLS = TLSConfig{CertFile: "/etc/kmlog/tls.crt", KeyFile: "/etc/kmlog/tls.key", ClientCAFile: "/etc/kmlog/ca.crt", MinVersion: "1.3"}
	want.Auth = AuthConfig{
		Enabled: true, JWKSURL: "https://idp.example.com/.well-known/jwks.json", JWKSRefresh: 10 * time.Minute,
		Issuer: "https://idp.example.com", Audience: "kmlog", TenantClaim: "kubemate.tenant", Leeway: time.Minute,
	}
	want.MaxRequestBodyBytes = 8 << 20
	want.ShutdownTimeout = 20 * time.Second
	if d := cmp.Diff(want, cfg); d != "" {
		t.Fatalf("config (-want +got):\n%s", d)
	}
}

// TestBadConfigs loads testdata/*.bad.yaml over the defaults; each file's
// first line is "# error: <text the Validate error must contain>".
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# error: ")
			require.True(t, ok, "first line must be # error: …")
			err = loadConfig(t, f).Validate()
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, want)
		})
	}
}
