package abci

import (
	"os"
	"runtime/debug"
)

// DefaultHeapSoftLimitMiB is the Go heap's default soft limit for a node (app.toml [memory]):
// past it the garbage collector runs more often, which keeps a node's RSS under 1 GiB under load
// (BENCHMARKS.md) at some cost in throughput.
const DefaultHeapSoftLimitMiB = 768

// SetHeapSoftLimit applies a soft limit of mib MiB to the Go heap, unless it is 0 or the
// GOMEMLIMIT environment variable is set (that one wins).
func SetHeapSoftLimit(mib int64) {
	if mib > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(mib << 20)
	}
}
