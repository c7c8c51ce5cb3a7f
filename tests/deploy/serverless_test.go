package deploy

import (
	"archive/zip"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const root = "../.."

// functionTargets are kmlog's stateless functions, each a -target of the
// kmlog binary; serverTargets are its long-lived roles.
var (
	functionTargets = []string{"frontend", "querier", "compactor", "ruler"}
	serverTargets   = []string{"all", "gateway", "ingester", "agent"}
)

type serverless struct {
	Service          string         `yaml:"service"`
	FrameworkVersion string         `yaml:"frameworkVersion"`
	Org              string         `yaml:"org"` // v4 dashboard keys: must stay unset
	App              string         `yaml:"app"`
	Params           map[string]any `yaml:"params"`
	Custom           struct {
		Kmlog struct {
			Main string `yaml:"main"`
			Tags string `yaml:"tags"`
		} `yaml:"kmlog"`
	} `yaml:"custom"`
	Provider struct {
		Name         string         `yaml:"name"`
		Runtime      string         `yaml:"runtime"`
		Architecture string         `yaml:"architecture"`
		Environment  map[string]any `yaml:"environment"`
		IAM          struct {
			Role struct{ Statements []statement }
		} `yaml:"iam"`
		HTTPAPI map[string]any `yaml:"httpApi"`
		Extra   map[string]any `yaml:",inline"`
	} `yaml:"provider"`
	Package struct {
		Individually bool `yaml:"individually"`
	} `yaml:"package"`
	Functions map[string]lambdaFunction `yaml:"functions"`
}

type statement struct {
	Effect   string   `yaml:"Effect"`
	Action   []string `yaml:"Action"`
	Resource any      `yaml:"Resource"`
}

type lambdaFunction struct {
	Handler string `yaml:"handler"`
	Package struct {
		Artifact string `yaml:"artifact"`
	} `yaml:"package"`
	Runtime      string           `yaml:"runtime"`
	Architecture string           `yaml:"architecture"`
	MemorySize   int              `yaml:"memorySize"`
	Timeout      int              `yaml:"timeout"`
	Environment  map[string]any   `yaml:"environment"`
	URL          any              `yaml:"url"`
	Events       []map[string]any `yaml:"events"`
	Extra        map[string]any   `yaml:",inline"`
}

func readServerless(t *testing.T) serverless {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "serverless.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var s serverless
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("serverless.yml: %v", err)
	}
	return s
}

func TestServerlessYML(t *testing.T) {
	s := readServerless(t)
	if s.Service != "kmlog" {
		t.Errorf("service %q", s.Service)
	}
	// osls is Serverless v3; v4 refuses a frameworkVersion that excludes it.
	if fv := s.FrameworkVersion; fv != "" && fv != ">=3" {
		t.Errorf("frameworkVersion %q: use \">=3\" (or none) so that osls (v3) and Serverless v4 both accept the file", fv)
	}
	if s.Org != "" || s.App != "" {
		t.Error("org/app tie the file to the Serverless Dashboard (v4 login): remove them")
	}
	p := s.Provider
	if p.Name != "aws" || p.Runtime != "provided.al2023" || p.Architecture != "arm64" {
		t.Errorf("provider %s %s %s, want aws provided.al2023 arm64", p.Name, p.Runtime, p.Architecture)
	}
	if !s.Package.Individually {
		t.Error("package.individually must be true: every function has its own artifact")
	}
	if s.Custom.Kmlog.Main == "" || s.Custom.Kmlog.Tags != "lambda.norpc" {
		t.Errorf("custom.kmlog = %+v, want main and tags lambda.norpc", s.Custom.Kmlog)
	}

	// S3 access for the objects and the listing.
	var objects, list bool
	for _, st := range p.IAM.Role.Statements {
		res, _ := st.Resource.(string)
		objects = objects || st.Effect == "Allow" && slices.Contains(st.Action, "s3:GetObject") &&
			slices.Contains(st.Action, "s3:PutObject") && strings.HasSuffix(res, "/*")
		list = list || st.Effect == "Allow" && slices.Contains(st.Action, "s3:ListBucket")
	}
	if !objects || !list {
		t.Errorf("iam statements lack S3 object (%v) or list (%v) access", objects, list)
	}

	var names []string
	for name, fn := range s.Functions {
		names = append(names, name)
		t.Run(name, func(t *testing.T) {
			if fn.Handler != "bootstrap" {
				t.Errorf("handler %q, want bootstrap (provided.al2023 runs the file named bootstrap)", fn.Handler)
			}
			if want := "build/lambda/" + name + ".zip"; fn.Package.Artifact != want {
				t.Errorf("artifact %q, want %q (what scripts/build-lambda.sh writes)", fn.Package.Artifact, want)
			}
			if (fn.Runtime != "" && fn.Runtime != p.Runtime) || (fn.Architecture != "" && fn.Architecture != p.Architecture) {
				t.Errorf("function overrides runtime/architecture: %s %s", fn.Runtime, fn.Architecture)
			}
			if got := fn.Environment["KMLOG_TARGET"]; got != name {
				t.Errorf("KMLOG_TARGET = %v, want %q", got, name)
			}
			if fn.Timeout <= 0 || fn.Timeout > 900 {
				t.Errorf("timeout %d outside Lambda's 1..900 s", fn.Timeout)
			}
			var httpAPI, schedule bool
			for _, ev := range fn.Events {
				for kind, v := range ev {
					switch kind {
					case "httpApi":
						httpAPI = true
					case "schedule":
						schedule = true
						checkSchedule(t, v)
					default:
						t.Errorf("unexpected event %q", kind)
					}
				}
			}
			switch name {
			case "frontend":
				if !httpAPI || fn.Timeout > 30 {
					t.Errorf("frontend: httpApi event %v, timeout %d (HTTP API integrations end at 30 s)", httpAPI, fn.Timeout)
				}
			case "querier":
				u, ok := fn.URL.(map[string]any)
				if !ok || u["authorizer"] != "aws_iam" {
					t.Errorf("querier url = %v, want a function URL with authorizer aws_iam", fn.URL)
				}
			case "compactor", "ruler":
				if !schedule {
					t.Errorf("%s has no schedule event", name)
				}
			}
		})
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(functionTargets))
	if !slices.Equal(names, want) {
		t.Errorf("functions %v, want %v", names, want)
	}
}

var rateRe = regexp.MustCompile(`^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$`)

func checkSchedule(t *testing.T, v any) {
	t.Helper()
	var expr string
	switch v := v.(type) {
	case string:
		expr = v
	case map[string]any:
		switch r := v["rate"].(type) {
		case string:
			expr = r
		case []any:
			if len(r) > 0 {
				expr, _ = r[0].(string)
			}
		}
	}
	if !rateRe.MatchString(expr) {
		t.Errorf("schedule %v: want rate(N unit) or cron(...)", v)
	}
	if m := regexp.MustCompile(`^rate\((\d+) (\w+)\)$`).FindStringSubmatch(expr); m != nil {
		if (m[1] == "1") != !strings.HasSuffix(m[2], "s") {
			t.Errorf("schedule %q: AWS wants rate(1 minute) and rate(5 minutes)", expr)
		}
	}
}

// TestLambdaArtifacts builds the binary serverless.yml's functions run,
// exactly as scripts/build-lambda.sh does, and checks it is a static
// linux/arm64 executable; with zip installed it runs the script and opens
// every artifact serverless.yml names.
func TestLambdaArtifacts(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the kmlog binary")
	}
	s := readServerless(t)
	out := t.TempDir()
	bootstrap := filepath.Join(out, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", s.Custom.Kmlog.Tags, "-ldflags", "-s -w", "-o", bootstrap, s.Custom.Kmlog.Main)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for linux/arm64: %v\n%s", s.Custom.Kmlog.Main, err, b)
	}
	checkBootstrap(t, bootstrap)

	script, err := os.ReadFile(filepath.Join(root, "scripts/build-lambda.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-tags " + s.Custom.Kmlog.Tags, s.Custom.Kmlog.Main, "GOARCH=arm64", "CGO_ENABLED=0", "infra/lambda/kmlog.yaml"} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("scripts/build-lambda.sh does not mention %q", want)
		}
	}
	if _, err := exec.LookPath("zip"); err != nil {
		t.Log("zip not installed: artifacts not packaged")
		return
	}
	build := exec.Command("scripts/build-lambda.sh")
	build.Dir = root
	build.Env = append(os.Environ(), "OUT="+out)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-lambda.sh: %v\n%s", err, b)
	}
	for name, fn := range s.Functions {
		zipPath := filepath.Join(out, strings.TrimPrefix(fn.Package.Artifact, "build/lambda/"))
		zr, err := zip.OpenReader(zipPath)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var files []string
		for _, f := range zr.File {
			files = append(files, f.Name)
			if f.Name == "bootstrap" {
				if f.Mode()&0o111 == 0 {
					t.Errorf("%s: bootstrap mode %v is not executable", name, f.Mode())
				}
				rc, _ := f.Open()
				tmp := filepath.Join(out, name+".bootstrap")
				b, _ := io.ReadAll(rc)
				rc.Close()
				if err := os.WriteFile(tmp, b, 0o755); err != nil {
					t.Fatal(err)
				}
				checkBootstrap(t, tmp)
			}
		}
		zr.Close()
		slices.Sort(files)
		if !slices.Equal(files, []string{"bootstrap", "kmlog.yaml"}) {
			t.Errorf("%s: artifact holds %v, want bootstrap and kmlog.yaml", name, files)
		}
	}
}

func checkBootstrap(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("%s: machine %v class %v, want aarch64 64-bit", path, f.Machine, f.Class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: provided.al2023 wants a static binary", path)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"-tags": "lambda.norpc", "GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0"} {
		if settings[k] != v {
			t.Errorf("%s: built with %s=%q, want %q", path, k, settings[k], v)
		}
	}
}

// TestLambdaConfig checks that the config file in every artifact expands
// only variables that serverless.yml or Lambda itself sets.
func TestLambdaConfig(t *testing.T) {
	s := readServerless(t)
	raw, err := os.ReadFile(filepath.Join(root, "infra/lambda/kmlog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("infra/lambda/kmlog.yaml: %v", err)
	}
	if s.Provider.Environment["KMLOG_CONFIG_FILE"] != "/var/task/kmlog.yaml" {
		t.Errorf("KMLOG_CONFIG_FILE = %v, want /var/task/kmlog.yaml (the artifact is unpacked in /var/task)", s.Provider.Environment["KMLOG_CONFIG_FILE"])
	}
	lambdaSets := []string{"AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`).FindAllStringSubmatch(string(raw), -1) {
		name, hasDefault := m[1], m[2] != ""
		if hasDefault || slices.Contains(lambdaSets, name) || s.Provider.Environment[name] != nil {
			continue
		}
		for fname, fn := range s.Functions {
			if fn.Environment[name] == nil {
				t.Errorf("infra/lambda/kmlog.yaml expands ${%s}, which function %s does not set", name, fname)
			}
		}
	}
}

// TestServerlessAuth: on Lambda the frontend is public (an HTTP API), so
// it must verify tokens itself; the querier trusts the tenant in its
// requests, so only IAM-signed calls may reach it.
func TestServerlessAuth(t *testing.T) {
	s := readServerless(t)
	raw, err := os.ReadFile(filepath.Join(root, "infra/lambda/kmlog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Gateway struct {
			Auth struct {
				Enabled     bool   `yaml:"enabled"`
				JWKSURL     string `yaml:"jwks_url"`
				HS256Secret string `yaml:"hs256_secret"`
			} `yaml:"auth"`
		} `yaml:"gateway"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	a := cfg.Gateway.Auth
	if !a.Enabled {
		t.Error("infra/lambda/kmlog.yaml: gateway.auth.enabled is not true: the frontend would trust X-Scope-OrgID")
	}
	for v, param := range map[string]string{a.JWKSURL: "KMLOG_AUTH_JWKS_URL", a.HS256Secret: "KMLOG_AUTH_HS256_SECRET"} {
		if !strings.Contains(v, "${"+param) {
			t.Errorf("infra/lambda/kmlog.yaml: auth key source %q does not come from $%s", v, param)
		}
		if s.Provider.Environment[param] == nil {
			t.Errorf("provider.environment does not set %s", param)
		}
	}
	fe := s.Functions["frontend"]
	if len(fe.Events) == 0 {
		t.Error("frontend has no HTTP API route")
	}
	if fe.URL != nil {
		t.Error("frontend has a function URL: the HTTP API is its only door")
	}
	q := s.Functions["querier"]
	if len(q.Events) != 0 {
		t.Errorf("querier has events %v: it must be reachable only through its IAM function URL", q.Events)
	}
	for name, fn := range s.Functions {
		if name == "querier" {
			continue
		}
		if u, ok := fn.URL.(map[string]any); ok && u["authorizer"] != "aws_iam" {
			t.Errorf("%s: function URL without aws_iam", name)
		}
	}
	// Only the querier may be invoked through a URL, and only with IAM.
	for _, st := range s.Provider.IAM.Role.Statements {
		if !slices.Contains(st.Action, "lambda:InvokeFunctionUrl") {
			continue
		}
		res, _ := st.Resource.(string)
		if !strings.HasSuffix(res, ":function:${self:service}-${sls:stage}-querier") {
			t.Errorf("lambda:InvokeFunctionUrl on %v, want the querier only", st.Resource)
		}
	}
	// S3 access names the bucket, never "*".
	for _, st := range s.Provider.IAM.Role.Statements {
		if res, _ := st.Resource.(string); res == "*" || res == "arn:aws:s3:::*" {
			t.Errorf("statement %v grants on every resource", st.Action)
		}
	}
}

// TestServerlessBucket: the optional bucket is private, encrypted, TLS
// only and kept when the stack goes; the functions' S3 access names it.
func TestServerlessBucket(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "serverless.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources struct {
			Resources map[string]struct {
				Type           string         `yaml:"Type"`
				Condition      string         `yaml:"Condition"`
				DeletionPolicy string         `yaml:"DeletionPolicy"`
				Properties     map[string]any `yaml:"Properties"`
			} `yaml:"Resources"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	b, ok := doc.Resources.Resources["KmlogBucket"]
	if !ok || b.Type != "AWS::S3::Bucket" {
		t.Fatal("no KmlogBucket AWS::S3::Bucket resource")
	}
	if b.DeletionPolicy != "Retain" || b.Condition == "" {
		t.Errorf("bucket: DeletionPolicy %q Condition %q, want Retain and a condition", b.DeletionPolicy, b.Condition)
	}
	pab, _ := b.Properties["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			t.Errorf("bucket: PublicAccessBlockConfiguration.%s is not true", k)
		}
	}
	if b.Properties["BucketEncryption"] == nil || b.Properties["BucketName"] != "${param:bucket}" {
		t.Error("bucket: no encryption, or not the bucket the functions use")
	}
	pol, ok := doc.Resources.Resources["KmlogBucketPolicy"]
	if !ok || !strings.Contains(fmt.Sprint(pol.Properties), "aws:SecureTransport") {
		t.Error("no bucket policy denying requests without TLS")
	}
}
