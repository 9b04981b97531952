package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
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

// CountersigReply is the answer of a party that countersigns: a supplier taking a contract
// offer (P-4), a customer countersigning a receipt (P-8).
type CountersigReply struct {
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

// SupplierConfig is what a supplier needs besides a host.
type SupplierConfig struct {
	ChainID string
	Terms   Terms
	// Dir is where the supplier keeps shards (created if missing).
	Dir string
	// Journal records each storage commitment and audit answer before it is signed (R-EVID-3):
	// node/journal's Journal.
	Journal Journal
	// ReceiveRate, if not 0, is the most bytes a second the supplier reads of each shard put to
	// it: a supplier on a slow link, as the long-tail tests and benchmarks need one.
	ReceiveRate int64
}

// Journal records that a key is about to sign a statement, or refuses (a second, different
// statement under one name).
type Journal interface {
	Record(signer ledger.PubKey, st journal.Statement) error
}

// Supplier answers contract offers, keeps shards and answers audits (P-4, P-6, P-7). Its state
// outlives the host it serves on: a node's p2p service can restart under it.
type Supplier struct {
	cfg SupplierConfig

	mu        sync.Mutex
	h         *Host // the host it serves on; nil when stopped
	priv      ed25519.PrivateKey
	key       ledger.PubKey // the key it signs with, fixed by the first host it served on
	committed uint64
	contracts map[ledger.ID]*agreement
	shards    map[ledger.ID]*heldShard // by commitment digest
	now       func() time.Time
	// bandwidthDue is signalled when a contract's bytes served and not yet receipted reach
	// BandwidthStep: the supplier service collects its bandwidth receipts then (P-8).
	bandwidthDue chan struct{}
}

// agreement is a contract the supplier countersigned, and the shard bytes it holds under it.
type agreement struct {
	open   ledger.ContractOpen
	digest [32]byte // of the contract_open countersigned
	used   uint64   // shard bytes held or being received
	// nextReceipt is the number of its next storage receipt; periodEnd the end of the last one
	// countersigned (the next period starts there).
	nextReceipt uint64
	periodEnd   int64
	// served is the bytes of shards the customer read back and acknowledged as verified (P-6);
	// receipted those covered by bandwidth receipts countersigned; nextBandwidth the number of
	// the next one.
	served, receipted uint64
	nextBandwidth     uint64
	quitting          bool // the supplier is leaving the contract: no more puts (Quit)
}

// NewSupplier returns a supplier that serves nowhere yet (Serve).
func NewSupplier(cfg SupplierConfig) (*Supplier, error) {
	if cfg.Terms.MaxDurationSeconds == 0 {
		cfg.Terms.MaxDurationSeconds = 365 * 24 * 3600
	}
	if cfg.Dir == "" || cfg.Journal == nil {
		return nil, errors.New("a supplier needs a shard directory and a signing journal")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("shard directory: %w", err)
	}
	return &Supplier{cfg: cfg, contracts: map[ledger.ID]*agreement{}, shards: map[ledger.ID]*heldShard{}, now: time.Now, bandwidthDue: make(chan struct{}, 1)}, nil
}

// ServeSupplier is NewSupplier then Serve on h.
func (h *Host) ServeSupplier(cfg SupplierConfig) (*Supplier, error) {
	s, err := NewSupplier(cfg)
	if err != nil {
		return nil, err
	}
	return s, s.Serve(h)
}

// Serve answers contract offers within the terms, and shard and audit requests of its
// contracts, on h, until Stop. Every host it serves on must have the same key.
func (s *Supplier) Serve(h *Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.h != nil:
		return errors.New("the supplier serves already; stop it first")
	case s.priv == nil:
		s.priv, s.key = h.priv, h.key
	case h.key != s.key:
		return fmt.Errorf("the supplier signs as %s; this host is %s", s.key, h.key)
	}
	s.h = h
	h.handle(ProtocolContract, s.answer)
	h.handle(ProtocolShard, s.serveShard)
	h.handle(ProtocolAudit, s.serveAudit)
	h.handle(ProtocolPayment, s.acknowledge)
	return nil
}

// Stop ends serving; what was agreed stays agreed and the shards stay on disk.
func (s *Supplier) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return
	}
	for _, p := range []protocol.ID{ProtocolContract, ProtocolShard, ProtocolAudit, ProtocolPayment} {
		s.h.h.RemoveStreamHandler(p)
	}
	s.h = nil
}

// Committed is the space agreed to so far.
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
	case offer.ChainID != s.cfg.ChainID:
		return refuse(CodeBadRequest, "the offer is for chain %q; this supplier is on %q", offer.ChainID, s.cfg.ChainID)
	case open.Supplier != s.key:
		return refuse(CodeNotForMe, "the offer names supplier %s; this is %s", open.Supplier, s.key)
	case open.Customer != from:
		return refuse(CodeBadRequest, "the offer names customer %s but comes from %s: a customer offers its own contracts", open.Customer, from)
	case open.Countersig != ledger.Sig{}:
		return refuse(CodeBadRequest, "the offer carries a countersignature already; the supplier makes it")
	}
	if err := ledger.Validate(&open); err != nil {
		return refuse(CodeBadRequest, "%v", err)
	}
	digest := sha256.Sum256(ledger.CountersignBytes(s.cfg.ChainID, &open))
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.cfg.Terms
	if prev, ok := s.contracts[open.ContractID]; ok {
		if prev.digest != digest {
			return refuse(CodeDuplicate, "contract %s was agreed already, on other terms", open.ContractID)
		}
		// The same offer again (the answer was lost): the same signature, no more space.
		return accept(CountersigReply{Countersig: ledger.Countersign(s.priv, s.cfg.ChainID, &open)})
	}
	switch free := t.Space - min(t.Space, s.committed); {
	case open.PricePerGiBMonth < t.PricePerGiBMonth:
		return refuse(CodePrice, "price %d per GiB-month is below this supplier's %d", open.PricePerGiBMonth, t.PricePerGiBMonth)
	case open.DurationSeconds > t.MaxDurationSeconds:
		return refuse(CodeDuration, "%d seconds is longer than the %d this supplier accepts", open.DurationSeconds, t.MaxDurationSeconds)
	case open.Bytes > free:
		return refuse(CodeNoSpace, "%d bytes asked, %d free of the %d this supplier offers", open.Bytes, free, t.Space)
	}
	s.contracts[open.ContractID] = &agreement{open: open, digest: digest, nextReceipt: 1, nextBandwidth: 1}
	s.committed += open.Bytes
	return accept(CountersigReply{Countersig: ledger.Countersign(s.priv, s.cfg.ChainID, &open)})
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
	var ans CountersigReply
	if err := h.request(ctx, to, ProtocolContract, ContractOffer{ChainID: chainID, Open: open}, &ans); err != nil {
		return open, err
	}
	if !ed25519.Verify(open.Supplier[:], ledger.CountersignBytes(chainID, &open), ans.Countersig[:]) {
		return open, fmt.Errorf("contract offer to %s: %w", to, ErrBadCountersig)
	}
	open.Countersig = ans.Countersig
	return open, nil
}
