package lambda

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
)

// ScheduledFunc is the Lambda handler shape for EventBridge schedule
// events.
type ScheduledFunc func(ctx context.Context, ev events.EventBridgeEvent) error

// Scheduled returns a Lambda handler that calls run once per schedule
// event, with the time the event was scheduled for (the invocation time
// when the event carries none). A run error fails the invocation.
func Scheduled(run func(ctx context.Context, at time.Time) error) ScheduledFunc {
	if run == nil {
		panic("BUG: lambda.Scheduled with a nil run function")
	}
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		at := ev.Time
		if at.IsZero() {
			at = time.Now()
		}
		if err := run(ctx, at.UTC()); err != nil {
			return fmt.Errorf("run scheduled %s at %s: %w", ev.DetailType, at.UTC().Format(time.RFC3339), err)
		}
		return nil
	}
}

// Start runs the Lambda runtime loop with handler (an HTTPFunc, a
// ScheduledFunc, or any handler aws-lambda-go accepts). Invocation
// contexts derive from ctx. Start does not return: the runtime exits the
// process when the loop fails.
func Start(ctx context.Context, handler any) {
	awslambda.StartWithOptions(handler, awslambda.WithContext(ctx))
}

// Detect reports whether the process runs inside Lambda (the runtime
// interface sets AWS_LAMBDA_RUNTIME_API for custom runtimes such as
// provided.al2023).
func Detect(getenv func(string) string) bool { return getenv("AWS_LAMBDA_RUNTIME_API") != "" }
