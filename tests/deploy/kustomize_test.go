package deploy

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	syaml "sigs.k8s.io/yaml"
)

// knService mirrors serving.knative.dev/v1 Service (knative.dev/serving
// pkg/apis/serving/v1: Service, ServiceSpec, RevisionTemplateSpec,
// RevisionSpec with its inlined PodSpec, TrafficTarget). Decoding is
// strict, so a field Knative does not have fails here.
type knService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Template struct {
			metav1.ObjectMeta `json:"metadata"`
			Spec              knRevisionSpec `json:"spec"`
		} `json:"template"`
		Traffic []struct {
			Tag            string `json:"tag,omitempty"`
			RevisionName   string `json:"revisionName,omitempty"`
			LatestRevision *bool  `json:"latestRevision,omitempty"`
			Percent        *int64 `json:"percent,omitempty"`
		} `json:"traffic,omitempty"`
	} `json:"spec"`
}

type knRevisionSpec struct {
	corev1.PodSpec              `json:",inline"`
	ContainerConcurrency        *int64 `json:"containerConcurrency,omitempty"`
	TimeoutSeconds              *int64 `json:"timeoutSeconds,omitempty"`
	ResponseStartTimeoutSeconds *int64 `json:"responseStartTimeoutSeconds,omitempty"`
	IdleTimeoutSeconds          *int64 `json:"idleTimeoutSeconds,omitempty"`
}

// pingSource mirrors sources.knative.dev/v1 PingSource (knative.dev/
// eventing pkg/apis/sources/v1: PingSourceSpec with SourceSpec's sink and
// ceOverrides).
type pingSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Schedule    string `json:"schedule"`
		Timezone    string `json:"timezone,omitempty"`
		ContentType string `json:"contentType,omitempty"`
		Data        string `json:"data,omitempty"`
		DataBase64  string `json:"dataBase64,omitempty"`
		Sink        struct {
			Ref *struct {
				Kind       string `json:"kind"`
				Namespace  string `json:"namespace,omitempty"`
				Name       string `json:"name"`
				APIVersion string `json:"apiVersion"`
			} `json:"ref,omitempty"`
			URI string `json:"uri,omitempty"`
		} `json:"sink"`
		CEOverrides *struct {
			Extensions map[string]string `json:"extensions,omitempty"`
		} `json:"ceOverrides,omitempty"`
	} `json:"spec"`
}

// rendered is one kustomization's output, every object typed.
type rendered struct {
	dir     string
	objects []runtime.Object
	kn      []knService
	pings   []pingSource
}

// render builds dir with the kustomize Go API (what `kubectl apply -k`
// runs) and decodes every object strictly into its API type.
func render(t *testing.T, dir string) rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	strict := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
	r := rendered{dir: dir}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		doc, err := yaml.Marshal(&node)
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := syaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		switch tm.GroupVersionKind().Group {
		case "serving.knative.dev":
			var s knService
			decodeStrict(t, dir, tm, doc, &s)
			r.kn = append(r.kn, s)
		case "sources.knative.dev":
			var p pingSource
			decodeStrict(t, dir, tm, doc, &p)
			r.pings = append(r.pings, p)
		default:
			obj, _, err := strict.Decode(doc, nil, nil)
			if err != nil {
				t.Errorf("%s: %s: %v", dir, tm.Kind, err)
				continue
			}
			r.objects = append(r.objects, obj)
		}
	}
	if len(r.objects) == 0 {
		t.Fatalf("%s rendered no objects", dir)
	}
	return r
}

func decodeStrict(t *testing.T, dir string, tm metav1.TypeMeta, doc []byte, v any) {
	t.Helper()
	j, err := syaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	strictErrs, err := sjson.UnmarshalStrict(j, v)
	if err != nil {
		t.Errorf("%s: %s: %v", dir, tm.Kind, err)
	}
	for _, e := range strictErrs {
		t.Errorf("%s: %s: %v", dir, tm.Kind, e)
	}
}

func typed[T runtime.Object](r rendered) []T {
	var out []T
	for _, o := range r.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func named[T interface{ GetName() string }](items []T, name string) (T, bool) {
	for _, it := range items {
		if it.GetName() == name {
			return it, true
		}
	}
	var zero T
	return zero, false
}

type pod struct {
	name string
	spec corev1.PodSpec
}

// podsOf returns the pod specs of every workload and Knative Service.
func podsOf(r rendered) []pod {
	var pods []pod
	for _, d := range typed[*appsv1.Deployment](r) {
		pods = append(pods, pod{"Deployment/" + d.Name, d.Spec.Template.Spec})
	}
	for _, s := range typed[*appsv1.StatefulSet](r) {
		pods = append(pods, pod{"StatefulSet/" + s.Name, s.Spec.Template.Spec})
	}
	for _, d := range typed[*appsv1.DaemonSet](r) {
		pods = append(pods, pod{"DaemonSet/" + d.Name, d.Spec.Template.Spec})
	}
	for _, s := range r.kn {
		pods = append(pods, pod{"Service.serving.knative.dev/" + s.Name, s.Spec.Template.Spec.PodSpec})
	}
	return pods
}

func isKmlog(c corev1.Container) bool { return strings.HasPrefix(c.Image, kmlogImage) }

// roleOf is the kmlog role a container runs: -target=<role> or the
// subcommand ("agent").
func roleOf(c corev1.Container) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "-target="); ok {
			return v
		}
	}
	if len(c.Args) > 0 && !strings.HasPrefix(c.Args[0], "-") {
		return c.Args[0]
	}
	return ""
}

func TestRenderedManifests(t *testing.T) {
	for _, dir := range []string{"infra/k8s", "infra/knative", "infra/overlays/small", "infra/overlays/production"} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			r := render(t, dir)
			checkPods(t, r)
			if dir == "infra/knative" {
				if len(r.kn) != len(functionTargets) || len(r.pings) == 0 {
					t.Errorf("%d Knative Services, %d PingSources", len(r.kn), len(r.pings))
				}
				return
			}
			checkLongLived(t, r)
			if strings.HasPrefix(dir, "infra/overlays/") {
				checkOverlay(t, r, filepath.Base(dir))
			}
		})
	}
}

// checkPods: every kmlog container runs a role the binary has, as a
// non-root user unless it is the agent (which reads root-owned log files),
// with no privilege escalation; the gateway and frontend get the auth keys.
func checkPods(t *testing.T, r rendered) {
	t.Helper()
	pods := podsOf(r)
	for _, p := range pods {
		for _, c := range p.spec.Containers {
			if !isKmlog(c) {
				continue
			}
			role := roleOf(c) // TestRolesExist checks it against the binary
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				if role == "gateway" || role == "ingester" || role == "agent" || role == "frontend" || role == "querier" {
					t.Errorf("%s: allowPrivilegeEscalation not false", p.name)
				}
			}
			if role == "gateway" || role == "ingester" || role == "frontend" || role == "querier" {
				if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Errorf("%s: want runAsNonRoot and readOnlyRootFilesystem", p.name)
				}
			}
			if role == "gateway" || role == "frontend" {
				if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
					return e.SecretRef != nil && e.SecretRef.Name == "kmlog-auth"
				}) {
					t.Errorf("%s: no envFrom kmlog-auth: it cannot verify tokens", p.name)
				}
			}
		}
	}
}

// checkLongLived checks the long-lived tier's safety: private ingesters
// and MinIO, a disruption budget and a flush window for ingesters, and an
// agent that may only list and watch pods.
func checkLongLived(t *testing.T, r rendered) {
	t.Helper()
	nps := typed[*networkingv1.NetworkPolicy](r)
	for _, c := range []struct{ policy, selects, from string }{
		{"kmlog-ingester", "ingester", "gateway"},
		{"minio", "minio", "kmlog"},
	} {
		np, ok := named(nps, c.policy)
		if !ok {
			t.Errorf("no NetworkPolicy %s", c.policy)
			continue
		}
		sel := np.Spec.PodSelector.MatchLabels
		if sel["app.kubernetes.io/component"] != c.selects && sel["app.kubernetes.io/name"] != c.selects {
			t.Errorf("NetworkPolicy %s selects %v", c.policy, sel)
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || len(np.Spec.Ingress) == 0 {
			t.Errorf("NetworkPolicy %s does not restrict ingress", c.policy)
		}
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Errorf("NetworkPolicy %s admits every source", c.policy)
			}
			for _, peer := range rule.From {
				if peer.PodSelector == nil || len(peer.PodSelector.MatchLabels) == 0 || peer.NamespaceSelector != nil || peer.IPBlock != nil {
					t.Errorf("NetworkPolicy %s admits %+v: want kmlog pods of its namespace only", c.policy, peer)
				}
			}
		}
	}
	sts, ok := named(typed[*appsv1.StatefulSet](r), "kmlog-ingester")
	if !ok {
		t.Fatal("no kmlog-ingester StatefulSet")
	}
	if g := sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < 120 {
		t.Errorf("ingester terminationGracePeriodSeconds %v: too short to flush heads", g)
	}
	pdb, ok := named(typed[*policyv1.PodDisruptionBudget](r), "kmlog-ingester")
	if !ok || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("ingester PodDisruptionBudget %+v, want maxUnavailable 1", pdb)
	} else if !labelsMatch(pdb.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("ingester PodDisruptionBudget selects %v, not the ingester pods", pdb.Spec.Selector.MatchLabels)
	}
	if np, ok := named(nps, "kmlog-ingester"); ok && !labelsMatch(np.Spec.PodSelector.MatchLabels, sts.Spec.Template.Labels) {
		t.Error("NetworkPolicy kmlog-ingester does not select the ingester pods")
	}
	role, ok := named(typed[*rbacv1.ClusterRole](r), "kmlog-agent")
	if !ok {
		t.Fatal("no kmlog-agent ClusterRole")
	}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"pods"}) ||
		!slices.Equal(role.Rules[0].APIGroups, []string{""}) || !slices.Equal(role.Rules[0].Verbs, []string{"list", "watch"}) {
		t.Errorf("kmlog-agent ClusterRole rules %+v, want list and watch on pods only", role.Rules)
	}
	for _, rb := range typed[*rbacv1.ClusterRoleBinding](r) {
		for _, s := range rb.Subjects {
			if s.Name == "kmlog-agent" && rb.RoleRef.Name != "kmlog-agent" {
				t.Errorf("the agent is also bound to %s", rb.RoleRef.Name)
			}
		}
	}
	// The agent's Promtail config pushes to the gateway with its token.
	ds, ok := named(typed[*appsv1.DaemonSet](r), "kmlog-agent")
	if !ok {
		t.Fatal("no kmlog-agent DaemonSet")
	}
	cm, ok := named(typed[*corev1.ConfigMap](r), "kmlog-agent")
	if !ok {
		t.Fatal("no kmlog-agent ConfigMap")
	}
	var pc struct {
		Clients []struct {
			URL             string `yaml:"url"`
			BearerTokenFile string `yaml:"bearer_token_file"`
		} `yaml:"clients"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["promtail.yaml"]), &pc); err != nil || len(pc.Clients) != 1 {
		t.Fatalf("kmlog-agent promtail.yaml: %v %+v", err, pc)
	}
	if !strings.Contains(pc.Clients[0].URL, "kmlog-gateway") || pc.Clients[0].BearerTokenFile == "" {
		t.Errorf("agent client %+v: want the gateway with a bearer_token_file", pc.Clients[0])
	}
	mounted := false
	for _, m := range ds.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || strings.HasPrefix(pc.Clients[0].BearerTokenFile, m.MountPath+"/") && m.Name == "token"
	}
	if !mounted {
		t.Errorf("agent token file %s is not on the token volume", pc.Clients[0].BearerTokenFile)
	}
}

func labelsMatch(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkOverlay(t *testing.T, r rendered, name string) {
	t.Helper()
	gw, ok := named(typed[*appsv1.Deployment](r), "kmlog-gateway")
	if !ok {
		t.Fatal("no gateway")
	}
	want := map[string]int32{"small": 1, "production": 3}[name]
	if gw.Spec.Replicas == nil || *gw.Spec.Replicas != want {
		t.Errorf("%s: gateway replicas %v, want %d", name, gw.Spec.Replicas, want)
	}
	sts, _ := named(typed[*appsv1.StatefulSet](r), "kmlog-ingester")
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas < 3 {
		t.Errorf("%s: %v ingesters: replication factor 3 needs 3", name, sts.Spec.Replicas)
	}
	if len(r.kn) != len(functionTargets) {
		t.Errorf("%s: %d Knative Services, want the %d functions", name, len(r.kn), len(functionTargets))
	}
	for _, s := range r.kn {
		if s.Namespace != "kmlog" {
			t.Errorf("%s: Knative Service %s in namespace %q", name, s.Name, s.Namespace)
		}
	}
}
