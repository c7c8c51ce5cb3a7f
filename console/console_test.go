package console

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestHandler(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TraceURL = "https://jaeger.example/trace/{trace_id}"
	cfg.AuthEnabled = true
	h, err := Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range Routes {
		mux.Handle(p, h)
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) }))

	for _, p := range []string{"/", "/console/"} {
		res, body := get(t, mux, p)
		if res.StatusCode != 200 || !strings.Contains(body, `<div id="app">`) || !strings.Contains(body, "/console/assets/") {
			t.Errorf("GET %s: %d %q", p, res.StatusCode, body)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", p)
		}
	}
	res, body := get(t, mux, "/console/config.json")
	var cc clientConfig
	if err := json.Unmarshal([]byte(body), &cc); err != nil || res.StatusCode != 200 {
		t.Fatalf("config.json: %d %q %v", res.StatusCode, body, err)
	}
	if cc != (clientConfig{TraceField: "trace_id", TraceURL: cfg.TraceURL, AuthEnabled: true}) {
		t.Errorf("config.json = %+v", cc)
	}
	assets, err := fs.Glob(dist, "dist/assets/*.js")
	if err != nil || len(assets) == 0 {
		t.Fatalf("no embedded JS: %v", err)
	}
	res, body = get(t, mux, "/console/"+strings.TrimPrefix(assets[0], "dist/"))
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") || len(body) < 1000 {
		t.Errorf("asset: %d %v %d bytes", res.StatusCode, res.Header, len(body))
	}
	// With Accept-Encoding: gzip the same bytes come compressed.
	req := httptest.NewRequest(http.MethodGet, "/console/"+strings.TrimPrefix(assets[0], "dist/"), nil)
	req.Header.Set("Accept-Encoding", "br, gzip;q=0.8")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(rec.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("gzip asset: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || string(unzipped) != body {
		t.Errorf("gzip asset decodes to %d bytes (%v), want the %d plain bytes", len(unzipped), err, len(body))
	}
	if !acceptsGzip(req) || acceptsGzip(httptest.NewRequest(http.MethodGet, "/", nil)) {
		t.Error("acceptsGzip")
	}
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	if acceptsGzip(req) {
		t.Error("acceptsGzip(gzip;q=0)")
	}
	if res, _ := get(t, mux, "/console/assets/nope.js"); res.StatusCode != 404 {
		t.Errorf("missing asset: %d", res.StatusCode)
	}
	if res, _ := get(t, mux, "/console/assets/../../console.go"); res.StatusCode == 200 {
		t.Errorf("path escape: %d", res.StatusCode)
	}
	// The API's paths are not the console's.
	if res, _ := get(t, mux, "/loki/api/v1/labels"); res.StatusCode != http.StatusTeapot {
		t.Errorf("API path reached the console: %d", res.StatusCode)
	}
}

func TestHandlerDisabled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enabled = false
	h, err := Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, h, "/"); res.StatusCode != 404 {
		t.Errorf("disabled console: %d", res.StatusCode)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"no trace links", func(c *Config) { c.TraceURL = ""; c.TraceField = "" }, ""},
		{"no placeholder", func(c *Config) { c.TraceURL = "http://jaeger/trace/" }, "placeholder"},
		{"scheme", func(c *Config) { c.TraceURL = "javascript:alert({trace_id})" }, "http"},
		{"no field", func(c *Config) { c.TraceField = "" }, "trace_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.cfg(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
