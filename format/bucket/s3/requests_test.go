package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/s3"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

// requestLog is a reverse proxy in front of MinIO that records each
// request as "METHOD status".
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	return r
}

// TestRequests checks the cost of each call in HTTP requests, through a
// counting proxy: one request per call, errors found by the call itself.
func TestRequests(t *testing.T) {
	srv := miniotest.StartShared(t)
	name := srv.NewBucket(t, "requests").Name()

	target, _ := url.Parse("http://" + srv.Endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var log requestLog
	proxy.ModifyResponse = func(resp *http.Response) error {
		log.mu.Lock()
		log.reqs = append(log.reqs, fmt.Sprintf("%s %d", resp.Request.Method, resp.StatusCode))
		log.mu.Unlock()
		return nil
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	cfg := srv.Config(name)
	cfg.Endpoint = strings.TrimPrefix(front.URL, "http://")
	cfg.CreateBucket = false
	b, err := s3.New(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"put", func() error { return bucket.PutBytes(ctx, b, "k", make([]byte, 1000)) }, []string{"PUT 200"}},
		{"get", func() error { _, err := bucket.ReadAll(ctx, b, "k"); return err }, []string{"GET 200"}},
		{"range", func() error { return readRange(ctx, b, 10, 10, 10) }, []string{"GET 206"}},
		{"range to end", func() error { return readRange(ctx, b, 990, -1, 10) }, []string{"GET 206"}},
		{"range past end", func() error { return readRange(ctx, b, 5000, 10, 0) }, []string{"GET 416"}},
		{"range empty", func() error { return readRange(ctx, b, 0, 0, 0) }, []string{"HEAD 200"}},
		{"stat", func() error { _, err := b.Stat(ctx, "k"); return err }, []string{"HEAD 200"}},
		{"get missing", func() error { return wantNotExist(b.Get(ctx, "missing")) }, []string{"GET 404"}},
		{"range missing", func() error { return wantNotExist(b.GetRange(ctx, "missing", 5, 5)) }, []string{"GET 404"}},
		{"put if absent, taken", func() error {
			err := b.PutIfAbsent(ctx, "k", strings.NewReader("x"), 1)
			if !errors.Is(err, bucket.ErrExist) {
				return fmt.Errorf("PutIfAbsent = %v, want ErrExist", err)
			}
			return nil
		}, []string{"PUT 412"}},
		{"list", func() error { return b.List(ctx, "", func(bucket.ObjectInfo) error { return nil }) }, []string{"GET 200"}},
		{"delete", func() error { return b.Delete(ctx, "k") }, []string{"DELETE 204"}},
		{"put empty", func() error { return bucket.PutBytes(ctx, b, "empty", nil) }, []string{"PUT 200"}},
		{"short body", func() error {
			if b.Put(ctx, "short", strings.NewReader("abc"), 5) == nil {
				return errors.New("Put of 3 bytes announced as 5: no error")
			}
			return nil
		}, nil}, // refused before any request
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, log.take()); diff != "" {
			t.Errorf("%s: requests (-want +got):\n%s", s.name, diff)
		}
	}
}

func readRange(ctx context.Context, b bucket.Bucket, off, length int64, want int) error {
	rc, err := b.GetRange(ctx, "k", off, length)
	if err != nil {
		return err
	}
	defer rc.Close()
	p, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if len(p) != want {
		return fmt.Errorf("GetRange(%d, %d) read %d bytes, want %d", off, length, len(p), want)
	}
	return nil
}

func wantNotExist(_ any, err error) error {
	if !errors.Is(err, bucket.ErrNotExist) {
		return fmt.Errorf("got %v, want ErrNotExist", err)
	}
	return nil
}
