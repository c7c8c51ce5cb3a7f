// Package loggen generates realistic, reproducible Kubernetes log traffic
// for tests, benchmarks and kmlog's demo mode.
//
// # Determinism
//
// The output is a pure function of Config: the same Config yields the same
// topology and the same sequence of entries, byte for byte. All randomness
// comes from math/rand/v2 PCG sources seeded from Config.Seed; nothing
// reads the clock or iterates a map. testdata/seed1.golden pins the first
// entries of seed 1, so changing what is generated is a visible decision.
// (The exponential inter-arrival times use floating point; on a platform
// that fuses multiply-adds differently a timestamp could in principle
// differ by a nanosecond.)
//
// # Topology
//
// Each tenant ("tenant-0", ... or Config.TenantIDs) is a cluster of
// Namespaces namespaces (prod, staging, payments, kube-system, monitoring,
// ...; "-2" suffixes beyond the list), each running Apps apps with
// PodsPerApp pods. An app belongs to one of four groups, which decides its
// log format:
//
//	group  apps (examples)                          lines
//	java   trading-service, ledger, payments-api    JSON, Java stack traces
//	go     api-gateway, auth, checkout, inventory   logfmt
//	nginx  nginx-ingress, frontend-web              ingress-nginx access log
//	plain  coredns, kube-proxy, postgres, redis     klog, CoreDNS, PostgreSQL,
//	                                                Redis, batch-job text
//
// The first four apps of a tenant cover the four groups; kube-system runs
// plain apps only. Pods of Deployments are named like Kubernetes names
// them, trading-service-7d9f8b6c4x-xk2pq (suffixes from Config.Seed, one
// ReplicaSet hash per app); StatefulSet pods are postgres-0, postgres-1.
//
// Every entry carries exactly five stream labels: namespace, app, pod,
// container and level (debug, info, warn, error). As in kmlog's agent
// pipeline, level is promoted to a label, so each pod has four streams.
// Streams returns them all, sorted.
//
// # Traffic
//
// Timestamps start at Config.Start and advance by exponentially
// distributed gaps averaging 1/Rate seconds across all streams, so they
// never decrease, overall or per stream. Each entry first draws its line
// kind from Config.Mix (default 40% JSON, 25% logfmt, 20% nginx, 5% Java
// stack traces, 10% plain), then a pod of the matching group, then a
// level. Pods are weighted Zipf-like by app (the app ranked k gets 1/k of
// the top app's share, ranks shuffled by Config.Seed) with ±40% jitter per
// replica, so a few streams are much busier than the rest. Each tenant has
// its own topology and the same share of the traffic. Lines other
// than stack traces are 72% info, 16% debug, 9% warn and 3% error; stack
// traces are 80% error and 20% warn; with the default mix the levels come
// to about 68/15/10/7. A kind whose group has no app in a tiny topology
// falls back to JSON.
//
// # Lines
//
//   - JSON: {"ts":"2026-11-25T10:00:00.123Z","level":"error","logger":...,
//     "thread":...,"msg":"transaction failed","trace_id":<32 hex>,
//     "span_id":<16 hex>,"user_id":...,"amount":...,"latency_ms":...}.
//     level always equals the stream's level label.
//   - logfmt: ts=<RFC 3339 µs> level=info caller=http/handler.go:142
//     msg="request completed" trace_id=... method=GET path=... status=200
//     duration=12.3ms.
//   - nginx: ingress-nginx's default format: client address, time, request,
//     status, bytes, referer, user agent, request length, request time,
//     upstream name, address, length, time and status, request ID. Error
//     streams get 5xx statuses, warn streams 4xx, others 2xx and 3xx.
//   - Java stack trace: a Spring Boot console line, the exception line and
//     10 to 40 lines in all of "\tat" frames, "Caused by:" and "... N more",
//     emitted as ONE entry with embedded newlines, as the agent's multiline
//     stage would join it. Each Java app has a handful of fixed stack
//     traces that recur, like real code paths.
//   - plain: klog (I1125 10:00:00.123456 1 file.go:42] "msg"), CoreDNS
//     query logs, PostgreSQL, Redis and Python-style batch job lines.
//
// Messages come from about 250 templates (vocab_*.go) whose numbers,
// IDs, durations, symbols, hosts and errors vary per line; the first
// templates of each list are the most frequent. A value named in the
// message and again as a field is the same value.
//
// Rarer content: 1% of lines carry a mainland China resident ID number
// with a valid check character (id_number=11010519491231002X, or the JSON
// field "id_number") for the masking stage; 0.2% are several KB long (a
// JSON items array, a logfmt SQL query, a long query string); 0.02% are
// empty.
//
// # Requests and needles
//
// Traced lines (JSON, logfmt, stack-trace headers) belong to the request
// their pod is serving: a 128-bit trace ID repeats over 2 to 6 lines of the
// pod, or appears on a single line. JSON lines of a request also carry the
// ID as structured metadata (Entry.Metadata, trace_id). Single-line
// requests, about 30%, are needles: their IDs carry a checksum in the last
// 16 bits that every other ID is made to fail, so NeedleTraceID can tell
// from one entry that its trace ID occurs in no other line, which "find
// the one line" tests and benchmarks need.
//
// # Cost
//
// Next builds the line in a reused buffer and allocates only the line's
// string (and one small slice per new request). Take, Fill and TakeBytes
// put the lines of a batch into shared megabyte allocations. Generation
// is streaming: a caller can produce gigabytes without holding them.
package loggen
