package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trustledger/trustledger/ledger"
)

// ProtocolContract is the contract offer (P-4): a customer asks a supplier to countersign the
// contract_open it will submit.
const ProtocolContract = protocol.ID("/trustledger/contract/1.0.0")

// ContractOffer is the customer's request: the contract_open it will submit, without the
// countersignature, and the chain it is for.
type ContractOffer struct {
	ChainID string              `json:"chain_id"`
	Open    ledger.ContractOpen `json:"open"`
}

// ContractAccept is the supplier's answer to an offer it takes: its countersignature.
type ContractAccept struct {
	Countersig ledger.Sig `json:"countersig"`
}

// Terms are what a supplier offers and accepts.
type Terms struct {
	Space              uint64 // bytes the supplier offers in all
	PricePerGiBMonth   uint64 // the least price it accepts
	MaxDurationSeconds uint64 // the longest contract it accepts (0: one year)
}

// ErrBadCountersig: a supplier's answer whose countersignature does not verify.
var ErrBadCountersig = errors.New("countersignature does not verify")

// Supplier answers contract offers on a host within its terms (P-4).
type Supplier struct {
	h       *Host
	chainID string

	mu        sync.Mutex
	terms     Terms
	committed uint64
	agreed    map[ledger.ID][32]byte // contract id → digest of the contract_open countersigned
}

// ServeContracts makes h a supplier on chainID with the given terms, until StopContracts.
func (h *Host) ServeContracts(chainID string, t Terms) *Supplier {
	if t.MaxDurationSeconds == 0 {
		t.MaxDurationSeconds = 365 * 24 * 3600
	}
	s := &Supplier{h: h, chainID: chainID, terms: t, agreed: map[ledger.ID][32]byte{}}
	h.handle(ProtocolContract, s.answer)
	return s
}

// Stop ends serving contract offers; what was agreed stays agreed.
func (s *Supplier) Stop() { s.h.h.RemoveStreamHandler(ProtocolContract) }

// Committed is the space agreed to so far; Free what is left of the terms' space.
func (s *Supplier) Committed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

func (s *Supplier) answer(_ context.Context, from ledger.PubKey, st network.Stream) Reply {
	var offer ContractOffer
	if err := readMsg(st, &offer); err != nil {
		return refuse(CodeBadRequest, "contract offer: %v", err)
	}
	open := offer.Open
	switch {
	case offer.ChainID != s.chainID:
		return refuse(CodeBadRequest, "the offer is for chain %q; this supplier is on %q", offer.ChainID, s.chainID)
	case open.Supplier != s.h.key:
		return refuse(CodeNotForMe, "the offer names supplier %s; this is %s", open.Supplier, s.h.key)
	case open.Customer != from:
		return refuse(CodeBadRequest, "the offer names customer %s but comes from %s: a customer offers its own contracts", open.Customer, from)
	case open.Countersig != ledger.Sig{}:
		return refuse(CodeBadRequest, "the offer carries a countersignature already; the supplier makes it")
	}
	if err := ledger.Validate(&open); err != nil {
		return refuse(CodeBadRequest, "%v", err)
	}
	digest := sha256.Sum256(ledger.CountersignBytes(s.chainID, &open))
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.terms
	if prev, ok := s.agreed[open.ContractID]; ok {
		if prev != digest {
			return refuse(CodeDuplicate, "contract %s was agreed already, on other terms", open.ContractID)
		}
		// The same offer again (the answer was lost): the same signature, no more space.
		return accept(ContractAccept{Countersig: ledger.Countersign(s.h.priv, s.chainID, &open)})
	}
	switch free := t.Space - min(t.Space, s.committed); {
	case open.PricePerGiBMonth < t.PricePerGiBMonth:
		return refuse(CodePrice, "price %d per GiB-month is below this supplier's %d", open.PricePerGiBMonth, t.PricePerGiBMonth)
	case open.DurationSeconds > t.MaxDurationSeconds:
		return refuse(CodeDuration, "%d seconds is longer than the %d this supplier accepts", open.DurationSeconds, t.MaxDurationSeconds)
	case open.Bytes > free:
		return refuse(CodeNoSpace, "%d bytes asked, %d free of the %d this supplier offers", open.Bytes, free, t.Space)
	}
	s.agreed[open.ContractID] = digest
	s.committed += open.Bytes
	return accept(ContractAccept{Countersig: ledger.Countersign(s.h.priv, s.chainID, &open)})
}

// OfferContract asks the supplier at peer to countersign open (the customer must be this
// host's key) and returns open with the verified countersignature, ready to submit. A refusal
// is a *RefusedError (errors.Is ErrRefused) with the supplier's code and reason.
func (h *Host) OfferContract(ctx context.Context, to peer.ID, chainID string, open ledger.ContractOpen) (ledger.ContractOpen, error) {
	k, err := KeyOf(to)
	switch {
	case err != nil:
		return open, err
	case k != open.Supplier:
		return open, fmt.Errorf("contract offer: peer %s is not supplier %s", to, open.Supplier)
	case open.Customer != h.key:
		return open, fmt.Errorf("contract offer: customer %s is not this host's key %s", open.Customer, h.key)
	}
	open.Countersig = ledger.Sig{}
	var ans ContractAccept
	if err := h.request(ctx, to, ProtocolContract, ContractOffer{ChainID: chainID, Open: open}, &ans); err != nil {
		return open, err
	}
	if !ed25519.Verify(open.Supplier[:], ledger.CountersignBytes(chainID, &open), ans.Countersig[:]) {
		return open, fmt.Errorf("contract offer to %s: %w", to, ErrBadCountersig)
	}
	open.Countersig = ans.Countersig
	return open, nil
}
