// Package sim is the closed-loop simulator of specs/trust.md: honest and malicious nodes place
// data, audits pass or fail by each supplier's hidden reliability, the results become ledger
// events fed to the real reputation engine, and each honest customer hires and drops suppliers
// from its own view. The same world runs with three choosers (ours, EigenTrust with global
// pre-trust, random) so the table shows the gain.
//
// `go test ./test/sim` runs every scenario at a small scale and asserts the quality goals;
// `go test ./test/sim -run Table -v -args -sim.table` prints the full-size table for BENCHMARKS.md.
package sim
