package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
)

// ProtocolPayment is served by suppliers: a customer asks its supplier to acknowledge a payment
// for a contract between them (P-13); the customer, the payer, then submits it.
const ProtocolPayment = protocol.ID("/trustledger/payment/1.0.0")

// PaymentRequest asks for the payee's countersignature of a payment, sent without it.
type PaymentRequest struct {
	ChainID string          `json:"chain_id"`
	Payment json.RawMessage `json:"payment"`
}

// acknowledge answers a payment request (P-13): a payment to this supplier from the customer
// asking, referencing a contract between them, is journaled and countersigned. The amount is the
// payer's business: any positive amount is acknowledged, and the ledger shows what was paid.
func (s *Supplier) acknowledge(_ context.Context, from ledger.PubKey, st network.Stream) Reply {
	var req PaymentRequest
	if err := readMsg(st, &req); err != nil {
		return refuse(CodeBadRequest, "payment request: %v", err)
	}
	if req.ChainID != s.cfg.ChainID {
		return refuse(CodeBadRequest, "the payment is for chain %q; this supplier is on %q", req.ChainID, s.cfg.ChainID)
	}
	ev, err := ledger.DecodeEventJSON(ledger.KindPayment.String(), req.Payment)
	if err != nil {
		return refuse(CodeBadRequest, "%v", err)
	}
	p := ev.(*ledger.Payment)
	switch {
	case p.Payee != s.key:
		return refuse(CodeNotForMe, "the payment is to %s; this is %s", p.Payee, s.key)
	case p.Payer != from:
		return refuse(CodeBadRequest, "the payment is from %s but %s asks: a payer asks for its own payments", p.Payer, from)
	case p.Countersig != ledger.Sig{}:
		return refuse(CodeBadRequest, "the payment carries a countersignature already; the payee makes it")
	}
	if err := ledger.Validate(p); err != nil {
		return refuse(CodeBadRequest, "%v", err)
	}
	s.mu.Lock()
	a, ok := s.contracts[p.Reference]
	s.mu.Unlock()
	if !ok || a.open.Customer != from {
		return refuse(CodeNoContract, "the payment references %s, which is no contract of %s's with this supplier", p.Reference, from)
	}
	if err := s.cfg.Journal.Record(s.key, journal.Payment(s.cfg.ChainID, p)); errors.Is(err, journal.ErrEquivocation) {
		return refuse(CodeDuplicate, "%v", err)
	} else if err != nil {
		return refuse(CodeFailed, "journal: %v", err)
	}
	return accept(CountersigReply{Countersig: ledger.Countersign(s.priv, s.cfg.ChainID, p)})
}

// RequestPaymentAck asks the payee at to to countersign p (this host's key pays) and sets the
// checked countersignature on p. A refusal is a *RefusedError with the payee's reason.
func (h *Host) RequestPaymentAck(ctx context.Context, to peer.ID, chainID string, p *ledger.Payment) error {
	if k, err := KeyOf(to); err != nil || k != p.Payee || p.Payer != h.key {
		return fmt.Errorf("payment: %s is not the payee %s of a payment by this host's key %s", to, p.Payee, h.key)
	}
	p.Countersig = ledger.Sig{}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var ans CountersigReply
	if err := h.request(ctx, to, ProtocolPayment, PaymentRequest{ChainID: chainID, Payment: raw}, &ans); err != nil {
		return err
	}
	if !ed25519.Verify(p.Payee[:], ledger.CountersignBytes(chainID, p), ans.Countersig[:]) {
		return fmt.Errorf("payment acknowledged by %s: %w", to, ErrBadCountersig)
	}
	p.Countersig = ans.Countersig
	return nil
}

// monthSeconds is the month of a price per GiB-month: 30 days.
const monthSeconds = 30 * 24 * 3600

// Owed is what byteSeconds of storage cost at pricePerGiBMonth: ⌊byteSeconds × price ÷ (2^30 ×
// 30 days)⌋, in 128-bit arithmetic (saturating at 2^64−1).
func Owed(byteSeconds, pricePerGiBMonth uint64) uint64 {
	hi, lo := bits.Mul64(byteSeconds, pricePerGiBMonth)
	const denom = (1 << 30) * monthSeconds
	if hi >= denom {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, denom)
	return q
}

func satAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}

// PaymentsDue is signalled when a storage receipt has been countersigned: a payment may be owed.
func (c *Customer) PaymentsDue() <-chan struct{} { return c.paymentDue }

// paymentID names payment n of a contract: the same payment has the same id after a crash.
func paymentID(contract ledger.ID, n uint64) ledger.ID {
	return sha256.Sum256(binary.BigEndian.AppendUint64(append([]byte("trustledger payment\x00"), contract[:]...), n))
}

// NextPayment is the payment to make now for a contract (P-13): the one under way if there is
// one, else one for what its countersigned storage receipts cost at the contract's price less
// what was paid, recorded (saved) before it is returned; nil when nothing is owed.
func (c *Customer) NextPayment(contract ledger.ID) (*ledger.Payment, error) {
	c.mu.Lock()
	cc, ok := c.contracts[contract]
	if !ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("contract %s was not offered through this customer", contract)
	}
	if cc.pending != nil {
		p := *cc.pending
		c.mu.Unlock()
		return &p, nil
	}
	owed := Owed(cc.byteSeconds, cc.open.PricePerGiBMonth)
	if owed <= cc.paid {
		c.mu.Unlock()
		return nil, nil
	}
	p := ledger.Payment{PaymentID: paymentID(contract, cc.payments+1), Payer: c.h.key, Payee: cc.open.Supplier, Amount: owed - cc.paid, Reference: contract}
	cc.pending = &p
	c.mu.Unlock()
	if err := c.record(); err != nil {
		return nil, err
	}
	out := p
	return &out, nil
}

// Paid records that the pending payment of a contract reached the ledger.
func (c *Customer) Paid(contract, id ledger.ID) error {
	c.mu.Lock()
	cc, ok := c.contracts[contract]
	if !ok || cc.pending == nil || cc.pending.PaymentID != id {
		c.mu.Unlock()
		return fmt.Errorf("no payment %s under way for contract %s", id, contract)
	}
	cc.paid = satAdd(cc.paid, cc.pending.Amount)
	cc.payments++
	cc.pending = nil
	c.mu.Unlock()
	return c.record()
}

// Payments is what a contract's countersigned storage receipts cost and what was paid of it.
func (c *Customer) Payments(contract ledger.ID) (owed, paid uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.contracts[contract]
	if !ok {
		return 0, 0, fmt.Errorf("contract %s was not offered through this customer", contract)
	}
	return Owed(cc.byteSeconds, cc.open.PricePerGiBMonth), cc.paid, nil
}
