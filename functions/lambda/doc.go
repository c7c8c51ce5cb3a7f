// Package lambda runs kmlog's functions on AWS Lambda with
// github.com/aws/aws-lambda-go. It is one of the two adapters of the
// stateless tier (the other is functions/knative) and holds no business
// logic: it converts Lambda events to the plain Go calls the functions
// already have.
//
//   - HTTPHandler serves an http.Handler (frontend, querier) behind an API
//     Gateway HTTP API or a Lambda function URL. Both deliver the same
//     payload format 2.0 (events.APIGatewayV2HTTPRequest), and both take
//     the same response shape. Request bodies arrive base64-encoded when
//     binary; cookies arrive in their own list; repeated headers and query
//     parameters arrive joined with commas, and rawQueryString keeps them
//     as sent. Responses that are not text (by Content-Type and UTF-8
//     validity, or with a Content-Encoding) go back base64-encoded.
//     Lambda buffers the whole response (no streaming, no WebSocket: the
//     tail endpoint needs the Knative or in-process runtime), and refuses
//     payloads above 6 MB: HTTPHandler turns a response above
//     MaxResponseBytes into a clear 500 instead of Lambda's opaque error.
//   - Scheduled runs a periodic job (compactor, ruler) on an EventBridge
//     schedule event, passing the event's scheduled time; an error fails
//     the invocation, and Lambda retries asynchronous invocations twice.
//   - The invocation deadline arrives as the context deadline (the runtime
//     sets it; lambdacontext.FromContext has the request ID). Handlers
//     must honour ctx.
//   - SigV4 signs requests from the frontend to a querier's function URL
//     when the URL uses AWS_IAM auth. The frontend reaches queriers on
//     Lambda through its HTTP invoker pointed at the function URL rather
//     than through the Lambda Invoke API: the same HTTP path as Knative,
//     and no AWS SDK in the module.
//
// Start hands a handler to the Lambda runtime loop; Detect tells cmd/
// whether the process runs inside Lambda.
package lambda
