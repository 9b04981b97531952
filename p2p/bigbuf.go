package p2p

// A get holds a stripe's shards and two joined stripes at a time (56 MiB for 16 MiB stripes of
// 4+2) for as long as it runs. On the Go heap they count twice: the collector lets the heap
// grow to twice what is live before it runs, and these buffers were a third of a customer's
// live heap (beside about 100 MiB of its badger memtables), so a get's peak RSS was the
// buffers, plus as much again of garbage. Mapped outside the heap (bigbuf_linux.go)
// they count once. The memory is given back when the get ends; nothing may hold a slice of it
// after that.

// stripeMemory is memory for a transfer's buffers, outside the Go heap where the system allows.
type stripeMemory struct {
	mem  []byte
	used int
	free func()
}

// newStripeMemory maps n bytes (zeroed) for carve; release gives them back.
func newStripeMemory(n int) *stripeMemory {
	if mem, free, err := mapMemory(n); err == nil {
		return &stripeMemory{mem: mem, free: free}
	}
	return &stripeMemory{mem: make([]byte, n), free: func() {}}
}

// carve returns the next n bytes, as an empty slice with room for n, or nil when the memory
// is spent (the caller then allocates on the heap).
func (m *stripeMemory) carve(n int) []byte {
	if m.used+n > len(m.mem) {
		return nil
	}
	b := m.mem[m.used : m.used : m.used+n]
	m.used += n
	return b
}

// release unmaps the memory. Every slice carve returned is invalid after it.
func (m *stripeMemory) release() {
	m.free()
	m.mem = nil
}
