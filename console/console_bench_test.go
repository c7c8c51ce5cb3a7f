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
	for _, c := range []struct{ name, path string }{
		{"index", "/"},
		{"asset", "/console/" + strings.TrimPrefix(js[0], "dist/")},
	} {
		path := c.path
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodGet, path, nil)
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
