package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkForward measures what the split deployment adds to a query: the
// gateway's authentication and one proxied round trip over loopback to a
// frontend that answers a small body, against calling that frontend
// directly.
func BenchmarkForward(b *testing.B) {
	frontend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"success","data":["app","namespace"]}`)
	}))
	defer frontend.Close()
	base, _ := url.Parse(frontend.URL)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	fwd, err := Forward(base, tr, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Auth = testAuthConfig(b)
	auth, err := NewAuthenticator(cfg.Auth, nil, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	gw := httptest.NewServer(Handler(cfg, auth, Routes{Query: fwd, ForwardCredentials: true}, discardLogger(), prometheus.NewRegistry()))
	defer gw.Close()
	tok := sign(b, jwt.SigningMethodHS256, []byte(testSecret), "", claimsFor("tenant-a"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for _, tc := range []struct{ name, url string }{{"direct", frontend.URL}, {"through_gateway", gw.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, tc.url+"/loki/api/v1/labels", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
	client.CloseIdleConnections()
}
