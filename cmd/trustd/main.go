// Command trustd runs a trustledger node and talks to one: init, start, keys, tx, sign, query,
// status. Each subcommand is built by a constructor (no package-level command or config globals);
// flags carry the config key they override, and TRUSTD_* environment variables override the file.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", oneLine(err))
		var ec exitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// exitCoder is an error that picks the process exit code (a rejected tx exits 2).
type exitCoder interface{ ExitCode() int }

func oneLine(err error) string {
	s := err.Error()
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
