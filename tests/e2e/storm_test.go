package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStormAlert: the agent tails a pod's log written far above its limit
// stage's rate; it drops the excess and ships a drop report; the
// all-in-one kmlog's own ruler timer evaluates the default LogStorm rule
// (over the ingester's recent data: nothing is flushed) and the storm
// alert reaches Alertmanager naming the pod.
func TestStormAlert(t *testing.T) {
	am := StartAlertmanager(t)
	const org = "tenant-storm"
	all := NewProc(t, "all")
	all.Start(Config{"target": "all", "ruler": Config{
		"enabled":               true,
		"evaluation_interval":   "2s",
		"alertmanager_url":      am.URL,
		"default_rules_tenants": []any{org},
	}})

	root := filepath.Join(t.TempDir(), "pods")
	pl := newPodLog(t, root, "prod", "trading-service-storm", "app")
	agent := NewAgentProc(t, "agent", Config{
		"clients": []any{Config{
			"url": all.URL("/loki/api/v1/push"), "tenant_id": org, "batchwait": "100ms",
		}},
		"global": Config{"file_watch_config": Config{"min_poll_frequency": "50ms", "max_poll_frequency": "50ms"}},
		"scrape_configs": []any{Config{
			"job_name": "pods",
			"pipeline_stages": []any{
				Config{"cri": Config{}},
				Config{"limit": Config{"rate": 10, "burst": 10, "drop": true}},
			},
			"static_configs": []any{Config{
				"targets": []any{"localhost"},
				"labels": Config{"namespace": "prod", "pod": "trading-service-storm", "container": "app",
					"__path__": filepath.Join(root, "prod_trading-service-storm_*", "app", "0.log")},
			}},
		}},
	})
	agent.Args = []string{"-drop-report.interval=1s"}
	agent.Start()

	// 5,000 lines at once: the limit lets ~10 through.
	now := time.Now()
	for i := range 5000 {
		pl.write(t, now, "F", fmt.Sprintf(`{"level":"error","msg":"retrying order %d"}`, i))
	}
	var storm amAlert
	waitFor(t, "the LogStorm alert in Alertmanager", 90*time.Second, func() bool {
		for _, a := range am.Alerts() {
			if a.Labels["alertname"] == "LogStorm" {
				storm = a
				return true
			}
		}
		return false
	})
	if storm.Labels["pod"] != "trading-service-storm" || storm.Labels["namespace"] != "prod" || storm.Labels["tenant"] != org || storm.Labels["reason"] != "ratelimit_drop_stage" {
		t.Errorf("storm alert labels %v", storm.Labels)
	}
	if !strings.Contains(storm.Annotations["summary"], "prod/trading-service-storm") {
		t.Errorf("summary %q", storm.Annotations["summary"])
	}
	// The drop report is queryable like any stream.
	code, body := apiGet(t, all, "/loki/api/v1/query?query="+strings.ReplaceAll(`sum(sum_over_time({kmlog_agent="drops"} | logfmt | unwrap dropped [10m]))`, " ", "%20"), org)
	if code != http.StatusOK || !strings.Contains(body, `"result":[{`) {
		t.Fatalf("drop report query: %d %s", code, body)
	}
}
