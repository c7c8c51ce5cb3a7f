// Package compat compares kmlog with the real Grafana Loki, logcli and
// Promtail on captured answers.
//
// The answers in testdata/ were captured by running the real programs
// (see capture_test.go, build tag lokicapture, and testdata/README.md for
// the exact commands and configs) on the datasets and cases in testdata/:
//
//   - dataset.json: one Loki push body (JSON, with structured metadata)
//     spanning two UTC days; cases.txt: LogQL queries and HTTP API calls;
//     loki.json: Loki's status and body for each case.
//   - logcli.json: logcli's output for each command against Loki, and the
//     HTTP requests logcli made for it.
//   - promtail/: Promtail configs with their inputs and Promtail's dry-run
//     output.
//   - otlp/: OTLP log requests and the streams Loki stored for them.
//
// The tests (compat_test.go, promtail_test.go, otlp_test.go) start kmlog
// (or run its agent in dry-run mode) on the same inputs and compare. What
// they normalise, because it is truly nondeterministic or not part of the
// contract, is listed where they do it. Cases kmlog answers differently on
// purpose are listed with the reason in testdata/differences.txt; the
// tests fail on any other difference and also when a listed difference
// has disappeared.
package compat
