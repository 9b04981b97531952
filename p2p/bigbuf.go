package p2p

// A put holds a stripe being read and three sealed ones (88 MiB for 16 MiB stripes of 4+2), a
// get a stripe's shards and two joined stripes (56 MiB), for as long as it runs. On the Go heap
// they count twice: the collector lets the heap grow to twice what is live before it runs, and
// these buffers were up to half of a customer's live heap (beside about 100 MiB of its badger
// memtables); after a put they stayed as garbage until the next collection, under the get's.
// Mapped outside the heap (bigbuf_linux.go) they count once, and are given back the moment the
// transfer ends; nothing may hold a slice of them after that.

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
