package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/format/labels"
)

func touch(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func rel(root string, ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strings.TrimPrefix(p, root+"/")
	}
	return out
}

func TestGlob(t *testing.T) {
	root := t.TempDir()
	touch(t,
		root+"/pods/ns_a_uid1/app/0.log", root+"/pods/ns_a_uid1/app/1.log", root+"/pods/ns_a_uid1/app/0.log.gz",
		root+"/pods/ns_b_uid2/app/0.log", root+"/pods/ns_b_uid2/side/0.log",
		root+"/var/syslog", root+"/var/messages", root+"/var/deep/x/y.log",
	)
	cases := []struct {
		pattern string
		want    []string
	}{
		{"pods/*uid1/app/*.log", []string{"pods/ns_a_uid1/app/0.log", "pods/ns_a_uid1/app/1.log"}},
		{"pods/*/app/0.log", []string{"pods/ns_a_uid1/app/0.log", "pods/ns_b_uid2/app/0.log"}},
		{"pods/**/0.log", []string{"pods/ns_a_uid1/app/0.log", "pods/ns_b_uid2/app/0.log", "pods/ns_b_uid2/side/0.log"}},
		{"var/**/*.log", []string{"var/deep/x/y.log"}},
		{"var/{syslog,messages}", []string{"var/messages", "var/syslog"}},
		{"pods/*_{a_uid1,b_uid2}/{app,side}/0.log", []string{"pods/ns_a_uid1/app/0.log", "pods/ns_b_uid2/app/0.log", "pods/ns_b_uid2/side/0.log"}},
		{"pods/ns_?_uid[12]/side/*", []string{"pods/ns_b_uid2/side/0.log"}},
		{"nothing/*.log", nil},
		{"var/syslog", []string{"var/syslog"}},
	}
	for _, tc := range cases {
		got, err := Glob(root + "/" + tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		if diff := cmp.Diff(tc.want, rel(root, got), cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.pattern, diff)
		}
	}
	for _, bad := range []string{root + "/[", root + "/{a,b", root + "/a}"} {
		if _, err := Glob(bad); err == nil {
			t.Errorf("Glob(%q): no error", bad)
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"/var/log/pods/**/*.gz", "/var/log/pods/a/b/0.log.gz", true},
		{"/var/log/pods/**/*.gz", "/var/log/pods/0.gz", true},
		{"/var/log/pods/*/*.gz", "/var/log/pods/a/b/0.gz", false},
		{"/var/log/{a,b}.log", "/var/log/b.log", true},
		{"/var/log/*.log", "/var/log/x.txt", false},
	}
	for _, tc := range cases {
		got, err := Match(tc.pattern, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("Match(%q, %q) = %v, %v", tc.pattern, tc.name, got, err)
		}
	}
}

// recorder collects diffs.
type recorder struct {
	mu    sync.Mutex
	diffs []Diff
}

func (r *recorder) send(d Diff) {
	r.mu.Lock()
	r.diffs = append(r.diffs, d)
	r.mu.Unlock()
}

func (r *recorder) take() Diff {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all Diff
	for _, d := range r.diffs {
		all.Added = append(all.Added, d.Added...)
		all.Removed = append(all.Removed, d.Removed...)
	}
	r.diffs = nil
	return all
}

func paths(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Path)
	}
	return out
}

func TestStaticConfigs(t *testing.T) {
	root := t.TempDir()
	touch(t, root+"/a.log", root+"/b.log", root+"/skip.log", root+"/c.txt")
	if err := os.Mkdir(root+"/dir.log", 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`
scrape_configs:
  - job_name: varlogs
    static_configs:
      - targets: [localhost]
        labels:
          job: varlogs
          __path__: `+root+`/*.log
          __path_exclude__: `+root+`/skip.log
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	m := New(cfg.ScrapeConfigs, Options{}, r.send)
	m.Sync()
	d := r.take()
	if diff := cmp.Diff([]string{root + "/a.log", root + "/b.log"}, paths(d.Added)); diff != "" || len(d.Removed) != 0 {
		t.Fatalf("first sync: %v %+v", diff, d)
	}
	want := labels.FromStrings("job", "varlogs", "filename", root+"/a.log")
	if !labels.Equal(d.Added[0].Labels, want) || d.Added[0].Job != "varlogs" {
		t.Errorf("target %+v, want labels %s", d.Added[0], want)
	}
	// Nothing changed: no diff.
	m.Sync()
	if d := r.take(); !d.Empty() {
		t.Errorf("idle sync: %+v", d)
	}
	// A new file appears, one goes away.
	touch(t, root+"/new.log")
	if err := os.Remove(root + "/a.log"); err != nil {
		t.Fatal(err)
	}
	m.Sync()
	d = r.take()
	if diff := cmp.Diff([]string{root + "/new.log"}, paths(d.Added)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{root + "/a.log"}, paths(d.Removed)); diff != "" {
		t.Error(diff)
	}
	if got := paths(m.Targets()); !cmp.Equal(got, []string{root + "/b.log", root + "/new.log"}) {
		t.Errorf("targets %v", got)
	}
}

// helmConfig loads the Helm chart's default promtail config with its
// /var/log/pods moved under root.
func helmConfig(t testing.TB, root string) *config.Config {
	t.Helper()
	b, err := os.ReadFile("../config/testdata/helm-default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(string(b), "/var/log/pods", root)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func podTarget(ns, pod, uid, container, node string, extra ...string) labels.Labels {
	return labels.FromStrings(append([]string{
		"__address__", "10.0.0.1",
		"__meta_kubernetes_namespace", ns,
		"__meta_kubernetes_pod_name", pod,
		"__meta_kubernetes_pod_uid", uid,
		"__meta_kubernetes_pod_container_name", container,
		"__meta_kubernetes_pod_node_name", node,
		"__meta_kubernetes_pod_controller_kind", "ReplicaSet",
		"__meta_kubernetes_pod_controller_name", "web-7d4b9c8f6d",
	}, extra...)...)
}

func TestHelmJobUpdates(t *testing.T) {
	root := t.TempDir()
	cfg := helmConfig(t, root)
	touch(t, root+"/prod_web-7d4b9c8f6d-abcde_uid-1/app/0.log", root+"/prod_web-7d4b9c8f6d-abcde_uid-1/sidecar/0.log")
	var r recorder
	m := New(cfg.ScrapeConfigs, Options{Hostname: "node-1"}, r.send)
	if err := m.Update("kubernetes-pods", "pod/prod/web-7d4b9c8f6d-abcde", []labels.Labels{
		podTarget("prod", "web-7d4b9c8f6d-abcde", "uid-1", "app", "node-1", "__meta_kubernetes_pod_label_app", "trading"),
		// A second port of the same container: merged into one target.
		podTarget("prod", "web-7d4b9c8f6d-abcde", "uid-1", "app", "node-1", "__meta_kubernetes_pod_label_app", "trading", "__meta_kubernetes_pod_container_port_number", "9090"),
		podTarget("prod", "web-7d4b9c8f6d-abcde", "uid-1", "sidecar", "node-1", "__meta_kubernetes_pod_label_app", "trading"),
	}); err != nil {
		t.Fatal(err)
	}
	d := r.take()
	want := []Target{
		{Job: "kubernetes-pods", Path: root + "/prod_web-7d4b9c8f6d-abcde_uid-1/app/0.log", Labels: labels.FromStrings(
			"app", "trading", "container", "app", "filename", root+"/prod_web-7d4b9c8f6d-abcde_uid-1/app/0.log",
			"job", "prod/trading", "namespace", "prod", "node_name", "node-1", "pod", "web-7d4b9c8f6d-abcde")},
		{Job: "kubernetes-pods", Path: root + "/prod_web-7d4b9c8f6d-abcde_uid-1/sidecar/0.log", Labels: labels.FromStrings(
			"app", "trading", "container", "sidecar", "filename", root+"/prod_web-7d4b9c8f6d-abcde_uid-1/sidecar/0.log",
			"job", "prod/trading", "namespace", "prod", "node_name", "node-1", "pod", "web-7d4b9c8f6d-abcde")},
	}
	if diff := cmp.Diff(want, d.Added); diff != "" || len(d.Removed) != 0 {
		t.Fatalf("added (-want +got):\n%s\nremoved %v", diff, d.Removed)
	}

	// The pod's app label changes: the targets are replaced.
	if err := m.Update("kubernetes-pods", "pod/prod/web-7d4b9c8f6d-abcde", []labels.Labels{
		podTarget("prod", "web-7d4b9c8f6d-abcde", "uid-1", "app", "node-1", "__meta_kubernetes_pod_label_app", "trading-v2"),
	}); err != nil {
		t.Fatal(err)
	}
	d = r.take()
	if len(d.Added) != 1 || d.Added[0].Labels.Get("app") != "trading-v2" || len(d.Removed) != 2 {
		t.Fatalf("after change: %+v", d)
	}

	// The pod goes away.
	if err := m.Update("kubernetes-pods", "pod/prod/web-7d4b9c8f6d-abcde", nil); err != nil {
		t.Fatal(err)
	}
	d = r.take()
	if len(d.Added) != 0 || len(d.Removed) != 1 || len(m.Targets()) != 0 {
		t.Fatalf("after delete: %+v, targets %v", d, m.Targets())
	}
	if err := m.Update("nope", "x", nil); err == nil {
		t.Error("unknown job: no error")
	}
}

func TestPromtailFilters(t *testing.T) {
	root := t.TempDir()
	touch(t, root+"/x.log")
	cfg, err := config.Parse([]byte(`
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs: [{role: pod}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_node_name]
        target_label: __host__
      - source_labels: [__meta_kubernetes_pod_label_logs]
        regex: "off"
        action: drop
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_annotation_path]
        target_label: __path__
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	m := New(cfg.ScrapeConfigs, Options{Hostname: "node-1"}, r.send)
	path := root + "/x.log"
	ts := []labels.Labels{
		labels.FromStrings("__meta_kubernetes_pod_name", "ok", "__meta_kubernetes_pod_node_name", "node-1", "__meta_kubernetes_pod_annotation_path", path),
		labels.FromStrings("__meta_kubernetes_pod_name", "other-host", "__meta_kubernetes_pod_node_name", "node-2", "__meta_kubernetes_pod_annotation_path", path),
		labels.FromStrings("__meta_kubernetes_pod_name", "dropped", "__meta_kubernetes_pod_node_name", "node-1", "__meta_kubernetes_pod_label_logs", "off", "__meta_kubernetes_pod_annotation_path", path),
		labels.FromStrings("__meta_kubernetes_pod_name", "no-path", "__meta_kubernetes_pod_node_name", "node-1"),
	}
	for i, l := range ts {
		if err := m.Update("pods", "pod/ns/"+l.Get("__meta_kubernetes_pod_name"), ts[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	got := m.Targets()
	if len(got) != 1 || got[0].Labels.Get("pod") != "ok" {
		t.Errorf("targets %+v", got)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("/var/log/pods/**/*.{log,gz}", "/var/log/pods/a/b/0.log")
	f.Add("{a,{b,c}}[x-z]?\\*", "bz1*")
	f.Add("{{{{", "")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 256 {
			return
		}
		ok, err := Match(pattern, name)
		if err != nil && ok {
			t.Fatal("match with an error")
		}
		if !strings.ContainsAny(pattern, `*?[\{},`) && err == nil && ok != (pattern == name) {
			t.Fatalf("literal pattern %q vs %q: %v", pattern, name, ok)
		}
	})
}
