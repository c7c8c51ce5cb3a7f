// Package agent holds the node agent: it tails the CRI log files of the
// pods on its node (tail), attaches Kubernetes labels (kube), runs each
// line through a Promtail-compatible pipeline (pipeline), and ships
// batches to the gateway through an on-disk WAL (wal, ship).
package agent
