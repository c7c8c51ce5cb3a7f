// Package ruler is the ruler function: it evaluates Prometheus-format
// rule files whose expressions are LogQL metric queries, keeps alerts'
// pending/firing/resolved state in the bucket, and sends alerts to
// Alertmanager's v2 API.
//
// # Rules
//
// Rule groups are managed per tenant and namespace through Loki's rules
// API (Handler): one group per POST, YAML bodies, as cortextool, lokitool
// and Grafana send them. A group that does not validate — YAML, a LogQL
// expression that does not parse or is a log query, a bad label name or
// template, a misplaced field — is refused with 400 and a text naming the
// group, the rule (counted from 1) and the cause; nothing stored changes.
//
// # Ticks
//
// The ruler is stateless: Tick(ctx, at) is one invocation, run by an
// in-process timer (all-in-one), a Knative PingSource or a Lambda
// schedule. For each group it computes the aligned time
// ts = at truncated to the group's interval, and evaluates the group at ts
// if it was not evaluated at ts yet:
//
//  1. Lease: a create-only put of <tenant>/ruler/lease/<ns>/<group>/<ts>.
//     Of all invocations that see the group due at ts exactly one
//     succeeds; the others skip the group. Leases of earlier times are
//     deleted once the state says a later time is done (after a gap, by
//     listing the group's leases once), so one lease per group remains.
//  2. State: <tenant>/ruler/state/<ns>/<group>.json holds every alert's
//     state, activeAt, firedAt, resolvedAt, keep-firing start and last
//     send, so a fresh instance carries on exactly.
//  3. Each rule runs as an instant query at ts through the Querier (the
//     query frontend: the same path as users', ingesters' recent data
//     included). Alerting rules follow Prometheus's state machine: a new
//     label set is pending, firing once it has held for 'for', resolved
//     when it stops holding (after keep_firing_for, if set); resolved
//     alerts are kept, and resent, for 15 minutes.
//  4. Alerts that need it — firing ones every resend_delay, resolutions
//     once — go to every Alertmanager URL with startsAt, endsAt (four
//     resend periods ahead while firing, so Alertmanager resolves them if
//     the ruler stops) and a generatorURL linking to the query; the
//     tenant's ID is in the tenant label.
//
// Missed ticks are not caught up: after an outage a group is evaluated
// once, at the newest aligned time, so an outage never causes a burst of
// evaluations or notifications. After a gap longer than
// for_outage_tolerance, pending alerts restart their 'for'.
//
// A tick that dies between taking a lease and writing the state leaves
// that one evaluation undone (a retry of the same time finds the lease
// taken); the next aligned time is evaluated as usual.
//
// # Recording rules
//
// A recording rule's samples are written back as log lines through the
// distributor (Pusher): one stream per output series, labelled with the
// series' labels, the rule's labels and record="<rule name>", holding one
// line "value=<number>" at the evaluation time. They are queried back
// with LogQL like any stream:
//
//	max_over_time({record="app:errors:count5m"} | logfmt | unwrap value [1m])
package ruler
