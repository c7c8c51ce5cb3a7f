package ruler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// AlertmanagerConfig says where alerts go, with Loki's field names.
type AlertmanagerConfig struct {
	// URL is one Alertmanager base URL or several separated by commas;
	// every alert goes to each of them. Empty: alerts are evaluated but
	// not sent.
	URL string `yaml:"alertmanager_url"`
	// Client holds the credentials sent to every URL.
	Client AlertmanagerClient `yaml:"alertmanager_client"`
	// Timeout bounds one POST.
	Timeout time.Duration `yaml:"notification_timeout"`
	// TenantLabel is the label that carries the tenant's ID on every alert
	// sent (Alertmanager routes on it); empty leaves it out.
	TenantLabel string `yaml:"tenant_label"`
}

// AlertmanagerClient holds HTTP credentials: basic auth, or a bearer token
// in Credentials (type Bearer, Loki's default type).
type AlertmanagerClient struct {
	BasicAuthUsername string `yaml:"basic_auth_username"`
	BasicAuthPassword string `yaml:"basic_auth_password"`
	Type              string `yaml:"type"`
	Credentials       string `yaml:"credentials"`
}

// URLs returns the configured URLs.
func (c AlertmanagerConfig) URLs() []string {
	var out []string
	for u := range strings.SplitSeq(c.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, strings.TrimSuffix(u, "/"))
		}
	}
	return out
}

// amAlert is one alert of Alertmanager's v2 API (POST /api/v2/alerts).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// notifier posts alerts to every configured Alertmanager.
type notifier struct {
	cfg    AlertmanagerConfig
	urls   []string
	client *http.Client
}

func newNotifier(cfg AlertmanagerConfig, client *http.Client) *notifier {
	if client == nil {
		client = &http.Client{}
	}
	return &notifier{cfg: cfg, urls: cfg.URLs(), client: client}
}

func (n *notifier) enabled() bool { return len(n.urls) > 0 }

// send posts alerts to every Alertmanager. It succeeds when at least one
// took them, as Prometheus counts a batch sent; the error names the others.
func (n *notifier) send(ctx context.Context, alerts []amAlert) error {
	if len(alerts) == 0 || !n.enabled() {
		return nil
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("encode alerts: %w", err)
	}
	var errs []error
	ok := 0
	for _, u := range n.urls {
		if err := n.post(ctx, u, body); err != nil {
			errs = append(errs, err)
			continue
		}
		ok++
	}
	if ok == 0 {
		return errors.Join(errs...)
	}
	return nil
}

func (n *notifier) post(ctx context.Context, base string, body []byte) error {
	if n.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
	}
	url := base + "/api/v2/alerts"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post alerts to %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kmlog-ruler")
	c := n.cfg.Client
	switch {
	case c.Credentials != "":
		typ := c.Type
		if typ == "" {
			typ = "Bearer"
		}
		req.Header.Set("Authorization", typ+" "+c.Credentials)
	case c.BasicAuthUsername != "" || c.BasicAuthPassword != "":
		req.SetBasicAuth(c.BasicAuthUsername, c.BasicAuthPassword)
	}
	res, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("post alerts to %s: %w", base, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("post alerts to %s: %s: %s", base, res.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
