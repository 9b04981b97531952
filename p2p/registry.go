package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
)

// Registry says whether a key is a registered node of the ledger (P-2).
type Registry interface {
	Registered(ctx context.Context, k ledger.PubKey) (bool, error)
}

// LedgerRegistry answers from the ledger through a client. A registration is never undone, so
// a yes is kept; a no is asked again next time (the peer may have registered since).
type LedgerRegistry struct {
	c     *client.Client
	mu    sync.Mutex
	known map[ledger.PubKey]bool
}

// NewLedgerRegistry returns a registry that asks c.
func NewLedgerRegistry(c *client.Client) *LedgerRegistry {
	return &LedgerRegistry{c: c, known: map[ledger.PubKey]bool{}}
}

// Registered reports whether k is registered with the peer id of its own key (R-REG-3).
func (r *LedgerRegistry) Registered(ctx context.Context, k ledger.PubKey) (bool, error) {
	r.mu.Lock()
	ok := r.known[k]
	r.mu.Unlock()
	if ok {
		return true, nil
	}
	v, err := r.c.Node(ctx, k)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("is %s registered: %w", k, err)
	}
	if v.Record == nil || v.Record.PeerID != ledger.PeerIDOf(k) {
		return false, nil
	}
	r.mu.Lock()
	r.known[k] = true
	r.mu.Unlock()
	return true, nil
}
