//go:build !linux

package p2p

import "errors"

// mapMemory: transfers' buffers are mapped outside the Go heap on Linux only.
func mapMemory(int) ([]byte, func(), error) {
	return nil, nil, errors.New("memory is not mapped outside the heap on this system")
}
