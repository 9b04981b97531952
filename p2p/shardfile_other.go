//go:build !linux

package p2p

import (
	"errors"
	"os"
)

// setDirect: direct I/O is used on Linux only; elsewhere shard files go through the page cache.
func setDirect(*os.File, bool) error { return errors.New("direct I/O is not used on this system") }
