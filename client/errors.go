package client

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	"github.com/trustledger/trustledger/ledger"
)

// ErrUnreachable wraps every failure to reach the node (connection refused, timeout, no route):
// the request may not have arrived. Test with errors.Is.
var ErrUnreachable = errors.New("node not reachable")

// ErrNotCommitted is returned by Pending.Wait when a tx accepted into the mempool was not seen
// committed within the submitter's CommitTimeout: it may still commit, or may have been dropped.
var ErrNotCommitted = errors.New("not committed in time")

// RejectedError is a transaction the ledger rejected: at CheckTx (Stage "check") or inside a
// block (Stage "block N"). Code is the ledger's rejection code (specs/events.md §6).
type RejectedError struct {
	Code  uint32
	Log   string
	Stage string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("transaction rejected at %s (code %d %s): %s", e.Stage, e.Code, ledger.Code(e.Code), e.Log)
}

// ExitCode makes the CLI exit 2 on a rejected transaction.
func (e *RejectedError) ExitCode() int { return 2 }

// transport reports whether err is a failure to talk to the node at all. CometBFT's HTTP client
// wraps its transport errors with %w, so the net and url types are reachable with errors.As.
func transport(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.As(err, &oe) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
