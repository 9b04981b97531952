package node

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
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
	// Report is the misbehaviour report filed with a fire, when the facts support one (a
	// failed audit with the supplier's signed answer as evidence).
	Report string `json:"report,omitempty"`
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
		v, err := s.ledger.ContractOf(ctx, &open)
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

// pendingFire is a fire under way (specs/p2p.md P-12): written to data/customer/fire.json
// before its first step and removed after its last, so that a crash at any point leaves it
// there and the customer service finishes it when it starts again.
type pendingFire struct {
	Decision SupplierDecision `json:"decision"` // Replacement and Repaired filled in as it goes
}

func (s *customerService) pendingPath() string { return filepath.Join(s.dir, "fire.json") }

func (s *customerService) savePending(p *pendingFire) error {
	if p == nil {
		if err := os.Remove(s.pendingPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return writeJSONFile(s.pendingPath(), p)
}

func (s *customerService) loadPending() (*pendingFire, error) {
	if _, err := os.Stat(s.pendingPath()); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var p pendingFire
	if err := readJSONFile(s.pendingPath(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// crashAt is a test hook: with TRUSTD_TEST_CRASH_AT=point the process exits with code 3 there,
// as a kill would leave it (the end-to-end tests of crash safety).
func (s *customerService) crashAt(point string) {
	if os.Getenv("TRUSTD_TEST_CRASH_AT") == point {
		s.logger.Error("test hook: crashing", "at", point)
		os.Exit(3)
	}
}

// Fire drops a supplier (its key, hex): every file's shards under its contract are rebuilt from
// the others onto a replacement (a known supplier holding no shard of those files, or one hired
// by this node's trust view), then a contract_close (fired) goes to the ledger, the index is
// saved without it, and its shards are deleted. The decision and its reason go to the history.
// Nothing is closed unless every file was repaired. A fire interrupted by a crash is finished
// when the service starts again, and before any other fire.
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
	if _, err := s.finishPending(ctx, cust, h); err != nil {
		return res, fmt.Errorf("a fire interrupted earlier is not finished yet: %w", err)
	}
	who, err := supplierNamed(cust, supplier)
	if err != nil {
		return res, err
	}
	var fired *ledger.ContractOpen
	for _, open := range cust.Contracts() {
		if open.Supplier != who {
			continue
		}
		if v, err := s.ledger.ContractOf(ctx, &open); err == nil && v.Record != nil && !v.Record.Closed {
			fired = &open
			break
		}
	}
	if fired == nil {
		return res, fmt.Errorf("%w: %s has no open contract with this node", ErrNotASupplier, who)
	}
	p := &pendingFire{Decision: SupplierDecision{Time: time.Now().UTC(), Action: "fire", Supplier: who.String(), Contract: fired.ContractID.String(), Reason: reason}}
	if sc, err := s.trust.Score(h.Key(), who); err == nil {
		p.Decision.Score = sc.Score.Score
	}
	if err := s.savePending(p); err != nil {
		return res, fmt.Errorf("recording the fire before it starts: %w", err)
	}
	return s.carryOut(ctx, cust, h, p)
}

// finishPending finishes a fire that a crash interrupted, if there is one (with the op lock
// held); it returns what that fire did.
func (s *customerService) finishPending(ctx context.Context, cust *p2p.Customer, h *p2p.Host) (*FireResult, error) {
	p, err := s.loadPending()
	if err != nil || p == nil {
		return nil, err
	}
	s.logger.Info("finishing a fire interrupted earlier", "supplier", p.Decision.Supplier, "reason", p.Decision.Reason)
	res, err := s.carryOut(ctx, cust, h, p)
	return &res, err
}

// resumeLoop finishes an interrupted fire after a start, trying again every few seconds (its
// suppliers may not be reachable yet) until it is done or the service stops.
func (s *customerService) resumeLoop(ctx context.Context) {
	for ctx.Err() == nil {
		cust, h, octx, done, err := s.exclusive(ctx)
		if err != nil {
			return
		}
		res, err := s.finishPending(octx, cust, h)
		done()
		switch {
		case err == nil && res != nil:
			s.logger.Info("interrupted fire finished", "supplier", res.Decision.Supplier, "files_repaired", len(res.Decision.Repaired))
			return
		case err == nil:
			return
		case ctx.Err() == nil:
			s.logger.Info("interrupted fire not finished yet", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

// carryOut does, or finishes, the fire p. Each step can be done again after a crash: a contract
// already closed is not closed again; files already on the replacement are not repaired again,
// and the shards an interrupted repair left on the replacement that the catalogue does not
// reference are deleted before the repair goes on; the history gets the decision once.
func (s *customerService) carryOut(ctx context.Context, cust *p2p.Customer, h *p2p.Host, p *pendingFire) (FireResult, error) {
	res := FireResult{Decision: p.Decision}
	who, err := ledger.ParsePubKey(p.Decision.Supplier)
	if err != nil {
		return res, err
	}
	cid, err := ledger.ParseID(p.Decision.Contract)
	if err != nil {
		return res, err
	}
	v, err := s.ledger.Contract(ctx, cid)
	if err != nil {
		return res, err
	}
	if v.Record == nil || !v.Record.Closed {
		if err := s.repairOff(ctx, cust, h, p, who, cid); err != nil {
			return FireResult{Decision: p.Decision}, err
		}
		res.Decision = p.Decision
		closing := &ledger.ContractClose{ContractID: cid, Customer: h.Key(), Supplier: who, Reason: ledger.CloseFired}
		_, commit, err := s.sub.SubmitAndWait(ctx, closing)
		if err != nil {
			return res, fmt.Errorf("the files are repaired, but the contract_close did not reach the ledger: %w", err)
		}
		res.Height = commit.Height
		s.crashAt("fire:closed")
	} else {
		res.Height = v.Record.ClosedHeight
	}
	if err := s.reportProven(ctx, h, who, cid, &res); err != nil {
		return res, fmt.Errorf("%s is fired, but the misbehaviour report did not reach the ledger: %w", who, err)
	}
	if err := s.decideOnce(res.Decision); err != nil {
		return res, fmt.Errorf("history: %w", err)
	}
	s.crashAt("fire:decided")
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
	if err := s.deleteAll(ctx, cust, cid, &res.Left); err != nil {
		return res, err
	}
	return res, s.savePending(nil)
}

// repairOff rebuilds every file's shards under contract cid onto the replacement (p's, if one
// was chosen before a crash and can still take them), recording each step in p.
func (s *customerService) repairOff(ctx context.Context, cust *p2p.Customer, h *p2p.Host, p *pendingFire, who ledger.PubKey, cid ledger.ID) error {
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
				if cm.ContractID == cid {
					hit = true
					need += cm.Size
				}
			}
		}
		if hit {
			affected = append(affected, fi)
		}
	}
	if len(affected) == 0 {
		return nil
	}
	var to ledger.ID
	if p.Decision.Replacement != "" {
		// Chosen before a crash, and still open: the repair goes on there (Repair takes what it
		// holds already).
		if prev, err := ledger.ParseID(p.Decision.Replacement); err == nil {
			if v, err := s.ledger.Contract(ctx, prev); err == nil && v.Record != nil && !v.Record.Closed {
				to = prev
			}
		}
	}
	if to == (ledger.ID{}) {
		var err error
		if to, err = s.replacement(ctx, cust, h, taken, need); err != nil {
			return fmt.Errorf("no replacement for %s, so it is not fired: %w", who, err)
		}
		p.Decision.Replacement = to.String()
		if err := s.savePending(p); err != nil {
			return err
		}
	}
	s.crashAt("fire:replacement")
	for n, fi := range affected {
		repaired, err := cust.Repair(ctx, files[fi], cid, to)
		if err != nil {
			// The next try picks a replacement anew, once this one holds nothing of ours that
			// the catalogue does not reference.
			if s.dropUnaccounted(ctx, cust, h, to) == nil {
				p.Decision.Replacement = ""
				err = errors.Join(err, s.savePending(p))
			}
			return fmt.Errorf("repairing file %s (%s), so %s is not fired: %w", files[fi].ID, files[fi].Name, who, err)
		}
		files[fi] = repaired
		if id := repaired.ID.String(); !slices.Contains(p.Decision.Repaired, id) {
			p.Decision.Repaired = append(p.Decision.Repaired, id)
		}
		if n == 0 && len(affected) > 1 {
			s.crashAt("fire:repairing") // one file's shards on the replacement, not in the catalogue
		}
	}
	if err := s.savePending(p); err != nil {
		return err
	}
	s.mu.Lock()
	s.cat.Index.Files = files
	s.mu.Unlock()
	if err := s.saveCatalogue(); err != nil {
		return err
	}
	s.crashAt("fire:repaired")
	return nil
}

// dropUnaccounted deletes the shards a contract's supplier lists that the catalogue does not
// reference and that are not index headers (what an interrupted repair left there).
func (s *customerService) dropUnaccounted(ctx context.Context, cust *p2p.Customer, h *p2p.Host, contract ledger.ID) error {
	known := map[ledger.ID]bool{}
	for _, cm := range s.placedShards()[contract] {
		known[cm.Digest(s.chainID)] = true
	}
	list, err := listContract(ctx, cust, h, contract)
	if err != nil {
		return err
	}
	for _, info := range list {
		if known[info.Commitment.Digest(s.chainID)] || cust.IsIndexHeader(info.ShardID) {
			continue
		}
		if err := cust.Delete(ctx, contract, info.ShardID); err != nil {
			return fmt.Errorf("deleting shard %s that the catalogue does not reference: %w", info.ShardID, err)
		}
	}
	return nil
}

// reportProven files a misbehaviour report (data_corrupted) against a fired supplier when the
// facts support one: an audit of the contract that failed with the supplier's own signed answer
// as evidence, which the ledger checked (R-AUDIT-3). The report points to that audit result:
// its evidence digest is the audit's challenge digest, and its evidence the contract id and
// the audit number (40 bytes), so anyone can find the proof. It is journaled first, and not
// filed again if the ledger has it (a fire finished after a crash). A supplier fired for
// silence, or on anything short of such a proof, gets no report: the contract_close (fired)
// says what the customer decided.
func (s *customerService) reportProven(ctx context.Context, h *p2p.Host, who ledger.PubKey, cid ledger.ID, res *FireResult) error {
	var proof *ledger.AuditResult
	req := api.EventsRequest{Node: h.Key().String(), Peer: who.String(), Kind: ledger.KindAuditResult.String(), Newest: true, Limit: api.MaxPageSize}
	for pages := 0; pages < 10 && proof == nil; pages++ {
		page, err := s.ledger.Events(ctx, req)
		if errors.Is(err, api.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, rec := range page.Records {
			if r, ok := rec.Event.(*ledger.AuditResult); ok && r.ContractID == cid && r.Customer == h.Key() && !r.Passed && r.Evidence != nil {
				proof = r
				break
			}
		}
		if page.Next == "" {
			break
		}
		req.Cursor = page.Next
	}
	if proof == nil {
		return nil
	}
	report := &ledger.MisbehaviorReport{Accused: who, Misconduct: ledger.MisconductDataCorrupted, EvidenceDigest: proof.ChallengeDigest,
		Evidence: binary.BigEndian.AppendUint64(append([]byte(nil), cid[:]...), proof.Number)}
	filed := false
	page, err := s.ledger.Events(ctx, api.EventsRequest{Node: h.Key().String(), Peer: who.String(), Kind: ledger.KindMisbehaviorReport.String(), Newest: true, Limit: api.MaxPageSize})
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return err
	}
	for _, rec := range page.Records {
		if r, ok := rec.Event.(*ledger.MisbehaviorReport); ok && rec.Signer == h.Key() && r.Accused == who && r.EvidenceDigest == report.EvidenceDigest {
			filed = true
		}
	}
	if !filed {
		if err := s.journal.Record(h.Key(), journal.Report(s.chainID, report)); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if _, _, err := s.sub.SubmitAndWait(ctx, report); err != nil {
			return err
		}
	}
	res.Decision.Report = fmt.Sprintf("data_corrupted, with audit %d of contract %s as evidence", proof.Number, cid)
	return nil
}

// decideOnce appends a fire to the history unless the history has it already (a fire finished
// after a crash).
func (s *customerService) decideOnce(d SupplierDecision) error {
	hist, err := s.History(context.Background())
	if err != nil {
		return err
	}
	for _, old := range hist {
		if old.Action == d.Action && old.Contract == d.Contract {
			return nil
		}
	}
	return s.decide(d)
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

// listContract asks the supplier of one of the customer's contracts for its list of the
// shards it holds under it (within 10 s).
func listContract(ctx context.Context, cust *p2p.Customer, h *p2p.Host, contract ledger.ID) ([]p2p.ShardInfo, error) {
	var sup ledger.PubKey
	for _, open := range cust.Contracts() {
		if open.ContractID == contract {
			sup = open.Supplier
		}
	}
	to, err := p2p.PeerID(sup)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.ListShards(lctx, to, contract)
}

// deleteAll asks a contract's supplier to delete every shard it lists (best effort).
func (s *customerService) deleteAll(ctx context.Context, cust *p2p.Customer, contract ledger.ID, left *[]string) error {
	h := s.host()
	if h == nil {
		return nil
	}
	list, err := listContract(ctx, cust, h, contract)
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
		v, err := s.ledger.ContractOf(ctx, &open)
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
