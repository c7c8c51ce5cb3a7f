package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

const tradingRules = `name: trading
interval: 1m
rules:
  - alert: TradingServiceErrors
    expr: sum by (app) (count_over_time({app="trading-service", level="error"}[5m])) > 10
    for: 1m
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.app }} logged {{ $value }} errors in 5 minutes"
  - record: app:errors:count5m
    expr: sum by (app) (count_over_time({app="trading-service", level="error"}[5m]))
`

// rulerTick runs one tick as its own process invocation, as a Knative
// PingSource wakes a scaled-to-zero Service: start kmlog -target=ruler,
// POST the tick with the schedule's time in ce-time, stop.
func rulerTick(t *testing.T, r *Proc, cfg Config, at time.Time) {
	t.Helper()
	r.Start(cfg)
	defer r.Stop()
	req, _ := http.NewRequest(http.MethodPost, r.URL("/"), nil)
	req.Header.Set("Ce-Time", at.UTC().Format(time.RFC3339))
	req.Header.Set("Ce-Type", "dev.knative.sources.ping")
	res, err := r.Client.Do(req)
	if err != nil {
		t.Fatalf("tick at %s: %v", at, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("tick at %s: %s: %s", at, res.Status, b)
	}
}

func apiGet(t *testing.T, p *Proc, path, org string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL(path), nil)
	req.Header.Set("X-Scope-OrgID", org)
	res, err := p.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestRulerTradingAlert is the trading-service scenario end to end: rules
// posted through the gateway's rules API, errors pushed with explicit
// timestamps, and ticks at explicit times, each run by a separate
// kmlog -target=ruler process over the same MinIO bucket, querying through
// a querier process. Alertmanager (the real one) sees the alert pending
// (not sent), then firing, then resolved, and notifies its webhook.
func TestRulerTradingAlert(t *testing.T) {
	am := StartAlertmanager(t)
	srv := miniotest.StartShared(t)
	_, storage := minioBucket(t, srv, t.Name())
	const org = "tenant-financial"

	all := NewProc(t, "all")
	all.Start(merge(storage, Config{"target": "all", "ruler": Config{"enabled": false}}))
	q := NewProc(t, "querier")
	q.Start(merge(storage, Config{"target": "querier"}))
	// The ruler runs as Knative runs it: no flags, K_SERVICE set, the
	// runtime contract's health endpoints.
	r := NewProc(t, "ruler")
	r.NoFlags, r.ReadyPath = true, "/health/readiness"
	r.Env = []string{"K_SERVICE=kmlog-ruler", "LISTEN_ADDRESS=" + r.Addr}
	rcfg := merge(storage, Config{"target": "ruler",
		"frontend": Config{"querier_url": q.URL("/")},
		"ruler": Config{
			"alertmanager_url": am.URL,
			"external_url":     "http://kmlog.example",
			// A firing alert's endsAt is four resend delays ahead: far
			// enough that Alertmanager keeps it active between ticks
			// whose times lie in the past.
			"resend_delay": "10m",
			"push_url":     all.URL("/loki/api/v1/push"),
		},
	})

	// Rules through the gateway (cortextool's call).
	req, _ := http.NewRequest(http.MethodPost, all.URL("/loki/api/v1/rules/prod"), strings.NewReader(tradingRules))
	req.Header.Set("X-Scope-OrgID", org)
	req.Header.Set("Content-Type", "application/yaml")
	res, err := all.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("post rules: %s", res.Status)
	}
	// A bad rule file is refused and changes nothing.
	bad := strings.Replace(tradingRules, "> 10", "> ", 1)
	req, _ = http.NewRequest(http.MethodPost, all.URL("/loki/api/v1/rules/prod"), strings.NewReader(bad))
	req.Header.Set("X-Scope-OrgID", org)
	res, err = all.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !strings.Contains(string(msg), `group "trading", rule 1, "TradingServiceErrors"`) {
		t.Fatalf("bad rules: %s %s", res.Status, msg)
	}

	// 12 errors in the minute after base; ticks at base+1m (pending),
	// base+2m (held for 1m: firing) and base+6m (the 5m window has
	// passed the errors: resolved). All times are in the past.
	base := time.Now().UTC().Truncate(time.Minute).Add(-6 * time.Minute)
	var values []string
	for i := range 12 {
		ts := base.Add(time.Duration(5+i*4) * time.Second)
		values = append(values, fmt.Sprintf(`["%d", %q]`, ts.UnixNano(), fmt.Sprintf(`{"level":"error","msg":"transaction failed","n":%d}`, i)))
	}
	body := `{"streams":[{"stream":{"namespace":"prod","app":"trading-service","pod":"trading-service-xyz","level":"error"},"values":[` + strings.Join(values, ",") + `]}]}`
	all.MustPush(Push{Body: []byte(body), ContentType: "application/json", OrgID: org}, http.StatusNoContent)
	all.Flush() // the querier process reads the bucket

	rulerTick(t, r, rcfg, base.Add(time.Minute))
	_, alerts := apiGet(t, all, "/prometheus/api/v1/alerts", org)
	if !strings.Contains(alerts, `"state":"pending"`) || !strings.Contains(alerts, `"app":"trading-service"`) {
		t.Fatalf("after the first tick: %s", alerts)
	}
	if got := am.Alerts(); len(got) != 0 {
		t.Fatalf("Alertmanager has %d alerts while pending", len(got))
	}

	// The next tick comes as a Lambda schedule event (EventBridge) to a
	// kmlog running on the Lambda runtime API: the state the Knative
	// invocation left in the bucket carries over.
	rt := startLambdaRuntime(t)
	lam := NewProc(t, "ruler-lambda")
	lam.NoFlags = true
	lam.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.Addr, "AWS_LAMBDA_FUNCTION_NAME=kmlog-dev-ruler", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIAE2EEXAMPLE", "AWS_SECRET_ACCESS_KEY=e2e-not-a-secret", "AWS_SESSION_TOKEN=e2e",
	}
	lam.Launch(rcfg)
	rt.Invoke(t, map[string]any{
		"version": "0", "id": "e2e-tick", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "123456789012", "time": base.Add(2 * time.Minute).Format(time.RFC3339), "region": "eu-west-1",
		"resources": []string{"arn:aws:events:eu-west-1:123456789012:rule/kmlog-ruler"}, "detail": map[string]any{},
	})
	lam.Kill() // Lambda freezes and discards environments; the runtime loop does not exit on SIGTERM
	var firing amAlert
	waitFor(t, "the firing alert in Alertmanager", 30*time.Second, func() bool {
		for _, a := range am.Alerts() {
			if a.Labels["alertname"] == "TradingServiceErrors" && a.Status.State == "active" {
				firing = a
				return true
			}
		}
		return false
	})
	if firing.Labels["tenant"] != org || firing.Labels["app"] != "trading-service" || firing.Labels["severity"] != "page" {
		t.Errorf("labels %v", firing.Labels)
	}
	if firing.Annotations["summary"] != "trading-service logged 12 errors in 5 minutes" {
		t.Errorf("summary %q", firing.Annotations["summary"])
	}
	if !firing.StartsAt.Equal(base.Add(2 * time.Minute)) {
		t.Errorf("startsAt %s, want %s", firing.StartsAt, base.Add(2*time.Minute))
	}
	if u, err := url.Parse(firing.GeneratorURL); err != nil || !strings.Contains(u.Query().Get("g0.expr"), `count_over_time({app="trading-service", level="error"}[5m])`) {
		t.Errorf("generatorURL %q", firing.GeneratorURL)
	}
	_, alerts = apiGet(t, all, "/prometheus/api/v1/alerts", org)
	if !strings.Contains(alerts, `"state":"firing"`) {
		t.Fatalf("after the second tick: %s", alerts)
	}
	// Another tenant sees none of it.
	if _, other := apiGet(t, all, "/prometheus/api/v1/alerts", "tenant-other"); !strings.Contains(other, `"alerts":[]`) {
		t.Fatalf("another tenant's alerts: %s", other)
	}

	// The recording rule's samples read back through the query path.
	recQ := url.Values{"query": {`max_over_time({record="app:errors:count5m"} | logfmt | unwrap value [5m])`}, "time": {fmt.Sprint(base.Add(3 * time.Minute).Unix())}}
	code, rec := apiGet(t, all, "/loki/api/v1/query?"+recQ.Encode(), org)
	var qr struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(rec), &qr); code != 200 || err != nil || len(qr.Data.Result) != 1 || qr.Data.Result[0].Value[1] != "12" || qr.Data.Result[0].Metric["app"] != "trading-service" {
		t.Fatalf("recorded series: %d %s", code, rec)
	}

	rulerTick(t, r, rcfg, base.Add(6*time.Minute))
	waitFor(t, "the alert resolved in Alertmanager", 30*time.Second, func() bool {
		for _, a := range am.Alerts() {
			if a.Labels["alertname"] == "TradingServiceErrors" && a.Status.State == "active" {
				return false
			}
		}
		return true
	})
	waitFor(t, "firing and resolved notifications", 30*time.Second, func() bool {
		var fired, resolved bool
		for _, h := range am.Notified() {
			for _, a := range h.Alerts {
				if a.Labels["alertname"] == "TradingServiceErrors" && a.Labels["tenant"] == org {
					fired = fired || a.Status == "firing"
					resolved = resolved || a.Status == "resolved" && a.EndsAt.Equal(base.Add(6*time.Minute))
				}
			}
		}
		return fired && resolved
	})
	_, alerts = apiGet(t, all, "/prometheus/api/v1/alerts", org)
	if !strings.Contains(alerts, `"alerts":[]`) {
		t.Fatalf("after the resolving tick: %s", alerts)
	}
}
