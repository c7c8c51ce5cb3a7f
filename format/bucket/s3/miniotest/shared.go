package miniotest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the one server of a test binary that called Main. Package
// state is the point here: it outlives any single test.
var shared struct {
	sync.Mutex
	inMain bool
	srv    *Server
	err    error // why the server could not start, reported to every test
	skip   bool  // err means "no binary": skip instead of fail
	base   string
}

// Main runs the tests of a package whose tests share one MinIO server and
// stops that server afterwards. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }
//
// The server starts only when a test first calls StartShared.
func Main(m *testing.M) int {
	shared.Lock()
	shared.inMain = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.base != "" {
		_ = os.RemoveAll(shared.base) // best effort: a temporary directory
	}
	return code
}

// StartShared returns the server shared by the package's tests, starting
// it on first use. Tests get fresh buckets with NewBucket and must not
// stop the shared server; tests that stop or restart MinIO use Start.
// Without Main in TestMain, StartShared gives t a server of its own, since
// nothing would stop a shared one.
func StartShared(t testing.TB) *Server {
	t.Helper()
	shared.Lock()
	inMain := shared.inMain
	shared.Unlock()
	if !inMain {
		return Start(t)
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = startShared()
	}
	if shared.err != nil {
		if shared.skip {
			skipOrFail(t, shared.err)
		}
		t.Fatal(shared.err)
	}
	return shared.srv
}

func startShared() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		shared.skip = true
		return nil, err
	}
	base, err := os.MkdirTemp("", "kmlog-minio-")
	if err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	shared.base = base
	return newServer(bin, base)
}
