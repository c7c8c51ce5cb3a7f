// Package miniotest runs a real MinIO server for tests, on a free
// 127.0.0.1 port with its data in a temporary directory.
//
//	func TestThing(t *testing.T) {
//		srv := miniotest.Start(t)          // or miniotest.StartShared(t)
//		b := srv.NewBucket(t, "thing")     // a fresh, empty bucket
//		...
//	}
//
// The MinIO binary is looked up in $KMLOG_MINIO, then
// $HOME/.cache/kmlog/bin/minio, then PATH. When there is none, tests skip
// with a message saying how to install it, except under CI ($CI set),
// where they fail: CI must not pass by skipping the real backend.
//
// As a test-support package it reads the environment, which the rest of
// kmlog leaves to cmd/.
package miniotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubemate/kmlog/format/bucket/s3"
)

// Version is the MinIO release the tests are written against.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// InstallHint tells how to get the binary where the tests look for it.
const InstallHint = "GOBIN=$HOME/.cache/kmlog/bin go install github.com/minio/minio@" + Version

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	region       = "us-east-1"
)

// Server is one MinIO process. Its address and data directory stay the
// same across Stop, Kill and Restart, as they would for a real server that
// crashes and comes back.
type Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string

	bin     string
	dataDir string
	logPath string
	console string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited

	buckets atomic.Int64
}

// Binary returns the path of the MinIO binary, or an error that says where
// it looked and how to install it.
func Binary() (string, error) {
	var tried []string
	if p := os.Getenv("KMLOG_MINIO"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p+" ($KMLOG_MINIO)")
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "kmlog", "bin", "minio")
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	tried = append(tried, "minio in PATH")
	return "", fmt.Errorf("find minio binary: tried %s; install it with: %s", strings.Join(tried, ", "), InstallHint)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// skipOrFail skips t, or fails it under CI.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v ($CI is set, so a missing MinIO is a failure)", err)
	}
	t.Skip(err)
}

// Start runs a MinIO server for t and stops it when t ends. It skips t
// when there is no MinIO binary (fails under CI).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		skipOrFail(t, err)
	}
	s, err := newServer(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func newServer(bin, base string) (*Server, error) {
	s := &Server{
		AccessKey: "kmlog-test",
		SecretKey: "kmlog-test-secret",
		bin:       bin,
		dataDir:   filepath.Join(base, "data"),
		logPath:   filepath.Join(base, "minio.log"),
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	// Ports are picked free and can be taken before MinIO binds them; try
	// again with new ones when that happens.
	var err error
	for range 3 {
		s.Endpoint, s.console, err = freeAddrs()
		if err != nil {
			return nil, fmt.Errorf("start minio: %w", err)
		}
		if err = s.launch(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// freeAddrs returns two free loopback addresses, for the API and the
// console.
func freeAddrs() (string, string, error) {
	var addrs [2]string
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", fmt.Errorf("find free port: %w", err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs[0], addrs[1], nil
}

// launch starts the process and waits until it is healthy.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start minio: %w", err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(s.bin, "server", s.dataDir,
		"--address", s.Endpoint, "--console-address", s.console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // accept a data directory on the root drive
		"MINIO_REGION="+region,
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	fmt.Fprintf(logf, "--- %s: %s\n", time.Now().Format(time.RFC3339), strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start minio: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is in the log
		close(done)
	}()
	if err := waitHealthy(s.Endpoint, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("start minio on %s: %w\n%s", s.Endpoint, err, s.logTail())
	}
	s.cmd, s.done = cmd, done
	return nil
}

func waitHealthy(endpoint string, done <-chan struct{}) error {
	url := "http://" + endpoint + "/minio/health/live"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("minio exited")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %v", startTimeout)
		}
	}
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "minio log:\n" + string(bytes.TrimSpace(b))
}

// Stop shuts the server down gracefully (SIGTERM, then SIGKILL after
// a timeout) and waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill ends the server at once with SIGKILL, as a crash would, and waits
// for it to exit.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig) // fails only if it has already exited
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// Restart stops the server if it runs and starts it again on the same
// address with the same data.
func (s *Server) Restart() error {
	s.Stop()
	return s.launch()
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Config returns a bucket config for this server.
func (s *Server) Config(bucketName string) s3.Config {
	cfg := s3.DefaultConfig()
	cfg.Endpoint = s.Endpoint
	cfg.Bucket = bucketName
	cfg.Region = region
	cfg.AccessKeyID = s.AccessKey
	cfg.SecretAccessKey = s.SecretKey
	cfg.Insecure = true
	cfg.CreateBucket = true
	return cfg
}

// NewBucket creates a new, empty bucket whose name starts with name (made
// valid) and ends with a number unique to this server, and returns it.
func (s *Server) NewBucket(t testing.TB, name string) *s3.Bucket {
	t.Helper()
	bucketName := fmt.Sprintf("%s-%d", bucketNamePart(name), s.buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := s3.New(ctx, s.Config(bucketName), nil)
	if err != nil {
		t.Fatalf("new bucket %s: %v", bucketName, err)
	}
	return b
}

// bucketNamePart turns a test name into the start of a valid bucket name.
func bucketNamePart(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			if sb.Len() > 0 && !strings.HasSuffix(sb.String(), "-") {
				sb.WriteByte('-')
			}
		}
	}
	out := strings.TrimSuffix(sb.String(), "-")
	if len(out) > 40 {
		out = strings.TrimSuffix(out[:40], "-")
	}
	if out == "" {
		out = "test"
	}
	return out
}
