package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/functions/knative"
)

// funcYAML is the part of func's schema (knative/func, schema/
// func_yaml-schema.json) that kmlog's descriptors use. Decoding is strict:
// a misspelt key fails here instead of being ignored by func.
type funcYAML struct {
	SpecVersion string    `yaml:"specVersion"`
	Name        string    `yaml:"name"`
	Runtime     string    `yaml:"runtime"`
	Created     time.Time `yaml:"created"`
	Invoke      string    `yaml:"invoke"`
	Namespace   string    `yaml:"namespace"`
	Image       string    `yaml:"image"`
	Run         struct {
		Envs    []struct{ Name, Value string } `yaml:"envs"`
		Volumes []struct {
			ConfigMap string `yaml:"configMap"`
			Secret    string `yaml:"secret"`
			Path      string `yaml:"path"`
		} `yaml:"volumes"`
	} `yaml:"run"`
	Deploy struct {
		Namespace string `yaml:"namespace"`
		Labels    []struct{ Key, Value string }
		Options   struct {
			Scale struct {
				Min    *int    `yaml:"min"`
				Max    int     `yaml:"max"`
				Metric string  `yaml:"metric"`
				Target float64 `yaml:"target"`
			} `yaml:"scale"`
			Resources struct {
				Limits struct {
					Concurrency int `yaml:"concurrency"`
				} `yaml:"limits"`
			} `yaml:"resources"`
		} `yaml:"options"`
		HealthEndpoints struct {
			Liveness  string `yaml:"liveness"`
			Readiness string `yaml:"readiness"`
		} `yaml:"healthEndpoints"`
	} `yaml:"deploy"`
}

var (
	funcNameRe  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	funcEnvRe   = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	funcValueRe = regexp.MustCompile(`\{\{\s*(secret|configMap):([^:}\s]+)(:[^}\s]+)?\s*\}\}`)
)

func TestFuncYAML(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "functions/*/func.yaml"))
	var got []string
	manifests := append(readManifests(t, "infra/k8s"), readManifests(t, "infra/knative")...)
	exists := func(kind, name string) bool {
		return slices.ContainsFunc(manifests, func(o obj) bool { return o.kind() == kind && o.name() == name })
	}
	for _, f := range files {
		fn := filepath.Base(filepath.Dir(f))
		got = append(got, fn)
		t.Run(fn, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var y funcYAML
			dec := yaml.NewDecoder(bytes.NewReader(raw))
			dec.KnownFields(true)
			if err := dec.Decode(&y); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if y.SpecVersion == "" || y.Created.IsZero() {
				t.Error("specVersion and created are required")
			}
			if !funcNameRe.MatchString(y.Name) || y.Name != "kmlog-"+fn {
				t.Errorf("name %q, want kmlog-%s", y.Name, fn)
			}
			if y.Runtime != "go" || y.Invoke != "http" {
				t.Errorf("runtime %q invoke %q, want go http", y.Runtime, y.Invoke)
			}
			if !strings.HasPrefix(y.Image, kmlogImage) {
				t.Errorf("image %q, want the kmlog image", y.Image)
			}
			if !exists("Service", y.Name) {
				t.Errorf("no Knative Service %s in infra/knative to match", y.Name)
			}
			target := ""
			for _, e := range y.Run.Envs {
				if !funcEnvRe.MatchString(e.Name) {
					t.Errorf("env name %q", e.Name)
				}
				if e.Name == "KMLOG_TARGET" {
					target = e.Value
				}
				for _, m := range funcValueRe.FindAllStringSubmatch(e.Value, -1) {
					kind := map[string]string{"secret": "Secret", "configMap": "ConfigMap"}[m[1]]
					if !exists(kind, m[2]) {
						t.Errorf("env %s refers to %s %q, which infra/ does not define", e.Name, kind, m[2])
					}
				}
			}
			if target != fn {
				t.Errorf("KMLOG_TARGET %q, want %q", target, fn)
			}
			if fn == "frontend" {
				// It verifies tokens (auth is on in kmlog-config): without
				// a key source from kmlog-auth it would refuse to start.
				keys := 0
				for _, e := range y.Run.Envs {
					if (e.Name == "KMLOG_AUTH_JWKS_URL" || e.Name == "KMLOG_AUTH_HS256_SECRET") && strings.Contains(e.Value, "secret:kmlog-auth:") {
						keys++
					}
				}
				if keys != 2 {
					t.Error("frontend func.yaml does not take KMLOG_AUTH_JWKS_URL and KMLOG_AUTH_HS256_SECRET from the kmlog-auth Secret")
				}
			}
			for _, v := range y.Run.Volumes {
				if v.ConfigMap != "" && !exists("ConfigMap", v.ConfigMap) || v.Secret != "" && !exists("Secret", v.Secret) {
					t.Errorf("volume %+v refers to an undefined object", v)
				}
			}
			if s := y.Deploy.Options.Scale; s.Min == nil || *s.Min != 0 || s.Max < 1 {
				t.Errorf("scale %+v, want min 0 and a max", s)
			}
			if h := y.Deploy.HealthEndpoints; h.Readiness != knative.ReadinessPath || h.Liveness != knative.LivenessPath {
				t.Errorf("health endpoints %+v, want %s and %s", h, knative.ReadinessPath, knative.LivenessPath)
			}
		})
	}
	if !slices.Equal(got, slices.Sorted(slices.Values(functionTargets))) {
		t.Errorf("func.yaml for %v, want one per function %v", got, functionTargets)
	}
}
