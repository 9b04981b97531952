//go:build badgerdb

package p2p

import (
	"context"
	"errors"
	"testing"

	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/node/nodetest"
)

// TestContractOfferReachesTheLedger (P-2, P-4) against a real node: registration is read from
// the ledger, an unregistered peer is refused, and the countersigned contract_open that the
// offer returns is accepted by the ledger as it is.
func TestContractOfferReachesTheLedger(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	c := n.Client()
	ctx := context.Background()
	alice, bob, mallory := nodetest.Key("alice"), nodetest.Key("bob"), nodetest.Key("mallory")
	sa := nodetest.Register(t, c, alice)
	nodetest.Register(t, c, bob)
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	supplier := newHost(t, bob, NewLedgerRegistry(c))
	if _, err := supplier.ServeSupplier(SupplierConfig{ChainID: chainID, Terms: Terms{Space: 1 << 30, PricePerGiBMonth: 1},
		Dir: t.TempDir(), Journal: journal.Open(t.TempDir())}); err != nil {
		t.Fatal(err)
	}
	customer := newHost(t, alice, NewLedgerRegistry(c))
	connect(t, customer, supplier)

	open, err := customer.OfferContract(ctx, supplier.ID(), chainID, offer(alice, bob, "ledger contract", 64<<20, 1, 86400))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sa.SubmitAndWait(ctx, &open); err != nil {
		t.Fatalf("the ledger refused the countersigned contract_open: %v", err)
	}
	v, err := c.Contract(ctx, open.ContractID)
	if err != nil || v.Record == nil || v.Record.Supplier != pub(bob) || v.Record.Bytes != 64<<20 {
		t.Fatalf("contract in the ledger: %+v, %v", v.Record, err)
	}

	stranger := newHost(t, mallory, NewLedgerRegistry(c))
	connect(t, stranger, supplier)
	_, err = stranger.OfferContract(ctx, supplier.ID(), chainID, offer(mallory, bob, "mallory's", 1<<20, 1, 86400))
	var r *RefusedError
	if !errors.As(err, &r) || r.Code != CodeUnregistered {
		t.Fatalf("an unregistered peer's offer: %v, want refused as unregistered", err)
	}
	// Once mallory registers, the same host is answered (a no is asked again).
	nodetest.Register(t, c, mallory)
	if _, err := stranger.OfferContract(ctx, supplier.ID(), chainID, offer(mallory, bob, "mallory's", 1<<20, 1, 86400)); err != nil {
		t.Fatalf("after registering: %v", err)
	}
}
