package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kubemate/kmlog/functions/frontend"
	"github.com/kubemate/kmlog/functions/lambda"
	"github.com/kubemate/kmlog/functions/querier"
)

// lambdaInvoker runs each querier shard as Lambda would deliver it to a
// querier function behind an HTTP API: the request becomes an API Gateway
// payload format 2.0 event, which goes through JSON (the wire between
// the Lambda service and the runtime) into lambda.HTTPHandler, and the
// event response comes back the same way.
type lambdaInvoker struct {
	fn    lambda.HTTPFunc
	calls atomic.Int64
}

func (l *lambdaInvoker) Invoke(ctx context.Context, req querier.Request) (querier.Response, error) {
	l.calls.Add(1)
	body, err := json.Marshal(req)
	if err != nil {
		return querier.Response{}, err
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: "/",
		Headers: map[string]string{"content-type": "application/json", "content-length": fmt.Sprint(len(body))},
		Body:    string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", Stage: "$default", RequestID: fmt.Sprintf("e2e-%d", l.calls.Load()),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1"},
		},
	}
	wire, err := json.Marshal(ev)
	if err != nil {
		return querier.Response{}, err
	}
	var in events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(wire, &in); err != nil {
		return querier.Response{}, err
	}
	out, err := l.fn(ctx, in)
	if err != nil {
		return querier.Response{}, fmt.Errorf("invoke querier function: %w", err)
	}
	if wire, err = json.Marshal(out); err != nil {
		return querier.Response{}, err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(wire, &resp); err != nil {
		return querier.Response{}, err
	}
	data := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if data, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return querier.Response{}, fmt.Errorf("decode base64 body: %w", err)
		}
	}
	if resp.StatusCode/100 != 2 {
		return querier.Response{}, &frontend.StatusError{Code: resp.StatusCode, Msg: strings.TrimSpace(string(data))}
	}
	var r querier.Response
	if err := json.Unmarshal(data, &r); err != nil {
		return querier.Response{}, fmt.Errorf("decode querier answer: %w", err)
	}
	return r, nil
}
