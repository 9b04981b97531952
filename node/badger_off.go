//go:build !badgerdb

package node

import "errors"

// requireBadger stops a binary built without CometBFT's badger backend: its stores would fail
// to open with a less helpful error.
func requireBadger() error {
	return errors.New("this trustd was built without the badgerdb tag; build it with `make build` (go build -tags badgerdb)")
}
