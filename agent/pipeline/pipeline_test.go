package pipeline

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func lifecyclePipeline(t testing.TB) (*Pipeline, *fakeClock) {
	b, err := os.ReadFile("testdata/lifecycle.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, clk, _ := testPipeline(t, string(b))
	return p, clk
}

func criLine(ts time.Time, flags, content string) string {
	return ts.UTC().Format(time.RFC3339Nano) + " stdout " + flags + " " + content
}

func TestLifecyclePipeline(t *testing.T) {
	p, _ := lifecyclePipeline(t)
	pod := []string{"namespace", "prod", "app", "trading-service", "pod", "trading-service-7d9f8b6c4x-xk2pq", "container", "app"}
	t1, t2, t3 := t0.Add(time.Millisecond), t0.Add(2*time.Millisecond), t0.Add(3*time.Millisecond)
	jsonErr := `{"level":"error","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","msg":"KYC failed for 11010519491231002X"}`
	stack := []string{
		"2026-11-25 10:00:00.002 ERROR 1 --- [main] c.k.trading.OrderService : order failed",
		"java.lang.IllegalStateException: ledger closed",
		"\tat com.kubemate.trading.Ledger.post(Ledger.java:42)",
		"\tat com.kubemate.trading.OrderService.place(OrderService.java:118)",
		"Caused by: java.io.IOException: broken pipe",
		"\t... 12 more",
	}
	var in []Entry
	// The JSON line arrives as two CRI partial lines.
	in = append(in, ent(criLine(t1, "P", jsonErr[:40]), pod...), ent(criLine(t1, "F", jsonErr[40:]), pod...))
	for _, l := range stack {
		in = append(in, ent(criLine(t2, "F", l), pod...))
	}
	in = append(in, ent(criLine(t3, "F", `{"level":"info","msg":"ok"}`), pod...))

	got := processAll(p, in...)
	got = p.FlushAll(t.Context(), got)

	base := `app="trading-service", container="app", namespace="prod", pod="trading-service-7d9f8b6c4x-xk2pq", stream="stdout"`
	want := []view{
		out(`{`+base[:len(`app="trading-service", container="app", `)]+`level="error", `+base[len(`app="trading-service", container="app", `):]+`}`, t1,
			`{"level":"error","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","msg":"KYC failed for **************"}`),
		out(`{`+base+`}`, t2, strings.Join(stack, "\n")),
		out(`{`+base[:len(`app="trading-service", container="app", `)]+`level="info", `+base[len(`app="trading-service", container="app", `):]+`}`, t3, `{"level":"info","msg":"ok"}`),
	}
	if diff := cmp.Diff(want, views(got)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if got[0].Extracted["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace_id = %v", got[0].Extracted["trace_id"])
	}
	if got[0].Labels.Has("trace_id") {
		t.Error("trace_id became a label")
	}
}

func TestLifecyclePipelineStorm(t *testing.T) {
	p, clk := lifecyclePipeline(t)
	var n int
	for i := range 1000 {
		n += len(processAll(p, ent(criLine(clk.Now(), "F", fmt.Sprintf(`{"level":"warn","i":%d}`, i)), "app", "storm")))
	}
	n += len(p.FlushAll(t.Context(), nil))
	if n != 100 {
		t.Errorf("%d of 1000 lines in one instant passed, want the burst of 100", n)
	}
	if d := dropped(t, p, ReasonRateLimit); d != 900 {
		t.Errorf("dropped = %v, want 900", d)
	}
	clk.Advance(time.Second)
	got := processAll(p, ent(criLine(clk.Now(), "F", `{"level":"info"}`), "app", "storm"))
	got = p.FlushAll(t.Context(), got)
	if len(got) != 1 {
		t.Errorf("after a second %d passed, want 1", len(got))
	}
}

func TestRunFlushesOnTicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := Parse([]byte("- multiline: {firstline: '^S', max_wait_time: 2s}\n"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		in, outc := make(chan Entry), make(chan Entry, 10)
		done := make(chan error)
		go func() { done <- p.Run(t.Context(), in, outc) }()
		start := time.Now()
		in <- ent("S1", "app", "a")
		in <- ent("more", "app", "a")
		e := <-outc
		if e.Line != "S1\nmore" {
			t.Fatalf("line = %q", e.Line)
		}
		if el := time.Since(start); el < 2*time.Second || el > 3*time.Second {
			t.Errorf("flushed after %v, want between max_wait_time and max_wait_time plus a tick", el)
		}
		in <- ent("S2", "app", "a")
		close(in)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if e := <-outc; e.Line != "S2" {
			t.Fatalf("after close: %q", e.Line)
		}
	})
}

func TestProcessDoesNotModifySharedLabels(t *testing.T) {
	p, _, _ := testPipeline(t, "- static_labels: {x: '1'}\n- labeldrop: [app]\n")
	e := ent("l", "app", "a", "b", "c")
	shared := e.Labels
	before := shared.String()
	processAll(p, e, e)
	if shared.String() != before {
		t.Fatalf("labels changed in place: %s", shared)
	}
}
