package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/functions/knative"
)

const kmlogImage = "ghcr.io/kubemate/kmlog:"

// obj is one decoded Kubernetes object.
type obj struct {
	file string
	m    map[string]any
}

func (o obj) kind() string { return str(o.m, "kind") }
func (o obj) name() string { return str(o.m, "metadata", "name") }
func (o obj) String() string {
	return fmt.Sprintf("%s: %s/%s", o.file, o.kind(), o.name())
}

// get walks nested maps; it returns nil when a key is missing.
func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string { s, _ := get(v, path...).(string); return s }

func list(v any, path ...string) []any { l, _ := get(v, path...).([]any); return l }

func strMap(v any, path ...string) map[string]string {
	out := map[string]string{}
	m, _ := get(v, path...).(map[string]any)
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// readManifests decodes every document of every YAML file under dir.
func readManifests(t *testing.T, dir string) []obj {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var objs []obj
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		rel, _ := filepath.Rel(root, f)
		for i := 0; ; i++ {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", rel, i, err)
			}
			if m == nil {
				continue // an empty document
			}
			objs = append(objs, obj{rel, m})
		}
	}
	return objs
}

func TestManifests(t *testing.T) {
	var objs []obj
	for _, dir := range []string{"infra/k8s", "infra/knative"} {
		objs = append(objs, readManifests(t, dir)...)
		checkKustomization(t, dir)
	}
	byKind := map[string]map[string]obj{}
	for _, o := range objs {
		if str(o.m, "apiVersion") == "" || o.kind() == "" {
			t.Errorf("%s: apiVersion or kind missing", o)
			continue
		}
		if o.kind() == "Kustomization" {
			continue
		}
		if o.name() == "" {
			t.Errorf("%s: metadata.name missing", o)
			continue
		}
		if byKind[o.kind()] == nil {
			byKind[o.kind()] = map[string]obj{}
		}
		if prev, dup := byKind[o.kind()][o.name()]; dup {
			t.Errorf("%s duplicates %s", o, prev)
		}
		byKind[o.kind()][o.name()] = o
	}
	for _, kind := range []string{"Namespace", "ConfigMap", "Secret", "Deployment", "StatefulSet", "DaemonSet", "Service", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "PingSource"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s among the manifests", kind)
		}
	}
	for _, o := range objs {
		switch o.kind() {
		case "Deployment", "StatefulSet", "DaemonSet":
			checkWorkload(t, o, byKind)
		case "Service":
			if strings.HasPrefix(str(o.m, "apiVersion"), "serving.knative.dev/") {
				checkKnativeService(t, o, byKind)
			} else {
				checkService(t, o, objs)
			}
		case "PingSource":
			sink := get(o.m, "spec", "sink", "ref")
			if str(sink, "kind") != "Service" || !strings.HasPrefix(str(sink, "apiVersion"), "serving.knative.dev/") {
				t.Errorf("%s: sink %v is not a Knative Service", o, sink)
			} else if _, ok := byKind["Service"][str(sink, "name")]; !ok {
				t.Errorf("%s: sink %q does not exist", o, str(sink, "name"))
			}
			if f := strings.Fields(str(o.m, "spec", "schedule")); len(f) != 5 {
				t.Errorf("%s: schedule %q is not a 5-field cron expression", o, str(o.m, "spec", "schedule"))
			}
		case "ClusterRoleBinding":
			if _, ok := byKind["ClusterRole"][str(o.m, "roleRef", "name")]; !ok {
				t.Errorf("%s: roleRef %q does not exist", o, str(o.m, "roleRef", "name"))
			}
			for _, s := range list(o.m, "subjects") {
				if _, ok := byKind["ServiceAccount"][str(s, "name")]; !ok {
					t.Errorf("%s: subject %q does not exist", o, str(s, "name"))
				}
			}
		}
	}
	// The agent may read pods and nothing else cluster-wide.
	if role, ok := byKind["ClusterRole"]["kmlog-agent"]; ok {
		var pods bool
		for _, r := range list(role.m, "rules") {
			verbs := fmt.Sprint(get(r, "verbs"))
			if slices.Contains(list(r, "resources"), any("pods")) && verbs == "[list watch]" {
				pods = true
			}
			if strings.ContainsAny(verbs, "*") || strings.Contains(verbs, "create") || strings.Contains(verbs, "delete") {
				t.Errorf("kmlog-agent ClusterRole grants %s", verbs)
			}
		}
		if !pods {
			t.Error("kmlog-agent ClusterRole lacks list/watch on pods")
		}
	} else {
		t.Error("no kmlog-agent ClusterRole")
	}
	checkRingConfig(t, byKind)
	for _, fn := range functionTargets {
		if _, ok := byKind["Service"]["kmlog-"+fn]; !ok {
			t.Errorf("no Knative Service kmlog-%s", fn)
		}
	}
}

// checkKustomization: the kustomization lists exactly the dir's manifests.
func checkKustomization(t *testing.T, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, dir, "kustomization.yaml"))
	if err != nil {
		t.Error(err)
		return
	}
	var k struct{ Resources []string }
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Errorf("%s/kustomization.yaml: %v", dir, err)
		return
	}
	files, _ := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("%s/kustomization.yaml resources %v, want the dir's files %v", dir, got, want)
	}
}

// podSpec returns the pod spec and pod labels of a workload or Knative Service.
func podSpec(o obj) (spec any, labels map[string]string) {
	return get(o.m, "spec", "template", "spec"), strMap(o.m, "spec", "template", "metadata", "labels")
}

// checkContainers checks kmlog containers' targets and the config maps and
// secrets the pod refers to.
func checkContainers(t *testing.T, o obj, spec any, byKind map[string]map[string]obj, targets []string) {
	t.Helper()
	cs := list(spec, "containers")
	if len(cs) == 0 {
		t.Errorf("%s: no containers", o)
	}
	for _, c := range cs {
		if str(c, "image") == "" {
			t.Errorf("%s: container %q has no image", o, str(c, "name"))
		}
		if strings.HasPrefix(str(c, "image"), kmlogImage) {
			target := ""
			for i, a := range list(c, "args") {
				if v, ok := strings.CutPrefix(fmt.Sprint(a), "-target="); ok {
					target = v
				} else if i == 0 && !strings.HasPrefix(fmt.Sprint(a), "-") {
					target = fmt.Sprint(a) // a subcommand: kmlog agent
				}
			}
			if !slices.Contains(targets, target) {
				t.Errorf("%s: kmlog container runs -target=%q, want one of %v", o, target, targets)
			}
		}
		for _, e := range list(c, "envFrom") {
			if n := str(e, "secretRef", "name"); n != "" && byKind["Secret"][n].m == nil {
				t.Errorf("%s: envFrom secret %q does not exist", o, n)
			}
			if n := str(e, "configMapRef", "name"); n != "" && byKind["ConfigMap"][n].m == nil {
				t.Errorf("%s: envFrom config map %q does not exist", o, n)
			}
		}
		vols := map[string]bool{}
		for _, v := range list(spec, "volumes") {
			vols[str(v, "name")] = true
			if n := str(v, "configMap", "name"); n != "" && byKind["ConfigMap"][n].m == nil {
				t.Errorf("%s: volume config map %q does not exist", o, n)
			}
			if n := str(v, "persistentVolumeClaim", "claimName"); n != "" && byKind["PersistentVolumeClaim"][n].m == nil {
				t.Errorf("%s: claim %q does not exist", o, n)
			}
		}
		for _, vct := range list(o.m, "spec", "volumeClaimTemplates") {
			vols[str(vct, "metadata", "name")] = true
		}
		for _, m := range list(c, "volumeMounts") {
			if !vols[str(m, "name")] {
				t.Errorf("%s: mount of unknown volume %q", o, str(m, "name"))
			}
		}
	}
}

func checkWorkload(t *testing.T, o obj, byKind map[string]map[string]obj) {
	t.Helper()
	spec, labels := podSpec(o)
	sel := strMap(o.m, "spec", "selector", "matchLabels")
	if len(sel) == 0 {
		t.Errorf("%s: empty selector", o)
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod labels %v", o, k, v, labels)
		}
	}
	checkContainers(t, o, spec, byKind, serverTargets)
	if o.kind() == "StatefulSet" {
		svc, ok := byKind["Service"][str(o.m, "spec", "serviceName")]
		if !ok || str(svc.m, "spec", "clusterIP") != "None" {
			t.Errorf("%s: serviceName %q is not a headless Service", o, str(o.m, "spec", "serviceName"))
		}
		if len(list(o.m, "spec", "volumeClaimTemplates")) == 0 {
			t.Errorf("%s: no volumeClaimTemplates for the WAL", o)
		}
	}
	if sa := str(spec, "serviceAccountName"); sa != "" && byKind["ServiceAccount"][sa].m == nil {
		t.Errorf("%s: service account %q does not exist", o, sa)
	}
}

func checkService(t *testing.T, o obj, objs []obj) {
	t.Helper()
	sel := strMap(o.m, "spec", "selector")
	if len(sel) == 0 {
		t.Errorf("%s: no selector", o)
		return
	}
	matched := false
	for _, w := range objs {
		if k := w.kind(); k != "Deployment" && k != "StatefulSet" && k != "DaemonSet" {
			continue
		}
		_, labels := podSpec(w)
		all := true
		for k, v := range sel {
			all = all && labels[k] == v
		}
		if all {
			matched = true
			ports := map[string]bool{}
			spec, _ := podSpec(w)
			for _, c := range list(spec, "containers") {
				for _, p := range list(c, "ports") {
					ports[str(p, "name")] = true
				}
			}
			for _, p := range list(o.m, "spec", "ports") {
				if tp, ok := get(p, "targetPort").(string); ok && !ports[tp] {
					t.Errorf("%s: targetPort %q is no container port of %s", o, tp, w)
				}
			}
		}
	}
	if !matched {
		t.Errorf("%s: selector %v matches no workload", o, sel)
	}
}

func checkKnativeService(t *testing.T, o obj, byKind map[string]map[string]obj) {
	t.Helper()
	ann := strMap(o.m, "spec", "template", "metadata", "annotations")
	if ann["autoscaling.knative.dev/min-scale"] != "0" {
		t.Errorf("%s: min-scale %q, want \"0\" (scale to zero)", o, ann["autoscaling.knative.dev/min-scale"])
	}
	if max, err := strconv.Atoi(ann["autoscaling.knative.dev/max-scale"]); err != nil || max < 1 {
		t.Errorf("%s: max-scale %q", o, ann["autoscaling.knative.dev/max-scale"])
	}
	spec, _ := podSpec(o)
	if cc, _ := get(spec, "containerConcurrency").(int); cc < 1 {
		t.Errorf("%s: containerConcurrency %v, want a bound", o, get(spec, "containerConcurrency"))
	}
	if ts, _ := get(spec, "timeoutSeconds").(int); ts < 1 || ts > 600 {
		t.Errorf("%s: timeoutSeconds %v outside 1..600 (Knative's default maximum)", o, get(spec, "timeoutSeconds"))
	}
	if str(o.m, "metadata", "labels", "networking.knative.dev/visibility") != "cluster-local" {
		t.Errorf("%s: not cluster-local: functions trust X-Scope-OrgID and sit behind the gateway", o)
	}
	checkContainers(t, o, spec, byKind, functionTargets)
	cs := list(spec, "containers")
	if len(cs) != 1 {
		t.Errorf("%s: %d containers, want 1", o, len(cs))
		return
	}
	c := cs[0]
	if p := str(c, "readinessProbe", "httpGet", "path"); p != knative.ReadinessPath {
		t.Errorf("%s: readiness probe %q, want %q", o, p, knative.ReadinessPath)
	}
	if p := str(c, "livenessProbe", "httpGet", "path"); p != knative.LivenessPath {
		t.Errorf("%s: liveness probe %q, want %q", o, p, knative.LivenessPath)
	}
	// Draining must end before Knative kills the pod (grace = timeoutSeconds).
	ts, _ := get(spec, "timeoutSeconds").(int)
	for _, e := range list(c, "env") {
		if str(e, "name") == "KMLOG_DRAIN_TIMEOUT" {
			cfg, err := knative.ConfigFromEnv([]string{"KMLOG_DRAIN_TIMEOUT=" + str(e, "value")})
			if err != nil {
				t.Errorf("%s: %v", o, err)
			} else if cfg.DrainTimeout.Seconds() >= float64(ts) {
				t.Errorf("%s: drain timeout %v not below timeoutSeconds %d", o, cfg.DrainTimeout, ts)
			}
		}
	}
}

// checkRingConfig: the kmlog config's ring names the ingester StatefulSet's
// pods and its headless Service's SRV records.
func checkRingConfig(t *testing.T, byKind map[string]map[string]obj) {
	t.Helper()
	cm, ok := byKind["ConfigMap"]["kmlog-config"]
	if !ok {
		t.Error("no kmlog-config ConfigMap")
		return
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(str(cm.m, "data", "kmlog.yaml")), &cfg); err != nil {
		t.Fatalf("kmlog-config kmlog.yaml: %v", err)
	}
	sts, ok := byKind["StatefulSet"]["kmlog-ingester"]
	if !ok {
		t.Error("no kmlog-ingester StatefulSet")
		return
	}
	ns := str(sts.m, "metadata", "namespace")
	svc := str(sts.m, "spec", "serviceName")
	replicas, _ := get(sts.m, "spec", "replicas").(int)
	var port string
	for _, p := range list(byKind["Service"][svc].m, "spec", "ports") {
		if str(p, "name") == "http" {
			port = fmt.Sprint(get(p, "port"))
		}
	}
	if want := fmt.Sprintf("_http._tcp.%s.%s.svc.cluster.local", svc, ns); str(cfg, "ring", "srv") != want {
		t.Errorf("ring.srv %q, want %q", str(cfg, "ring", "srv"), want)
	}
	// Static members, if any, must be the StatefulSet's pods (the SRV
	// records replace them once they answer).
	var members []string
	for _, m := range list(cfg, "ring", "members") {
		members = append(members, fmt.Sprint(m))
	}
	var want []string
	for i := range replicas {
		want = append(want, net.JoinHostPort(fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local", str(sts.m, "metadata", "name"), i, svc, ns), port))
	}
	if len(members) > 0 && !slices.Equal(members, want) {
		t.Errorf("ring.members %v, want the StatefulSet's pods %v", members, want)
	}
	if rf, _ := get(cfg, "distributor", "replication_factor").(int); rf > replicas {
		t.Errorf("replication factor %d above %d ingesters", rf, replicas)
	}
	if on, _ := get(cfg, "gateway", "auth", "enabled").(bool); !on {
		t.Error("kmlog.yaml: gateway.auth.enabled is not true")
	}
	if str(cfg, "gateway", "frontend_url") == "" {
		t.Error("kmlog.yaml: gateway.frontend_url is not set: the gateway would answer 404 to queries")
	}
	// Every ${VAR} without a default comes from the kmlog-s3 Secret.
	secret := strMap(byKind["Secret"]["kmlog-s3"].m, "stringData")
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(str(cm.m, "data", "kmlog.yaml"), -1) {
		if _, ok := secret[m[1]]; !ok {
			t.Errorf("kmlog.yaml expands ${%s}, which the kmlog-s3 Secret does not set (keys %v)", m[1], slices.Sorted(maps.Keys(secret)))
		}
	}
}
