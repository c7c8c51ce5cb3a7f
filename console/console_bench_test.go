package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHandler measures serving the app: index.html and its largest
// asset.
func BenchmarkHandler(b *testing.B) {
	h, err := Handler(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range Routes {
		mux.Handle(p, h)
	}
	js, err := fs.Glob(dist, "dist/assets/*.js")
	if err != nil || len(js) == 0 {
		b.Fatal("no embedded JS")
	}
	asset := "/console/" + strings.TrimPrefix(js[0], "dist/")
	for _, c := range []struct{ name, path, enc string }{
		{"index", "/", ""},
		{"asset", asset, ""},
		{"asset-gzip", asset, "gzip"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("Accept-Encoding", c.enc)
			for b.Loop() {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
