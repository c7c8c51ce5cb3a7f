// Package arch holds the architecture test: the dependency rules of
// STYLE.md, checked with `go list` so that they live in code, not review.
package arch
