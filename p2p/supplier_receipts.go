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
