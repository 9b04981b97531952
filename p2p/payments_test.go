package p2p

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// TestPaymentAcknowledgement (P-13): a supplier countersigns a payment to it from the customer
// asking, for a contract between them, journaled; it refuses a payment to another, from another,
// for no contract of theirs, one carrying a countersignature, and a second, different payment
// under an id it acknowledged already. The same payment again gets the same signature.
func TestPaymentAcknowledgement(t *testing.T) {
	alice := testKey("alice")
	w := suppliersOf(t, alice, 1<<20, "payments", 2)
	ctx := context.Background()
	sup, other := w.suppliers[0], w.suppliers[1]
	good := func() *ledger.Payment {
		return &ledger.Payment{PaymentID: ledger.ID{7}, Payer: pub(alice), Payee: sup.key, Amount: 10, Reference: w.contracts[0]}
	}
	p := good()
	if err := w.host.RequestPaymentAck(ctx, sup.ID(), chain, p); err != nil {
		t.Fatal(err)
	}
	if p.Countersig == (ledger.Sig{}) {
		t.Fatal("no acknowledgement") // RequestPaymentAck checked it under the payee's key
	}
	again := good()
	if err := w.host.RequestPaymentAck(ctx, sup.ID(), chain, again); err != nil || again.Countersig != p.Countersig {
		t.Fatalf("the same payment again: %v", err)
	}
	cases := []struct {
		name string
		edit func(*ledger.Payment)
		code string
	}{
		{"for another contract of the customer's", func(p *ledger.Payment) { p.Reference = w.contracts[1]; p.PaymentID = ledger.ID{8} }, CodeNoContract},
		{"for no contract", func(p *ledger.Payment) { p.Reference = ledger.ID{99}; p.PaymentID = ledger.ID{8} }, CodeNoContract},
		{"another amount under the same id", func(p *ledger.Payment) { p.Amount = 11 }, CodeDuplicate},
		{"no amount", func(p *ledger.Payment) { p.Amount = 0; p.PaymentID = ledger.ID{9} }, CodeBadRequest},
		{"the most", func(p *ledger.Payment) { p.Amount = math.MaxUint64; p.PaymentID = ledger.ID{10} }, ""},
	}
	for _, c := range cases {
		p := good()
		c.edit(p)
		err := w.host.RequestPaymentAck(ctx, sup.ID(), chain, p)
		var refused *RefusedError
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.code != "" && (!errors.As(err, &refused) || refused.Code != c.code):
			t.Errorf("%s: %v, want a refusal %s", c.name, err, c.code)
		}
	}
	// The request is checked on this side too: the payee must be the peer asked.
	if err := w.host.RequestPaymentAck(ctx, other.ID(), chain, good()); err == nil {
		t.Error("a payment to one supplier was sent to another to acknowledge")
	}
}

// TestOwed: what storage costs (P-13), exactly, at the edges of 64 bits.
func TestOwed(t *testing.T) {
	const gibMonth = (1 << 30) * 30 * 24 * 3600
	cases := []struct{ bs, price, want uint64 }{
		{0, 100, 0},
		{gibMonth, 1, 1},
		{gibMonth - 1, 1, 0},
		{gibMonth, 1000, 1000},
		{gibMonth / 2, 3, 1},
		{math.MaxUint64, math.MaxUint64, math.MaxUint64},
		{math.MaxUint64, 1, math.MaxUint64 / gibMonth},
	}
	for _, c := range cases {
		if got := Owed(c.bs, c.price); got != c.want {
			t.Errorf("Owed(%d, %d) = %d, want %d", c.bs, c.price, got, c.want)
		}
	}
}
