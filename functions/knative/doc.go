// Package knative runs a kmlog function as a Knative Service. It is one of
// the two adapters of the stateless tier (the other is functions/lambda)
// and holds no business logic: it implements the runtime contract that
// Knative Serving and the Knative Functions ("func") Go middleware define,
// around any value with a Handle method.
//
// The contract, as Knative and func's Go "instanced" template expect it:
//
//   - The process listens on $LISTEN_ADDRESS, else on port $PORT (Knative
//     sets it, normally 8080) of every interface, else on :8080. It speaks
//     HTTP/1.1 and prior-knowledge HTTP/2 (h2c), which queue-proxy may use.
//   - GET /health/readiness answers 200 when the instance is ready for
//     traffic and 503 when it is not (before Start returns, while a
//     ReadyChecker says no, and from the moment draining begins).
//     GET /health/liveness answers 200 unless an AliveChecker says no.
//     Every other path goes to Handle, unchanged.
//   - The instance is built by a constructor without arguments (New). Its
//     optional Start(ctx, cfg) receives the environment as a map before any
//     request arrives; a Start error ends the process, so a bad
//     configuration fails the revision instead of serving errors.
//   - On SIGTERM (cmd/ turns it into the end of ctx) the server stops
//     accepting, readiness turns 503, in-flight requests run to completion
//     within Config.DrainTimeout (Knative's default grace is 30 s), the
//     requests still running after it see their context cancelled, and
//     Stop(ctx) runs last.
//   - An instance keeps no state between requests other than caches:
//     Knative may start, stop or replace it at any time, and scale it to
//     zero.
//
// The optional capabilities are separate one-method interfaces found by
// type assertion, as in database/sql/driver: Starter, Stopper,
// ReadyChecker, AliveChecker. FromHandler adapts a plain http.Handler, and
// Instanced gives a function built from its configuration the exact shape
// of the func template (Handle, Start, Stop, Ready, Alive). Tick turns a
// periodic job (compactor, ruler) into the handler a cron trigger — a
// Knative Eventing PingSource — POSTs to.
package knative
