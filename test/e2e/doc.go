// Package e2e holds end-to-end tests: a real trustd binary, started in a temporary home on
// loopback ports, driven through its CLI and RPC, killed on purpose and restarted.
//
// The tests use the binary named by TRUSTD_BIN (`make test` sets it); without it they build one.
// Every loop that waits is bounded in time.
package e2e
