package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

// srvServer is a tiny DNS server that answers SRV questions for one name,
// as a Kubernetes headless Service's records answer for its pods; every
// other question is NXDOMAIN. The targets are localhost on each member's
// port (Go refuses IP addresses as SRV targets). kmlog reaches it through
// ring.dns_server.
type srvServer struct {
	Addr string
	name string

	mu      sync.Mutex
	targets []*net.TCPAddr
	conn    net.PacketConn
}

func startSRVServer(t testing.TB, name string, members []string) *srvServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &srvServer{Addr: pc.LocalAddr().String(), name: strings.ToLower(strings.TrimSuffix(name, ".")) + ".", conn: pc}
	for _, m := range members {
		a, err := net.ResolveTCPAddr("tcp", m)
		if err != nil {
			t.Fatal(err)
		}
		s.targets = append(s.targets, a)
	}
	go s.serve()
	t.Cleanup(func() { _ = pc.Close() })
	return s
}

func (s *srvServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
		match := strings.EqualFold(q.Name.String(), s.name)
		if !match {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if match && q.Type == dnsmessage.TypeSRV {
			s.mu.Lock()
			for _, a := range s.targets {
				_ = b.SRVResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET, TTL: 5},
					dnsmessage.SRVResource{Priority: 0, Weight: 33, Port: uint16(a.Port), Target: dnsmessage.MustNewName("localhost.")})
			}
			s.mu.Unlock()
		}
		out, err := b.Finish()
		if err == nil {
			_, _ = s.conn.WriteTo(out, from)
		}
	}
}

// knativeProc starts a process as Knative starts a Service's container:
// no arguments, target and config from the environment, HTTP on $PORT,
// readiness on /health/readiness.
func knativeProc(t testing.TB, name, target string) *Proc {
	p := NewProc(t, name)
	_, port, err := net.SplitHostPort(p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p.NoFlags = true
	p.ReadyPath = "/health/readiness"
	p.Env = []string{
		"K_SERVICE=kmlog-" + target, "K_CONFIGURATION=kmlog-" + target, "K_REVISION=kmlog-" + target + "-00001",
		"PORT=" + port, "KMLOG_TARGET=" + target,
	}
	return p
}

// TestKubernetesTopology runs the Kubernetes deployment as local processes
// wired as infra/k8s and infra/knative wire them: MinIO; three ingesters
// found through SRV records; a gateway with JWT auth that replicates
// pushes three ways and forwards queries to a frontend; the frontend and a
// querier as Knative Services on $PORT (the frontend verifying tokens
// itself); a node agent tailing a file and pushing with its token. It
// pushes and queries through the gateway, refuses requests without a
// token, keeps a client's X-Scope-OrgID from choosing the tenant, and
// still answers with one ingester killed; the gateway turns unready when
// too few ingesters are left for a quorum.
func TestKubernetesTopology(t *testing.T) {
	srv := miniotest.StartShared(t)
	_, storage := minioBucket(t, srv, t.Name())
	const secret = "topology-e2e-secret-at-least-32-bytes"
	auth := Config{"enabled": true, "hs256_secret": secret}
	token := func(tid string) string {
		return signHS256(t, secret, jwt.MapClaims{"tenant": tid, "exp": time.Now().Add(time.Hour).Unix()})
	}
	tokA, tokB := token("tenant-a"), token("tenant-b")

	ings := make([]*Proc, 3)
	addrs := make([]string, 3)
	for i := range ings {
		ings[i] = NewProc(t, fmt.Sprintf("kmlog-ingester-%d", i))
		addrs[i] = ings[i].Addr
	}
	const srvName = "_http._tcp.kmlog-ingester.kmlog.svc.cluster.local"
	dns := startSRVServer(t, srvName, addrs)
	ring := Config{"srv": srvName, "dns_server": dns.Addr, "refresh": "1s", "probe_interval": "300ms"}
	for _, ing := range ings {
		ing.Start(cfgOf(storage, Config{"target": "ingester", "ring": ring}))
	}
	q := knativeProc(t, "kmlog-querier", "querier")
	q.Start(cfgOf(storage, Config{"ring": ring}))
	fe := knativeProc(t, "kmlog-frontend", "frontend")
	fe.Start(cfgOf(storage, Config{"gateway": Config{"auth": auth}, "frontend": Config{"querier_url": q.URL("/")}}))
	gw := NewProc(t, "kmlog-gateway")
	gw.Start(Config{
		"target":      "gateway",
		"ring":        ring,
		"distributor": Config{"replication_factor": 3},
		"gateway":     Config{"auth": auth, "frontend_url": fe.URL("")},
	})

	// The agent tails a file and pushes with tenant A's token.
	logFile := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	agent := NewAgentProc(t, "kmlog-agent", Config{
		"clients": []any{Config{"url": gw.URL("/loki/api/v1/push"), "bearer_token": tokA, "batchwait": "100ms"}},
		"global":  Config{"file_watch_config": Config{"min_poll_frequency": "50ms", "max_poll_frequency": "50ms"}},
		"scrape_configs": []any{Config{
			"job_name":       "app",
			"static_configs": []any{Config{"targets": []any{"localhost"}, "labels": Config{"app": "topology", "__path__": logFile}}},
		}},
	})
	agent.Start()
	appendLines := func(prefix string, n int) {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			fmt.Fprintf(f, "%s line %d\n", prefix, i)
		}
		f.Close()
	}
	start := time.Now().Add(-time.Minute)
	query := func(tok string, hdr map[string]string) (int, string) {
		v := url.Values{"query": {`{app="topology"}`}, "limit": {"1000"},
			"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(time.Now().Add(time.Minute).UnixNano(), 10)}}
		req, _ := http.NewRequest(http.MethodGet, gw.URL("/loki/api/v1/query_range?"+v.Encode()), nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := gw.Client.Do(req)
		if err != nil {
			t.Fatalf("query through the gateway: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitLines := func(prefix string, n int) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			code, body := query(tokA, nil)
			if code == 200 && strings.Count(body, prefix+" line ") >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q lines not queryable through the gateway: %d %.500s", prefix, code, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	appendLines("first", 50)
	waitLines("first", 50)

	// Tenant B pushes directly; tenant A's token with B's name in the
	// header still reads A.
	body := fmt.Sprintf(`{"streams":[{"stream":{"app":"topology"},"values":[["%d","secret of tenant b"]]}]}`, time.Now().UnixNano())
	gw.MustPush(Push{Body: []byte(body), ContentType: "application/json", Token: tokB}, 204)
	code, got := query(tokA, map[string]string{"X-Scope-OrgID": "tenant-b"})
	if code != 200 || strings.Contains(got, "secret of tenant b") || !strings.Contains(got, "first line 0") {
		t.Fatalf("token A with X-Scope-OrgID tenant-b: %d %.300s", code, got)
	}
	if code, got = query(tokB, nil); code != 200 || !strings.Contains(got, "secret of tenant b") {
		t.Fatalf("token B: %d %.300s", code, got)
	}
	// No token: refused at the gateway, and at the frontend itself.
	if code, _ = query("", map[string]string{"X-Scope-OrgID": "tenant-a"}); code != 401 {
		t.Fatalf("query without a token: %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodGet, fe.URL("/loki/api/v1/labels"), nil)
	req.Header.Set("X-Scope-OrgID", "tenant-a")
	resp, err := fe.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("frontend reached directly with only X-Scope-OrgID: %d, want 401", resp.StatusCode)
	}
	gw.MustPush(Push{Body: []byte(body), ContentType: "application/json", OrgID: "tenant-b"}, 401)

	// One ingester dies: pushes keep their quorum, queries still answer,
	// the gateway stays ready.
	ings[1].Kill()
	appendLines("second", 50)
	waitLines("second", 50)
	waitLines("first", 50)
	if !ready(gw) {
		t.Fatal("gateway unready with 2 of 3 ingesters up")
	}
	// A second one dies: no quorum left, and the gateway says so.
	ings[2].Kill()
	deadline := time.Now().Add(90 * time.Second)
	for ready(gw) {
		if time.Now().After(deadline) {
			t.Fatal("gateway still ready with 1 of 3 ingesters up")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ready(p *Proc) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL("/ready"), nil)
	resp, err := p.Client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
