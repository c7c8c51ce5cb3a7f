// Package kube discovers the pods of one node through the Kubernetes API
// and turns each into the target label sets of Prometheus's pod role
// (__meta_kubernetes_namespace, __meta_kubernetes_pod_uid,
// __meta_kubernetes_pod_container_name, ...), which Promtail-style
// relabel_configs then rewrite.
//
// It is the only package of the agent that imports k8s.io/client-go: a
// pod informer (list, then watch) restricted by the field selector
// spec.nodeName=<node>, plus the namespaces and selectors of a
// kubernetes_sd_configs entry. Pods of other nodes are also filtered out
// on arrival, so a server that ignores the field selector cannot leak
// them in.
//
// Results leave the package as plain values: a source name
// ("pod/<namespace>/<name>") and the pod's label sets, an empty list
// meaning the pod is gone. agent/discovery consumes them without
// importing client-go.
package kube
