package p2p

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/trustledger/trustledger/ledger"
)

// SupplierContract is one of a supplier's contracts as its operator sees it.
type SupplierContract struct {
	Open      ledger.ContractOpen `json:"open"`
	Used      uint64              `json:"used"`   // shard bytes held (or being received)
	Shards    int                 `json:"shards"` // shards held
	Served    uint64              `json:"served"` // bytes read back by the customer, verified
	Receipted uint64              `json:"receipted"`
	Quitting  bool                `json:"quitting,omitempty"`
}

// Contracts lists the supplier's contracts, by contract id.
func (s *Supplier) Contracts() []SupplierContract {
	s.mu.Lock()
	defer s.mu.Unlock()
	shards := map[ledger.ID]int{}
	for _, h := range s.shards {
		shards[h.commitment.ContractID]++
	}
	out := make([]SupplierContract, 0, len(s.contracts))
	for id, ag := range s.contracts {
		out = append(out, SupplierContract{Open: ag.open, Used: ag.used, Shards: shards[id], Served: ag.served, Receipted: ag.receipted, Quitting: ag.quitting})
	}
	sort.Slice(out, func(a, b int) bool { return bytes.Compare(out[a].Open.ContractID[:], out[b].Open.ContractID[:]) < 0 })
	return out
}

// Quit starts leaving a contract (P-4): the supplier takes no more shards under it and returns
// the unilateral contract_close (reason quit) to submit. Its shards stay, and are still served
// and audited, until the close is committed and Forget is called: a supplier never drops data
// under a contract the ledger still holds open.
func (s *Supplier) Quit(id ledger.ID) (*ledger.ContractClose, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ag, ok := s.contracts[id]
	if !ok {
		return nil, fmt.Errorf("no contract %s here", id)
	}
	ag.quitting = true
	return &ledger.ContractClose{ContractID: id, Customer: ag.open.Customer, Supplier: s.key, Reason: ledger.CloseQuit}, nil
}

// Forget ends a contract the ledger has closed: its shards and their commitments are deleted
// and its space is free again.
func (s *Supplier) Forget(id ledger.ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ag, ok := s.contracts[id]
	if !ok {
		return fmt.Errorf("no contract %s here", id)
	}
	for d, h := range s.shards {
		if h.commitment.ContractID == id {
			delete(s.shards, d)
		}
	}
	delete(s.contracts, id)
	s.committed -= min(s.committed, ag.open.Bytes)
	if err := os.RemoveAll(filepath.Join(s.cfg.Dir, id.String())); err != nil {
		return fmt.Errorf("contract %s is forgotten, but its shards are still on disk: %w", id, err)
	}
	return nil
}
