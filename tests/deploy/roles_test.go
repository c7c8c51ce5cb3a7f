package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// binaryRoles are the roles the kmlog binary runs, read from its source:
// the targets it accepts (cmd/kmlog's targets variable) and its
// subcommands (the cases of run's switch on args[0]), so that a manifest
// naming a role the binary refuses fails here, not in a cluster.
var binaryRoles = sync.OnceValues(func() ([]string, error) {
	var roles []string
	fset := token.NewFileSet()
	pkgDir := filepath.Join(root, "cmd", "kmlog")
	for _, name := range []string{"config.go", "main.go"} {
		f, err := parser.ParseFile(fset, filepath.Join(pkgDir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				if len(n.Names) == 1 && n.Names[0].Name == "targets" && len(n.Values) == 1 {
					if cl, ok := n.Values[0].(*ast.CompositeLit); ok {
						for _, e := range cl.Elts {
							if s, ok := stringLit(e); ok {
								roles = append(roles, s)
							}
						}
					}
				}
			case *ast.FuncDecl:
				if n.Name.Name != "run" {
					return false
				}
			case *ast.SwitchStmt:
				if ix, ok := n.Tag.(*ast.IndexExpr); ok {
					if id, ok := ix.X.(*ast.Ident); ok && id.Name == "args" {
						for _, st := range n.Body.List {
							for _, e := range st.(*ast.CaseClause).List {
								if s, ok := stringLit(e); ok {
									roles = append(roles, s)
								}
							}
						}
					}
				}
			}
			return true
		})
	}
	return roles, nil
})

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// TestRolesExist: every role a deployment file starts is one the binary
// has.
func TestRolesExist(t *testing.T) {
	roles, err := binaryRoles()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gateway", "ingester", "querier", "frontend", "agent"} {
		if !slices.Contains(roles, want) {
			t.Fatalf("binary roles %v lack %q: the source parser is broken", roles, want)
		}
	}
	named := map[string][]string{} // role -> where
	for _, dir := range []string{"infra/k8s", "infra/knative"} {
		r := render(t, dir)
		for _, p := range podsOf(r) {
			for _, c := range p.spec.Containers {
				if isKmlog(c) {
					named[roleOf(c)] = append(named[roleOf(c)], p.name)
				}
			}
		}
	}
	s := readServerless(t)
	for name, fn := range s.Functions {
		if tgt, ok := fn.Environment["KMLOG_TARGET"].(string); ok {
			named[tgt] = append(named[tgt], "serverless.yml:"+name)
		}
	}
	for role, where := range named {
		if !slices.Contains(roles, role) {
			t.Errorf("%v start role %q, which the binary does not have (it has %v)", where, role, roles)
		}
	}
}
