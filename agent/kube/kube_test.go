package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/format/labels"
)

// collector records the latest targets per source.
type collector struct {
	mu      sync.Mutex
	groups  map[string][]labels.Labels
	changed chan struct{}
}

func newCollector() *collector {
	return &collector{groups: map[string][]labels.Labels{}, changed: make(chan struct{}, 1)}
}

func (c *collector) send(source string, targets []labels.Labels) {
	c.mu.Lock()
	if len(targets) == 0 {
		delete(c.groups, source)
	} else {
		c.groups[source] = targets
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds over the groups; it fails the test
// after a generous deadline (a hang, not a timing assertion).
func (c *collector) waitFor(t *testing.T, what string, cond func(map[string][]labels.Labels) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		ok := cond(c.groups)
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("timed out waiting for %s; have %v", what, c.groups)
		}
	}
}

func (c *collector) get(source string) []labels.Labels {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[source]
}

func testPod(ns, name, node string, containers ...string) *corev1.Pod {
	isController := true
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: types.UID("uid-" + name),
			Labels:      map[string]string{"app.kubernetes.io/name": "web", "tier": "fe"},
			Annotations: map[string]string{"kubernetes.io/config.seen": "2026-01-01"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d4b9c8f6d", Controller: &isController,
			}},
		},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.1.0.5", HostIP: "192.168.0.10",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "registry/" + c + ":1"})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c, ContainerID: "containerd://" + c + "-id"})
	}
	return p
}

func TestPodTargets(t *testing.T) {
	p := testPod("prod", "web-7d4b9c8f6d-abcde", "node-1", "app")
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}}
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", ContainerID: "containerd://init-id"}}
	got := PodTargets(p)
	common := []string{
		"__meta_kubernetes_namespace", "prod",
		"__meta_kubernetes_pod_name", "web-7d4b9c8f6d-abcde",
		"__meta_kubernetes_pod_uid", "uid-web-7d4b9c8f6d-abcde",
		"__meta_kubernetes_pod_ip", "10.1.0.5",
		"__meta_kubernetes_pod_host_ip", "192.168.0.10",
		"__meta_kubernetes_pod_node_name", "node-1",
		"__meta_kubernetes_pod_phase", "Running",
		"__meta_kubernetes_pod_ready", "true",
		"__meta_kubernetes_pod_controller_kind", "ReplicaSet",
		"__meta_kubernetes_pod_controller_name", "web-7d4b9c8f6d",
		"__meta_kubernetes_pod_label_app_kubernetes_io_name", "web",
		"__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name", "true",
		"__meta_kubernetes_pod_label_tier", "fe",
		"__meta_kubernetes_pod_labelpresent_tier", "true",
		"__meta_kubernetes_pod_annotation_kubernetes_io_config_seen", "2026-01-01",
		"__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_seen", "true",
	}
	with := func(nv ...string) labels.Labels {
		return labels.FromStrings(append(append([]string(nil), common...), nv...)...)
	}
	appC := []string{"__meta_kubernetes_pod_container_name", "app", "__meta_kubernetes_pod_container_image", "registry/app:1", "__meta_kubernetes_pod_container_id", "containerd://app-id", "__meta_kubernetes_pod_container_init", "false"}
	want := []labels.Labels{
		with(append(appC, "__address__", "10.1.0.5:8080", "__meta_kubernetes_pod_container_port_name", "http", "__meta_kubernetes_pod_container_port_number", "8080", "__meta_kubernetes_pod_container_port_protocol", "TCP")...),
		with(append(appC, "__address__", "10.1.0.5:9090", "__meta_kubernetes_pod_container_port_name", "metrics", "__meta_kubernetes_pod_container_port_number", "9090", "__meta_kubernetes_pod_container_port_protocol", "TCP")...),
		with("__meta_kubernetes_pod_container_name", "init", "__meta_kubernetes_pod_container_image", "busybox", "__meta_kubernetes_pod_container_id", "containerd://init-id", "__meta_kubernetes_pod_container_init", "true", "__address__", "10.1.0.5"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	p.Status.PodIP = ""
	if got := PodTargets(p); got != nil {
		t.Errorf("pod without IP: %v", got)
	}
}

func TestSanitizeLabelName(t *testing.T) {
	for in, want := range map[string]string{"app.kubernetes.io/name": "app_kubernetes_io_name", "a-b": "a_b", "ok_1": "ok_1", "ü": "_"} {
		if got := SanitizeLabelName(in); got != want {
			t.Errorf("SanitizeLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func containerNames(ts []labels.Labels) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Get(LabelContainerName))
	}
	return out
}

// fakePods is the fake clientset's pods client that also tells the
// informer the fake cannot stream lists.
type fakePods struct {
	corev1client.PodsGetter
	*fake.Clientset
}

func TestDiscovererFakeClientset(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cs := fake.NewClientset(testPod("prod", "web-1", "node-1", "app"))
	d, err := New(fakePods{cs.CoreV1(), cs}, config.KubernetesSDConfig{Role: "pod"}, Options{Node: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	done := make(chan error)
	go func() { done <- d.Run(ctx, c.send) }()
	c.waitFor(t, "initial pod", func(g map[string][]labels.Labels) bool { return len(g["pod/prod/web-1"]) == 1 })
	for !d.HasSynced() {
		time.Sleep(10 * time.Millisecond)
	}
	pods := cs.CoreV1().Pods("prod")

	// A new pod appears.
	if _, err := pods.Create(ctx, testPod("prod", "web-2", "node-1", "app", "sidecar"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "web-2", func(g map[string][]labels.Labels) bool { return len(g["pod/prod/web-2"]) == 2 })
	if diff := cmp.Diff([]string{"app", "sidecar"}, containerNames(c.get("pod/prod/web-2"))); diff != "" {
		t.Error(diff)
	}

	// It changes: a new container and a label change.
	p := testPod("prod", "web-2", "node-1", "app", "sidecar", "debug")
	p.Labels["tier"] = "be"
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "web-2 updated", func(g map[string][]labels.Labels) bool {
		ts := g["pod/prod/web-2"]
		return len(ts) == 3 && ts[0].Get("__meta_kubernetes_pod_label_tier") == "be"
	})

	// A pod of another node is ignored even though the fake clientset
	// does not apply field selectors.
	if _, err := pods.Create(ctx, testPod("prod", "other", "node-2", "app"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// It disappears.
	if err := pods.Delete(ctx, "web-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "web-2 deleted", func(g map[string][]labels.Labels) bool { _, ok := g["pod/prod/web-2"]; return !ok })
	if ts := c.get("pod/prod/other"); ts != nil {
		t.Errorf("pod of node-2 discovered: %v", ts)
	}
	if c.get("pod/prod/web-1") == nil {
		t.Error("web-1 lost")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	cs := fake.NewClientset()
	cases := []struct {
		sd   config.KubernetesSDConfig
		node string
		want string
	}{
		{config.KubernetesSDConfig{Role: "pod"}, "", "node name is empty"},
		{config.KubernetesSDConfig{Role: "node"}, "n", `role "node"`},
		{config.KubernetesSDConfig{Role: "pod", Selectors: []config.SelectorConfig{{Role: "pod", Label: "a in (b"}}}, "n", "selectors[0].label"},
		{config.KubernetesSDConfig{Role: "pod", Selectors: []config.SelectorConfig{{Role: "pod", Field: "a"}}}, "n", "selectors[0].field"},
		{config.KubernetesSDConfig{Role: "pod", Namespaces: config.NamespaceDiscovery{OwnNamespace: true}}, "n", "read own namespace"},
	}
	for _, tc := range cases {
		_, err := New(cs.CoreV1(), tc.sd, Options{Node: tc.node, NamespaceFile: t.TempDir() + "/missing"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.sd, err, tc.want)
		}
	}
}

// apiServer speaks enough of the pods list/watch API for an informer: it
// records the query of every request, lists the given pods (ignoring the
// field selector, as a careless server would) and streams events sent on
// its channel to watchers.
type apiServer struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
	pods    []corev1.Pod
	events  chan map[string]any
}

func newAPIServer(t *testing.T, pods ...corev1.Pod) *apiServer {
	s := &apiServer{pods: pods, events: make(chan map[string]any, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.queries = append(s.queries, r.URL.Path+"?"+r.URL.RawQuery)
		s.mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, "/pods") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "true" {
			list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: s.pods}
			_ = json.NewEncoder(w).Encode(list)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		enc := json.NewEncoder(w)
		if r.URL.Query().Get("sendInitialEvents") == "true" {
			// A streaming list: the pods as ADDED events, then a bookmark
			// marking the end of the initial events.
			for i := range s.pods {
				if err := enc.Encode(watchEvent("ADDED", &s.pods[i], 1)); err != nil {
					return
				}
			}
			bookmark := map[string]any{"type": "BOOKMARK", "object": map[string]any{
				"kind": "Pod", "apiVersion": "v1",
				"metadata": map[string]any{"resourceVersion": "1", "annotations": map[string]string{"k8s.io/initial-events-end": "true"}},
			}}
			if err := enc.Encode(bookmark); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-s.events:
				if err := enc.Encode(ev); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) sawQuery(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queries {
		if strings.Contains(q, sub) {
			return true
		}
	}
	return false
}

func watchEvent(typ string, p *corev1.Pod, rv int) map[string]any {
	p = p.DeepCopy()
	p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
	p.ResourceVersion = fmt.Sprint(rv)
	return map[string]any{"type": typ, "object": p}
}

func TestDiscovererHTTPAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	srv := newAPIServer(t, *testPod("prod", "web-1", "node-1", "app"), *testPod("prod", "elsewhere", "node-2", "app"))
	sd := config.KubernetesSDConfig{
		Role:       "pod",
		APIServer:  srv.URL,
		Namespaces: config.NamespaceDiscovery{Names: []string{"prod"}},
		Selectors:  []config.SelectorConfig{{Role: "pod", Label: "tier=fe", Field: "status.phase=Running"}},
	}
	client, err := NewClient(sd)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(client, sd, Options{Node: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	done := make(chan error)
	go func() { done <- d.Run(ctx, c.send) }()
	c.waitFor(t, "listed pod", func(g map[string][]labels.Labels) bool { return len(g["pod/prod/web-1"]) == 1 })

	// The selectors reach the server; the node's pod is listed; the pod
	// of node-2 that the server wrongly returned is filtered out.
	if !srv.sawQuery("/api/v1/namespaces/prod/pods?") {
		t.Errorf("no namespaced list: %v", srv.queries)
	}
	if !srv.sawQuery("fieldSelector=spec.nodeName%3Dnode-1%2Cstatus.phase%3DRunning") {
		t.Errorf("field selector not sent: %v", srv.queries)
	}
	if !srv.sawQuery("labelSelector=tier%3Dfe") {
		t.Errorf("label selector not sent: %v", srv.queries)
	}

	srv.events <- watchEvent("ADDED", testPod("prod", "web-2", "node-1", "app"), 2)
	c.waitFor(t, "watched pod", func(g map[string][]labels.Labels) bool { return len(g["pod/prod/web-2"]) == 1 })
	srv.events <- watchEvent("MODIFIED", testPod("prod", "web-2", "node-1", "app", "sidecar"), 3)
	c.waitFor(t, "modified pod", func(g map[string][]labels.Labels) bool { return len(g["pod/prod/web-2"]) == 2 })
	srv.events <- watchEvent("DELETED", testPod("prod", "web-1", "node-1", "app"), 4)
	c.waitFor(t, "deleted pod", func(g map[string][]labels.Labels) bool { _, ok := g["pod/prod/web-1"]; return !ok })
	if c.get("pod/prod/elsewhere") != nil {
		t.Error("pod of node-2 discovered")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
