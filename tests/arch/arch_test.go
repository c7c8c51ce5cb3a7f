package arch

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kubemate/kmlog"

type pkg struct {
	ImportPath string
	Dir        string
	Doc        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func under(path, dir string) bool { p := rel(path); return p == dir || strings.HasPrefix(p, dir+"/") }

func ours(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// testSupport packages exist only for tests (they start real servers).
func testSupport(path string) bool {
	return strings.HasSuffix(path, "test") && !strings.HasSuffix(path, "/test")
}

func TestDependencyRules(t *testing.T) {
	tiers := []string{"ingestgw", "functions", "agent", "console"}
	adapters := []string{"cmd", "functions/knative", "functions/lambda", "agent/kube"}
	isAdapter := func(p string) bool {
		return slices.ContainsFunc(adapters, func(a string) bool { return under(p, a) })
	}
	for _, p := range listPackages(t) {
		name := rel(p.ImportPath)
		for _, dep := range p.Deps {
			switch {
			// Rule 1: format/ imports nothing of ours above it.
			case under(p.ImportPath, "format") && ours(dep) && !under(dep, "format"):
				t.Errorf("%s imports %s: format/ may import only format/", name, rel(dep))
			// Rule 1: logql/ imports only logql/ and format's type leaves.
			case under(p.ImportPath, "logql") && ours(dep) && !under(dep, "logql") &&
				!slices.Contains([]string{"format/labels", "format/tenant"}, rel(dep)):
				t.Errorf("%s imports %s: logql/ may import only format/labels and format/tenant", name, rel(dep))
			// Rule 4: heavy SDKs only in their leaf packages.
			case strings.HasPrefix(dep, "github.com/minio/minio-go") && !under(p.ImportPath, "format/bucket/s3") &&
				!under(p.ImportPath, "cmd") && !under(p.ImportPath, "tests"):
				t.Errorf("%s depends on minio-go: only format/bucket/s3, cmd/ and tests/ may", name)
			// Rule 3: only cmd/ and adapters import Lambda or Kubernetes code.
			case (strings.HasPrefix(dep, "github.com/aws/aws-lambda-go") || strings.HasPrefix(dep, "k8s.io/")) &&
				!isAdapter(p.ImportPath) && !under(p.ImportPath, "tests"):
				t.Errorf("%s depends on %s: only cmd/ and the adapters may", name, dep)
			}
		}
		// Rule 2: the tiers never import each other.
		for _, imp := range p.Imports {
			for _, a := range tiers {
				for _, b := range tiers {
					if a != b && under(p.ImportPath, a) && under(imp, b) {
						t.Errorf("%s imports %s: %s/ and %s/ must not import each other", name, rel(imp), a, b)
					}
				}
			}
		}
	}
}

func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment", rel(p.ImportPath))
		}
	}
}

// TestNoGetenv keeps environment reads in cmd/ and the adapters (rule 3).
func TestNoGetenv(t *testing.T) {
	allowed := []string{"cmd", "functions/knative", "functions/lambda", "agent/kube"}
	for _, p := range listPackages(t) {
		if slices.ContainsFunc(allowed, func(a string) bool { return under(p.ImportPath, a) }) || testSupport(p.ImportPath) {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
					t.Errorf("%s calls os.%s: only cmd/ and the adapters read the environment", path, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
