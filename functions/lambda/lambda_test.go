package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("KMLOG_LAMBDA_TEST_HELPER") != "" {
		helperMain()
		return
	}
	goleak.VerifyTestMain(m)
}

func TestScheduled(t *testing.T) {
	raw, err := os.ReadFile("testdata/schedule-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	var got time.Time
	h := Scheduled(func(ctx context.Context, at time.Time) error { got = at; return nil })
	if err := h(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("at = %v, want %v UTC", got, want)
	}

	boom := errors.New("bucket unreachable")
	err = Scheduled(func(context.Context, time.Time) error { return boom })(context.Background(), ev)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "run scheduled Scheduled Event at 2026-03-10T13:00:00Z") {
		t.Errorf("err = %v", err)
	}

	// An event without a time runs at the invocation time.
	before := time.Now()
	if err := Scheduled(func(_ context.Context, at time.Time) error { got = at; return nil })(context.Background(), events.EventBridgeEvent{}); err != nil {
		t.Fatal(err)
	}
	if got.Before(before.Add(-time.Second)) {
		t.Errorf("at = %v for an event without time", got)
	}
}

func TestDetect(t *testing.T) {
	env := map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}
	if !Detect(func(k string) string { return env[k] }) || Detect(func(string) string { return "" }) {
		t.Error("Detect")
	}
}

// helperMain is the Lambda function the runtime test starts as a child
// process: Start with HTTPHandler, as cmd/ wires it.
func helperMain() {
	Start(context.Background(), HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lc, _ := lambdacontext.FromContext(r.Context())
		dl, _ := r.Context().Deadline()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" request_id="+lc.AwsRequestID+" deadline="+strconv.FormatInt(dl.UnixMilli(), 10))
	})))
}

// TestStartAgainstRuntimeAPI runs a child process under Start against an
// HTTP server that speaks the Lambda runtime API, hands it one function
// URL event and checks the response it posts back.
func TestStartAgainstRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	event, err := os.ReadFile("testdata/url-shard-json.json")
	if err != nil {
		t.Fatal(err)
	}
	const deadline = 4102444800000 // 2100-01-01, in Unix milliseconds
	posted := make(chan string, 1)
	var served atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			if served.Swap(true) { // one event only: let the child wait until it is killed
				<-r.Context().Done()
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.Itoa(deadline))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:kmlog-querier")
			w.Write(event)
		case r.Method == "POST" && r.URL.Path == "/2018-06-01/runtime/invocation/req-1/response":
			b, _ := io.ReadAll(r.Body)
			posted <- string(b)
			w.WriteHeader(http.StatusAccepted)
		default:
			b, _ := io.ReadAll(r.Body)
			posted <- r.Method + " " + r.URL.Path + " " + string(b)
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KMLOG_LAMBDA_TEST_HELPER=1", "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var resp events.APIGatewayV2HTTPResponse
	select {
	case raw := <-posted:
		if err := json.Unmarshal([]byte(raw), &resp); err != nil {
			t.Fatalf("runtime got %q: %v", raw, err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no response posted to the runtime API")
	}
	want := "POST /querier/shard request_id=req-1 deadline=" + strconv.Itoa(deadline)
	if resp.StatusCode != 200 || resp.Body != want || resp.IsBase64Encoded {
		t.Errorf("response %+v, want 200 %q", resp, want)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
