//go:build race

package e2e

// Under -race the kmlog processes are built with the race detector too, so
// `make test` checks the real processes for data races.
func init() { raceBuild = true }
