//go:build badgerdb

package main

func requireBadger() error { return nil }
