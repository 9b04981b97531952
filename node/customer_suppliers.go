package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// ErrNotASupplier: the node named holds no contract of this customer.
var ErrNotASupplier = errors.New("not a supplier of this customer")

// SupplierDecision is one hire or fire of the customer's, with why: `trustd suppliers history`.
type SupplierDecision struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action"` // "hire" or "fire"
	Supplier string    `json:"supplier"`
	Contract string    `json:"contract"`
	Reason   string    `json:"reason"`
	// Score is the supplier's score as this node saw it then; Explored says it was hired
	// through the newcomer share.
	Score    float64 `json:"score"`
	Explored bool    `json:"explored,omitempty"`
	// Repaired are the files whose shards moved to Replacement (a fire).
	Repaired    []string `json:"repaired,omitempty"`
	Replacement string   `json:"replacement,omitempty"`
}

func (s *customerService) historyPath() string { return filepath.Join(s.dir, "history.jsonl") }

// decide appends a decision to the history (one JSON line, synced).
func (s *customerService) decide(d SupplierDecision) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.historyPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	line, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// History lists the customer's hires and fires, oldest first.
func (s *customerService) History(context.Context) ([]SupplierDecision, error) {
	out := []SupplierDecision{}
	f, err := os.Open(s.historyPath())
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var d SupplierDecision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return out, fmt.Errorf("%s line %d: %w", s.historyPath(), n, err)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// HiredSupplier is one of the customer's suppliers: `trustd suppliers`.
type HiredSupplier struct {
	Supplier string `json:"supplier"`
	Contract string `json:"contract"`
	Shards   int    `json:"shards"` // the catalogue's shards under the contract
	Bytes    uint64 `json:"bytes"`
	// Score, Confidence and Status are this node's view of the supplier (specs/trust.md).
	Score      float64 `json:"score"`
	Confidence float64 `json:"confidence"`
	Status     string  `json:"status"`
	// OpenedHeight and OpenedTime are when the contract reached the ledger.
	OpenedHeight int64            `json:"opened_height"`
	OpenedTime   time.Time        `json:"opened_time"`
	LastAudit    *BackupLastAudit `json:"last_audit,omitempty"`
	Hired        string           `json:"hired,omitempty"` // why, from the history
}

// Suppliers lists the customer's open contracts with what it holds under each and how this node
// sees each supplier now.
func (s *customerService) Suppliers(ctx context.Context) ([]HiredSupplier, error) {
	cust, h, ctx, done, err := s.running(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	placed := s.placedShards()
	last, err := s.lastAudits(ctx, h.Key())
	if err != nil {
		return nil, err
	}
	why := map[string]string{}
	if hist, err := s.History(ctx); err == nil {
		for _, d := range hist {
			if d.Action == "hire" {
				why[d.Contract] = d.Reason
			}
		}
	}
	out := []HiredSupplier{}
	for _, open := range cust.Contracts() {
		v, err := s.ledger.Contract(ctx, open.ContractID)
		if err != nil || v.Record == nil || v.Record.Closed {
			continue
		}
		hs := HiredSupplier{Supplier: open.Supplier.String(), Contract: open.ContractID.String(), OpenedHeight: v.Record.OpenedHeight,
			OpenedTime: time.Unix(v.Record.OpenedTime, 0).UTC(), LastAudit: last[open.ContractID], Hired: why[open.ContractID.String()]}
		for _, cm := range placed[open.ContractID] {
			hs.Shards++
			hs.Bytes += cm.Size
		}
		if sc, err := s.trust.Score(h.Key(), open.Supplier); err == nil {
			hs.Score, hs.Confidence, hs.Status = sc.Score.Score, sc.Score.Confidence, sc.Score.Status
		}
		out = append(out, hs)
	}
	return out, nil
}

// FireResult is what a fire did.
type FireResult struct {
	Decision SupplierDecision `json:"decision"`
	Height   int64            `json:"height"` // where the contract_close (fired) was committed
	// Left are the fired supplier's shards it did not confirm deleting.
	Left []string `json:"left,omitempty"`
}

// Fire drops a supplier (its key, hex): every file's shards under its contract are rebuilt from
// the others onto a replacement (a known supplier holding no shard of those files, or one hired
// by this node's trust view), then a contract_close (fired) goes to the ledger, the index is
// saved without it, and its shards are deleted. The decision and its reason go to the history.
// Nothing is closed unless every file was repaired.
func (s *customerService) Fire(ctx context.Context, supplier, reason string) (FireResult, error) {
	var res FireResult
	if strings.TrimSpace(reason) == "" {
		return res, errors.New("give a reason: it goes into the history, with the decision")
	}
	cust, h, ctx, done, err := s.exclusive(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	who, err := supplierNamed(cust, supplier)
	if err != nil {
		return res, err
	}
	var fired *ledger.ContractOpen
	for _, open := range cust.Contracts() {
		if open.Supplier != who {
			continue
		}
		if v, err := s.ledger.Contract(ctx, open.ContractID); err == nil && v.Record != nil && !v.Record.Closed {
			fired = &open
			break
		}
	}
	if fired == nil {
		return res, fmt.Errorf("%w: %s has no open contract with this node", ErrNotASupplier, who)
	}
	res.Decision = SupplierDecision{Time: time.Now().UTC(), Action: "fire", Supplier: who.String(), Contract: fired.ContractID.String(), Reason: reason}
	if sc, err := s.trust.Score(h.Key(), who); err == nil {
		res.Decision.Score = sc.Score.Score
	}

	// The files with shards under the fired contract, and every supplier they use.
	s.mu.Lock()
	files := slices.Clone(s.cat.Index.Files)
	s.mu.Unlock()
	taken := []ledger.PubKey{who}
	var need uint64
	var affected []int
	for fi, f := range files {
		hit := false
		for _, sr := range f.Stripes {
			for _, cm := range sr.Shards {
				if !slices.Contains(taken, cm.Supplier) {
					taken = append(taken, cm.Supplier)
				}
				if cm.ContractID == fired.ContractID {
					hit = true
					need += cm.Size
				}
			}
		}
		if hit {
			affected = append(affected, fi)
		}
	}
	if len(affected) > 0 {
		to, err := s.replacement(ctx, cust, h, taken, need)
		if err != nil {
			return res, fmt.Errorf("no replacement for %s, so it is not fired: %w", who, err)
		}
		res.Decision.Replacement = to.String()
		for _, fi := range affected {
			repaired, err := cust.Repair(ctx, files[fi], fired.ContractID, to)
			if err != nil {
				return res, fmt.Errorf("repairing file %s (%s), so %s is not fired: %w", files[fi].ID, files[fi].Name, who, err)
			}
			files[fi] = repaired
			res.Decision.Repaired = append(res.Decision.Repaired, repaired.ID.String())
		}
		s.mu.Lock()
		s.cat.Index.Files = files
		s.mu.Unlock()
		if err := s.saveCatalogue(); err != nil {
			return res, err
		}
	}
	closing := &ledger.ContractClose{ContractID: fired.ContractID, Customer: h.Key(), Supplier: who, Reason: ledger.CloseFired}
	_, commit, err := s.sub.SubmitAndWait(ctx, closing)
	if err != nil {
		return res, fmt.Errorf("the files are repaired, but the contract_close did not reach the ledger: %w", err)
	}
	res.Height = commit.Height
	if err := s.decide(res.Decision); err != nil {
		return res, fmt.Errorf("history: %w", err)
	}
	key, err := stripe.Key(s.key)
	if err != nil {
		return res, err
	}
	spread, _, err := s.spread(ctx, cust, s.indexNeed())
	if err == nil {
		err = s.saveIndex(ctx, cust, key, spread)
	}
	if err != nil {
		return res, fmt.Errorf("%s is fired and the files repaired, but the index was not saved again: %w", who, err)
	}
	// The fired supplier's shards are deleted (best effort: it may be gone).
	return res, s.deleteAll(ctx, cust, fired.ContractID, &res.Left)
}

// supplierNamed is the supplier of one of the customer's contracts whose key starts with name
// (at least 8 hex digits).
func supplierNamed(cust *p2p.Customer, name string) (ledger.PubKey, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) < 8 {
		return ledger.PubKey{}, fmt.Errorf("supplier %q: give at least 8 hex digits of its key (`trustd suppliers`)", name)
	}
	var found []ledger.PubKey
	for _, open := range cust.Contracts() {
		if strings.HasPrefix(open.Supplier.String(), name) && !slices.Contains(found, open.Supplier) {
			found = append(found, open.Supplier)
		}
	}
	switch len(found) {
	case 0:
		return ledger.PubKey{}, fmt.Errorf("%w: no supplier of this node's has a key starting %s", ErrNotASupplier, name)
	case 1:
		return found[0], nil
	}
	return ledger.PubKey{}, fmt.Errorf("%w: %s names %d suppliers; give more digits", ErrAmbiguousID, name, len(found))
}

// deleteAll asks a contract's supplier to delete every shard it lists (best effort).
func (s *customerService) deleteAll(ctx context.Context, cust *p2p.Customer, contract ledger.ID, left *[]string) error {
	h := s.host()
	var sup ledger.PubKey
	for _, open := range cust.Contracts() {
		if open.ContractID == contract {
			sup = open.Supplier
		}
	}
	to, err := p2p.PeerID(sup)
	if err != nil || h == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	list, err := h.ListShards(lctx, to, contract)
	cancel()
	if err != nil {
		*left = append(*left, fmt.Sprintf("listing the shards: %v", err))
		return nil
	}
	for _, info := range list {
		if err := cust.Delete(ctx, contract, info.ShardID); err != nil {
			*left = append(*left, fmt.Sprintf("shard %s: %v", info.ShardID, err))
		}
	}
	return nil
}

// replacement is a contract with need bytes free and a supplier not in taken: a known one that
// this node's trust view keeps, or one hired now by that view.
func (s *customerService) replacement(ctx context.Context, cust *p2p.Customer, h *p2p.Host, taken []ledger.PubKey, need uint64) (ledger.ID, error) {
	for _, open := range cust.Contracts() {
		if slices.Contains(taken, open.Supplier) {
			continue
		}
		if d, err := s.trust.ShouldDrop(h.Key(), open.Supplier); err != nil || d.Drop {
			continue // a spare the view drops is no place for a repair
		}
		v, err := s.ledger.Contract(ctx, open.ContractID)
		if err != nil || v.Record == nil || v.Record.Closed {
			continue
		}
		if free, err := cust.Free(open.ContractID); err == nil && free >= need && s.reach(ctx, h, open.Supplier) == nil {
			return open.ContractID, nil
		}
	}
	opened, err := s.hire(ctx, cust, h, taken, 1, 1, need)
	if err != nil {
		return ledger.ID{}, err
	}
	return opened[0].ContractID, nil
}
