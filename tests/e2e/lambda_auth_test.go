package e2e

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestLambdaFrontendAuth runs the query frontend as a Lambda function — the
// kmlog binary under the Lambda Runtime API, fed API Gateway HTTP API
// (payload 2.0) events — with the serverless.yml wiring: tokens verified in
// the function, shards sent to a querier. A request without a valid token
// is refused, and a valid token for tenant A with a forged X-Scope-OrgID
// naming tenant B reads A's logs only.
func TestLambdaFrontendAuth(t *testing.T) {
	const secret = "lambda-e2e-secret-at-least-32-bytes!"
	auth := Config{"auth": Config{"enabled": true, "hs256_secret": secret}}
	storage := Config{"storage": Config{"backend": "dir", "dir": filepath.Join(t.TempDir(), "objects")}}

	// Data for two tenants, written through an authenticated gateway.
	all := NewProc(t, "all")
	all.Start(merge(Config{"target": "all", "gateway": auth}, storage))
	token := func(tenantID string, exp time.Duration) string {
		return signHS256(t, secret, jwt.MapClaims{"tenant": tenantID, "exp": time.Now().Add(exp).Unix()})
	}
	tokA, tokB := token("tenant-a", time.Hour), token("tenant-b", time.Hour)
	now := time.Now()
	for tid, tok := range map[string]string{"tenant-a": tokA, "tenant-b": tokB} {
		body := fmt.Sprintf(`{"streams":[{"stream":{"app":"lambda"},"values":[["%d","private line of %s"]]}]}`, now.UnixNano(), tid)
		all.MustPush(Push{Body: []byte(body), ContentType: "application/json", Token: tok}, 204)
	}
	all.Token = tokA
	all.Flush()

	q := NewProc(t, "querier")
	q.Start(merge(Config{"target": "querier"}, storage))

	rt := startLambdaRuntime(t)
	fe := NewProc(t, "frontend-lambda")
	fe.NoFlags = true
	fe.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.Addr, "KMLOG_TARGET=frontend",
		"AWS_LAMBDA_FUNCTION_NAME=kmlog-dev-frontend", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024", "AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIAE2EEXAMPLE", "AWS_SECRET_ACCESS_KEY=e2e-not-a-secret", "AWS_SESSION_TOKEN=e2e",
	}
	fe.Launch(merge(Config{"frontend": Config{"querier_url": q.URL("/")}, "gateway": auth}, storage))

	query := "/loki/api/v1/query_range?" + url.Values{
		"query": {`{app="lambda"}`}, "limit": {"100"},
		"start": {strconv.FormatInt(now.Add(-time.Hour).UnixNano(), 10)}, "end": {strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10)},
	}.Encode()

	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"no token", nil},
		{"tenant header only", map[string]string{"X-Scope-OrgID": "tenant-a"}},
		{"bad signature", map[string]string{"Authorization": "Bearer " + signHS256(t, strings.Repeat("x", 40), jwt.MapClaims{"tenant": "tenant-a", "exp": time.Now().Add(time.Hour).Unix()})}},
		{"expired", map[string]string{"Authorization": "Bearer " + token("tenant-a", -time.Hour)}},
		{"not a JWT", map[string]string{"Authorization": "Bearer tenant-a"}},
	} {
		code, hdr, body := rt.HTTP(t, query, tc.headers)
		if code != 401 {
			t.Errorf("%s: status %d, want 401: %s", tc.name, code, body)
		}
		if !strings.HasPrefix(hdr["WWW-Authenticate"]+hdr["Www-Authenticate"], "Bearer") {
			t.Errorf("%s: no WWW-Authenticate: Bearer in %v", tc.name, hdr)
		}
		if strings.Contains(body, "private line") {
			t.Errorf("%s: refused request leaked data: %s", tc.name, body)
		}
	}

	// A valid token for A, a forged header for B: A's logs only.
	code, _, body := rt.HTTP(t, query, map[string]string{"Authorization": "Bearer " + tokA, "X-Scope-OrgID": "tenant-b"})
	if code != 200 || !strings.Contains(body, "private line of tenant-a") || strings.Contains(body, "tenant-b") {
		t.Fatalf("token A with X-Scope-OrgID tenant-b: %d %s; want tenant-a's line only", code, body)
	}
	// Basic auth with the token as password, as Grafana sends it.
	code, _, body = rt.HTTP(t, query, map[string]string{
		"Authorization": "Basic " + basicAuth("tenant-a", tokB), "X-Scope-OrgID": "tenant-a",
	})
	if code != 200 || !strings.Contains(body, "private line of tenant-b") || strings.Contains(body, "tenant-a") {
		t.Fatalf("basic auth with token B: %d %s; want tenant-b's line only", code, body)
	}
	// Label APIs follow the same rule.
	code, _, body = rt.HTTP(t, "/loki/api/v1/label/app/values", map[string]string{"Authorization": "Bearer " + tokA})
	if code != 200 || !strings.Contains(body, `"lambda"`) {
		t.Fatalf("label values: %d %s", code, body)
	}
	code, _, _ = rt.HTTP(t, "/loki/api/v1/label/app/values", map[string]string{"X-Scope-OrgID": "tenant-a"})
	if code != 401 {
		t.Fatalf("label values without a token: %d, want 401", code)
	}
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
