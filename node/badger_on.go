//go:build badgerdb

package node

func requireBadger() error { return nil }
