package p2p

import "golang.org/x/sys/unix"

// mapMemory maps n bytes of anonymous memory: outside the Go heap, zeroed, given back by the
// function returned.
func mapMemory(n int) ([]byte, func(), error) {
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return mem, func() { _ = unix.Munmap(mem) }, nil
}
