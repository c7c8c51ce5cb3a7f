package discovery

import (
	"fmt"
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

// BenchmarkUpdatePod measures one pod event through the Helm chart's
// relabelling and the glob of its two containers, on a node with 100
// pods' log directories.
func BenchmarkUpdatePod(b *testing.B) {
	root := b.TempDir()
	for i := range 100 {
		touch(b, fmt.Sprintf("%s/prod_web-%d_uid-%d/app/0.log", root, i, i), fmt.Sprintf("%s/prod_web-%d_uid-%d/sidecar/0.log", root, i, i))
	}
	cfg := helmConfig(b, root)
	m := New(cfg.ScrapeConfigs, Options{Hostname: "node-1"}, func(Diff) {})
	group := []labels.Labels{
		podTarget("prod", "web-42", "uid-42", "app", "node-1", "__meta_kubernetes_pod_label_app", "web"),
		podTarget("prod", "web-42", "uid-42", "sidecar", "node-1", "__meta_kubernetes_pod_label_app", "web"),
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Update("kubernetes-pods", "pod/prod/web-42", group); err != nil {
			b.Fatal(err)
		}
		if err := m.Update("kubernetes-pods", "pod/prod/web-42", nil); err != nil {
			b.Fatal(err)
		}
	}
}
