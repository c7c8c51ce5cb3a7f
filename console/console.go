package console

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Config is the console section of kmlog's config.
type Config struct {
	// Enabled serves the console; off, its routes answer 404.
	Enabled bool `yaml:"enabled"`
	// TraceField is the label, structured-metadata or JSON field whose
	// value is a trace id.
	TraceField string `yaml:"trace_field"`
	// TraceURL is the link a trace id becomes; "{trace_id}" is replaced
	// by the (URL-escaped) id. Empty: trace ids are not links.
	TraceURL string `yaml:"trace_url"`
	// AuthEnabled tells the app to ask for a bearer token. cmd/kmlog sets
	// it from the gateway's auth setting; it is not read from YAML.
	AuthEnabled bool `yaml:"-"`
}

// DefaultConfig serves the console and links trace_id to a local Jaeger.
func DefaultConfig() Config {
	return Config{
		Enabled:    true,
		TraceField: "trace_id",
		TraceURL:   "http://localhost:16686/trace/{trace_id}",
	}
}

// Validate checks c.
func (c Config) Validate() error {
	if c.TraceURL != "" && !strings.Contains(c.TraceURL, "{trace_id}") {
		return fmt.Errorf("console.trace_url %q: want a {trace_id} placeholder", c.TraceURL)
	}
	if c.TraceURL != "" && !strings.HasPrefix(c.TraceURL, "http://") && !strings.HasPrefix(c.TraceURL, "https://") {
		return fmt.Errorf("console.trace_url %q: want an http:// or https:// URL", c.TraceURL)
	}
	if c.TraceURL != "" && c.TraceField == "" {
		return errors.New("console.trace_field: empty while trace_url is set")
	}
	return nil
}

// clientConfig is /console/config.json.
type clientConfig struct {
	TraceField  string `json:"traceField"`
	TraceURL    string `json:"traceURL"`
	AuthEnabled bool   `json:"authEnabled"`
}

// Handler serves the app and its config. It answers 404 for paths that are
// not its own, so it can sit in a mux beside the API.
func Handler(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return http.NotFoundHandler(), nil
	}
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, fmt.Errorf("open embedded console: %w", err)
	}
	index, err := fs.ReadFile(root, "index.html")
	if err != nil {
		return nil, fmt.Errorf("read embedded console: %w (build it with `npm ci && npm run build` in console/)", err)
	}
	conf, err := json.Marshal(clientConfig{TraceField: cfg.TraceField, TraceURL: cfg.TraceURL, AuthEnabled: cfg.AuthEnabled})
	if err != nil {
		return nil, fmt.Errorf("encode console config: %w", err)
	}
	gz, err := gzipAssets(root)
	if err != nil {
		return nil, err
	}
	assets := http.FileServerFS(root)
	mux := http.NewServeMux()
	serveIndex := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
	}
	mux.HandleFunc("GET /{$}", serveIndex)
	mux.HandleFunc("GET /console/{$}", serveIndex)
	mux.HandleFunc("GET /console/config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(conf)
	})
	mux.HandleFunc("GET /console/assets/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/console/")
		if _, err := fs.Stat(root, path.Clean(name)); err != nil {
			http.NotFound(w, r)
			return
		}
		// Asset names carry a content hash.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Vary", "Accept-Encoding")
		if b, ok := gz[name]; ok && acceptsGzip(r) {
			w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			if r.Method != http.MethodHead {
				_, _ = w.Write(b)
			}
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		assets.ServeHTTP(w, r2)
	})
	return mux, nil
}

// Routes are the mux patterns Handler answers, for a caller that mounts
// it beside other routes.
var Routes = []string{"GET /{$}", "GET /console/"}

// gzipAssets compresses the JS and CSS assets once, at start.
func gzipAssets(root fs.FS) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(root, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := path.Ext(name); ext != ".js" && ext != ".css" {
			return nil
		}
		raw, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(raw)
		if err := zw.Close(); err != nil {
			return err
		}
		if buf.Len() < len(raw) {
			out[name] = buf.Bytes()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compress console assets: %w", err)
	}
	return out, nil
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
