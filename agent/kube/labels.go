package kube

import (
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubemate/kmlog/format/labels"
)

// The labels of Prometheus's pod role, which Promtail exposes to
// relabel_configs.
const (
	metaPrefix              = "__meta_kubernetes_"
	LabelNamespace          = metaPrefix + "namespace"
	LabelPodName            = metaPrefix + "pod_name"
	LabelPodIP              = metaPrefix + "pod_ip"
	LabelPodReady           = metaPrefix + "pod_ready"
	LabelPodPhase           = metaPrefix + "pod_phase"
	LabelPodNodeName        = metaPrefix + "pod_node_name"
	LabelPodHostIP          = metaPrefix + "pod_host_ip"
	LabelPodUID             = metaPrefix + "pod_uid"
	LabelControllerKind     = metaPrefix + "pod_controller_kind"
	LabelControllerName     = metaPrefix + "pod_controller_name"
	LabelContainerName      = metaPrefix + "pod_container_name"
	LabelContainerID        = metaPrefix + "pod_container_id"
	LabelContainerImage     = metaPrefix + "pod_container_image"
	LabelContainerInit      = metaPrefix + "pod_container_init"
	LabelPortName           = metaPrefix + "pod_container_port_name"
	LabelPortNumber         = metaPrefix + "pod_container_port_number"
	LabelPortProtocol       = metaPrefix + "pod_container_port_protocol"
	PrefixPodLabel          = metaPrefix + "pod_label_"
	PrefixPodLabelPresent   = metaPrefix + "pod_labelpresent_"
	PrefixAnnotation        = metaPrefix + "pod_annotation_"
	PrefixAnnotationPresent = metaPrefix + "pod_annotationpresent_"
	LabelAddress            = "__address__"
)

// Source names the target group of a pod: "pod/<namespace>/<name>", as
// in Prometheus.
func Source(namespace, name string) string { return "pod/" + namespace + "/" + name }

// SanitizeLabelName replaces every byte that may not appear in a label
// name with "_", as Prometheus does for Kubernetes label and annotation
// keys ("app.kubernetes.io/name" → "app_kubernetes_io_name").
func SanitizeLabelName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// PodTargets returns the target label sets of a pod as Prometheus's pod
// role builds them: one per container (init containers too, with
// __meta_kubernetes_pod_container_init="true") and, for a container
// with ports, one per port. A pod without an IP yet (or evicted) has no
// targets. Each set holds the pod-level labels too.
func PodTargets(pod *corev1.Pod) []labels.Labels {
	if pod.Status.PodIP == "" {
		return nil
	}
	common := podLabels(pod)
	var out []labels.Labels
	add := func(extra ...labels.Label) {
		ls := make([]labels.Label, 0, len(common)+len(extra))
		ls = append(ls, common...)
		ls = append(ls, extra...)
		// An empty value is an absent label (Prometheus semantics).
		ls = slices.DeleteFunc(ls, func(l labels.Label) bool { return l.Value == "" })
		out = append(out, labels.New(ls...))
	}
	n := len(pod.Spec.Containers)
	for i, c := range append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...) {
		isInit := i >= n
		statuses := pod.Status.ContainerStatuses
		if isInit {
			statuses = pod.Status.InitContainerStatuses
		}
		cl := []labels.Label{
			{Name: LabelContainerName, Value: c.Name},
			{Name: LabelContainerImage, Value: c.Image},
			{Name: LabelContainerInit, Value: strconv.FormatBool(isInit)},
		}
		if id := containerID(c.Name, statuses); id != "" {
			cl = append(cl, labels.Label{Name: LabelContainerID, Value: id})
		}
		if len(c.Ports) == 0 {
			add(append(cl, labels.Label{Name: LabelAddress, Value: pod.Status.PodIP})...)
			continue
		}
		for _, p := range c.Ports {
			port := strconv.FormatUint(uint64(p.ContainerPort), 10)
			pl := append(cl[:len(cl):len(cl)],
				labels.Label{Name: LabelAddress, Value: net.JoinHostPort(pod.Status.PodIP, port)},
				labels.Label{Name: LabelPortNumber, Value: port},
				labels.Label{Name: LabelPortName, Value: p.Name},
				labels.Label{Name: LabelPortProtocol, Value: string(p.Protocol)},
			)
			add(pl...)
		}
	}
	return out
}

func podLabels(pod *corev1.Pod) []labels.Label {
	ls := []labels.Label{
		{Name: LabelNamespace, Value: pod.Namespace},
		{Name: LabelPodName, Value: pod.Name},
		{Name: LabelPodIP, Value: pod.Status.PodIP},
		{Name: LabelPodReady, Value: podReady(pod)},
		{Name: LabelPodPhase, Value: string(pod.Status.Phase)},
		{Name: LabelPodNodeName, Value: pod.Spec.NodeName},
		{Name: LabelPodHostIP, Value: pod.Status.HostIP},
		{Name: LabelPodUID, Value: string(pod.UID)},
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != "" {
			ls = append(ls, labels.Label{Name: LabelControllerKind, Value: ref.Kind})
		}
		if ref.Name != "" {
			ls = append(ls, labels.Label{Name: LabelControllerName, Value: ref.Name})
		}
	}
	for k, v := range pod.Labels {
		n := SanitizeLabelName(k)
		ls = append(ls, labels.Label{Name: PrefixPodLabel + n, Value: v}, labels.Label{Name: PrefixPodLabelPresent + n, Value: "true"})
	}
	for k, v := range pod.Annotations {
		n := SanitizeLabelName(k)
		ls = append(ls, labels.Label{Name: PrefixAnnotation + n, Value: v}, labels.Label{Name: PrefixAnnotationPresent + n, Value: "true"})
	}
	return ls
}

func podReady(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return strings.ToLower(string(c.Status))
		}
	}
	return "unknown"
}

func containerID(name string, statuses []corev1.ContainerStatus) string {
	for _, s := range statuses {
		if s.Name == name {
			return s.ContainerID
		}
	}
	return ""
}
