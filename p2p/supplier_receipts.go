package p2p

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/trustledger/trustledger/ledger"
)

// DueReceipts are the storage receipts the supplier would ask for now (P-8): one for each
// contract whose shards it has held for at least a second since its last countersigned period,
// covering from there to now, for the byte-seconds it held by its own reckoning (which starts
// each shard a second after its put, so it never claims more than the customer saw). Ordered
// by contract id.
func (s *Supplier) DueReceipts() []*ledger.StorageReceipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Unix()
	due := map[ledger.ID]*ledger.StorageReceipt{}
	for _, h := range s.shards { // one pass over the shards, each adding to its contract's receipt
		ag, ok := s.contracts[h.commitment.ContractID]
		if !ok {
			continue
		}
		from := max(h.since, ag.periodEnd)
		if from >= now {
			continue
		}
		r := due[h.commitment.ContractID]
		if r == nil {
			r = &ledger.StorageReceipt{ContractID: h.commitment.ContractID, Number: ag.nextReceipt, Customer: ag.open.Customer,
				Supplier: s.key, PeriodStart: from, PeriodEnd: now}
			due[h.commitment.ContractID] = r
		}
		r.PeriodStart = min(r.PeriodStart, from)
		r.ByteSeconds += h.commitment.Size * uint64(now-from)
	}
	out := make([]*ledger.StorageReceipt, 0, len(due))
	for _, r := range due {
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool { return bytes.Compare(out[a].ContractID[:], out[b].ContractID[:]) < 0 })
	return out
}

// Countersigned records that the customer countersigned r: the contract's next period starts
// at its end, under the next number.
func (s *Supplier) Countersigned(r *ledger.StorageReceipt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ag, ok := s.contracts[r.ContractID]; ok && r.Number == ag.nextReceipt {
		ag.nextReceipt++
		ag.periodEnd = r.PeriodEnd
	}
}

// CollectReceipts asks each customer with a due receipt to countersign it, on the host the
// supplier serves on, and returns those countersigned (to submit) and why the others were not.
func (s *Supplier) CollectReceipts(ctx context.Context) ([]*ledger.StorageReceipt, []error) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	if h == nil {
		return nil, []error{fmt.Errorf("the supplier is not serving")}
	}
	var signed []*ledger.StorageReceipt
	var errs []error
	for _, r := range s.DueReceipts() {
		to, err := PeerID(r.Customer)
		if err == nil {
			err = h.RequestReceipt(ctx, to, s.cfg.ChainID, r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("storage receipt %d of contract %s: %w", r.Number, r.ContractID, err))
			continue
		}
		s.Countersigned(r)
		signed = append(signed, r)
	}
	return signed, errs
}

// Bandwidth receipts (P-8): a supplier counts as served only the shard bytes a customer read
// back and acknowledged as verified. Once a contract's bytes served and not receipted reach
// BandwidthStep, the supplier service is told to collect (BandwidthDue); past MaxUnreceipted it
// serves that contract no more reads until a receipt is countersigned, so a customer never owes
// more than a few steps.
const (
	BandwidthStep  = 32 << 20
	MaxUnreceipted = 4 * BandwidthStep
)

// noteServed adds n verified bytes to a contract's bytes served.
func (s *Supplier) noteServed(contract ledger.ID, n uint64) {
	s.mu.Lock()
	ag, ok := s.contracts[contract]
	due := false
	if ok {
		before := ag.served - ag.receipted
		ag.served += n
		due = before < BandwidthStep && ag.served-ag.receipted >= BandwidthStep
	}
	s.mu.Unlock()
	if due {
		select {
		case s.bandwidthDue <- struct{}{}:
		default: // a collection is due already
		}
	}
}

// BandwidthDue is signalled when some contract's unreceipted bytes served reach BandwidthStep.
func (s *Supplier) BandwidthDue() <-chan struct{} { return s.bandwidthDue }

// owes reports whether a contract's customer has read more than MaxUnreceipted without a
// bandwidth receipt; s.mu held.
func (ag *agreement) owes() bool { return ag.served-ag.receipted > MaxUnreceipted }

// DueBandwidth are the bandwidth receipts the supplier would ask for now: one for each contract
// with bytes served and not yet receipted, for all of them, under its next number. Ordered by
// contract id.
func (s *Supplier) DueBandwidth() []*ledger.BandwidthReceipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*ledger.BandwidthReceipt
	for id, ag := range s.contracts {
		if ag.served > ag.receipted {
			out = append(out, &ledger.BandwidthReceipt{ContractID: id, Number: ag.nextBandwidth, Customer: ag.open.Customer,
				Supplier: s.key, Bytes: ag.served - ag.receipted})
		}
	}
	sort.Slice(out, func(a, b int) bool { return bytes.Compare(out[a].ContractID[:], out[b].ContractID[:]) < 0 })
	return out
}

// CollectBandwidth asks each customer with bytes due to countersign a bandwidth receipt for
// them, and returns those countersigned (to submit) and why the others were not.
func (s *Supplier) CollectBandwidth(ctx context.Context) ([]*ledger.BandwidthReceipt, []error) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	if h == nil {
		return nil, []error{fmt.Errorf("the supplier is not serving")}
	}
	var signed []*ledger.BandwidthReceipt
	var errs []error
	for _, r := range s.DueBandwidth() {
		to, err := PeerID(r.Customer)
		if err == nil {
			err = h.RequestReceipt(ctx, to, s.cfg.ChainID, r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bandwidth receipt %d of contract %s: %w", r.Number, r.ContractID, err))
			continue
		}
		s.mu.Lock()
		if ag, ok := s.contracts[r.ContractID]; ok && r.Number == ag.nextBandwidth {
			ag.nextBandwidth++
			ag.receipted += r.Bytes
		}
		s.mu.Unlock()
		signed = append(signed, r)
	}
	return signed, errs
}
