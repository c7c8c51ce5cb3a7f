package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/agent/discovery"
	"github.com/kubemate/kmlog/format/labels"
)

// TestHelmDefaultEndToEnd runs the Helm chart's default kubernetes-pods
// job over pods of a fake API server and log files laid out like
// /var/log/pods: kube → relabel → discovery, as the agent wires them.
func TestHelmDefaultEndToEnd(t *testing.T) {
	root := t.TempDir()
	text, err := os.ReadFile("../config/testdata/helm-default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(string(text), "/var/log/pods", root)), nil)
	if err != nil {
		t.Fatal(err)
	}
	job := cfg.ScrapeConfigs[0]

	logFile := func(ns, pod, container, name string) string {
		p := filepath.Join(root, ns+"_"+pod+"_uid-"+pod, container, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("2026-01-01T00:00:00Z stdout F hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	web := testPod("prod", "trading-service-7d4b9c8f6d-x2x9q", "node-1", "app")
	web.Labels = map[string]string{"app": "trading-service", "pod-template-hash": "7d4b9c8f6d"}
	webLog := logFile("prod", web.Name, "app", "0.log")

	var mu sync.Mutex
	var diffs []discovery.Diff
	mgr := discovery.New(cfg.ScrapeConfigs, discovery.Options{Hostname: "node-1"}, func(d discovery.Diff) {
		mu.Lock()
		diffs = append(diffs, d)
		mu.Unlock()
	})
	targets := func() map[string]labels.Labels {
		out := map[string]labels.Labels{}
		for _, tg := range mgr.Targets() {
			out[strings.TrimPrefix(tg.Path, root+"/")] = tg.Labels
		}
		return out
	}

	cs := fake.NewClientset(web)
	d, err := New(fakePods{cs.CoreV1(), cs}, job.KubernetesSDConfigs[0], Options{Node: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error)
	c := newCollector()
	go func() {
		done <- d.Run(ctx, func(source string, ts []labels.Labels) {
			if err := mgr.Update(job.JobName, source, ts); err != nil {
				t.Error(err)
			}
			c.send(source, ts)
		})
	}()
	waitTargets := func(what string, cond func(map[string]labels.Labels) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond(targets()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; targets %v", what, targets())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	webRel := strings.TrimPrefix(webLog, root+"/")
	waitTargets("web pod", func(m map[string]labels.Labels) bool { return len(m) == 1 })
	want := labels.FromStrings(
		"app", "trading-service",
		"container", "app",
		"filename", webLog,
		"job", "prod/trading-service",
		"namespace", "prod",
		"node_name", "node-1",
		"pod", "trading-service-7d4b9c8f6d-x2x9q",
	)
	if diff := cmp.Diff(map[string]labels.Labels{webRel: want}, targets()); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}

	// A pod of a StatefulSet with an app.kubernetes.io/name label and an
	// instance, two containers; its files exist before it is seen.
	db := testPod("data", "pg-0", "node-1", "postgres", "exporter")
	db.Labels = map[string]string{"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "main"}
	db.OwnerReferences[0].Kind, db.OwnerReferences[0].Name = "StatefulSet", "pg"
	pgLog := logFile("data", "pg-0", "postgres", "0.log")
	exLog := logFile("data", "pg-0", "exporter", "0.log")
	if _, err := cs.CoreV1().Pods("data").Create(ctx, db, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets("db pod", func(m map[string]labels.Labels) bool { return len(m) == 3 })
	got := targets()[strings.TrimPrefix(pgLog, root+"/")]
	wantPG := labels.FromStrings("app", "postgresql", "container", "postgres", "filename", pgLog, "instance", "main",
		"job", "data/postgresql", "namespace", "data", "node_name", "node-1", "pod", "pg-0")
	if !labels.Equal(got, wantPG) {
		t.Errorf("pg target %s, want %s", got, wantPG)
	}
	if targets()[strings.TrimPrefix(exLog, root+"/")].Get("container") != "exporter" {
		t.Error("exporter target missing")
	}

	// The container restarts and writes 1.log: the periodic re-glob
	// finds it.
	newLog := logFile("prod", web.Name, "app", "1.log")
	mgr.Sync()
	if _, ok := targets()[strings.TrimPrefix(newLog, root+"/")]; !ok {
		t.Errorf("rotated file not found: %v", targets())
	}

	// A pod of another node never shows up; the web pod goes away.
	other := testPod("prod", "elsewhere", "node-2", "app")
	logFile("prod", "elsewhere", "app", "0.log")
	if _, err := cs.CoreV1().Pods("prod").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("prod").Delete(ctx, web.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets("web pod removed", func(m map[string]labels.Labels) bool { return len(m) == 2 })
	for p := range targets() {
		if !strings.HasPrefix(p, "data_pg-0_") {
			t.Errorf("unexpected target %s", p)
		}
	}
	mu.Lock()
	var added, removed int
	for _, d := range diffs {
		added += len(d.Added)
		removed += len(d.Removed)
	}
	mu.Unlock()
	if added != 4 || removed != 2 {
		t.Errorf("diffs added %d removed %d, want 4 and 2", added, removed)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
