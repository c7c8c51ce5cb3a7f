package discovery

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoClientGo keeps client-go out of this package: only agent/kube
// may import it.
func TestNoClientGo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/") {
			t.Errorf("agent/discovery depends on %s", dep)
		}
	}
}
