package relabel

import (
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

func BenchmarkProcessHelmJob(b *testing.B) {
	cfgs := []Config{
		rule(func(c *Config) {
			c.SourceLabels = []string{"__meta_kubernetes_pod_controller_name"}
			c.Regex = "([0-9a-z-.]+?)(-[0-9a-f]{8,10})?"
			c.TargetLabel = "__tmp_controller_name"
		}),
		rule(func(c *Config) {
			c.SourceLabels = []string{"__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_label_app", "__tmp_controller_name", "__meta_kubernetes_pod_name"}
			c.Regex = "^;*([^;]+)(;.*)?$"
			c.TargetLabel = "app"
		}),
		rule(func(c *Config) { c.SourceLabels = []string{"__meta_kubernetes_namespace"}; c.TargetLabel = "namespace" }),
		rule(func(c *Config) {
			c.SourceLabels = []string{"namespace", "app"}
			c.Separator = "/"
			c.TargetLabel = "job"
		}),
		rule(func(c *Config) { c.SourceLabels = []string{"__meta_kubernetes_pod_name"}; c.TargetLabel = "pod" }),
		rule(func(c *Config) {
			c.SourceLabels = []string{"__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"}
			c.Separator = "/"
			c.TargetLabel = "__path__"
			c.Replacement = "/var/log/pods/*$1/*.log"
		}),
	}
	rules, err := NewAll(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	in := labels.FromStrings(
		"__meta_kubernetes_namespace", "prod",
		"__meta_kubernetes_pod_name", "web-7d4b9c8f6d-x2x9q",
		"__meta_kubernetes_pod_uid", "0b1c7a52-8d1e-4c59-9a50-3f6a2d8a1c11",
		"__meta_kubernetes_pod_container_name", "web",
		"__meta_kubernetes_pod_controller_name", "web-7d4b9c8f6d",
		"__meta_kubernetes_pod_label_app", "web",
		"__meta_kubernetes_pod_labelpresent_app", "true",
		"__meta_kubernetes_pod_node_name", "node-1",
		"__meta_kubernetes_pod_ip", "10.0.0.7",
	)
	b.ReportAllocs()
	for b.Loop() {
		if _, keep := Process(in, rules...); !keep {
			b.Fatal("dropped")
		}
	}
}
