package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/p2p"
	"github.com/trustledger/trustledger/reputation"
)

// auditLeaves is how many leaves one audit challenges (specs/audit.md).
const auditLeaves = 16

// placedShards lists, per contract, the commitments of the shards the catalogue has on it (its
// files' and its index's), in contract order.
func (s *customerService) placedShards() map[ledger.ID][]ledger.StorageCommitment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[ledger.ID][]ledger.StorageCommitment{}
	add := func(r p2p.FileRecord) {
		for _, sr := range r.Stripes {
			for _, cm := range sr.Shards {
				out[cm.ContractID] = append(out[cm.ContractID], cm)
			}
		}
	}
	for _, f := range s.cat.Index.Files {
		add(f)
	}
	if s.cat.IndexRecord != nil {
		add(*s.cat.IndexRecord)
	}
	return out
}

// BackupAudit is one audit the customer ran and submitted.
type BackupAudit struct {
	Contract string `json:"contract"`
	Supplier string `json:"supplier"`
	Number   uint64 `json:"number"`
	Shard    string `json:"shard"`
	Passed   bool   `json:"passed"`
	// Why says why an audit failed: the leaf that did not match (the signed answer goes to the
	// ledger as evidence), or why there was no answer.
	Why string `json:"why,omitempty"`
}

// BackupAuditResult is one round of audits.
type BackupAuditResult struct {
	Audits []BackupAudit `json:"audits"`
	Height int64         `json:"height"` // where the results were committed (0: none to submit)
}

// auditPick is one shard an audit round challenges; next is the ledger's next audit number of
// its contract when the round began.
type auditPick struct {
	contract ledger.ID
	supplier ledger.PubKey
	shard    ledger.StorageCommitment
	next     uint64
}

// Audit challenges every supplier holding shards of the catalogue on one of them, picked at
// random, and submits the results to the ledger: a wrong answer with the supplier's signed
// answer as evidence, no answer as a failure on the customer's word (`trustd backup audit`).
func (s *customerService) Audit(ctx context.Context) (BackupAuditResult, error) {
	cust, h, ctx, done, err := s.running(ctx)
	if err != nil {
		return BackupAuditResult{}, err
	}
	defer done()
	var picks []auditPick
	for _, c := range s.auditable(ctx, cust) {
		pick, err := rand.Int(rand.Reader, big.NewInt(int64(len(c.shards))))
		if err != nil {
			return BackupAuditResult{}, err
		}
		picks = append(picks, auditPick{c.contract, c.supplier, c.shards[pick.Int64()], c.next})
	}
	return s.runAudits(ctx, h, picks, time.Now())
}

// AuditDue is a scheduled round (specs/p2p.md P-12): it challenges every shard whose last
// audit is the schedule's interval or more ago (trust.toml's [manager] audit_loss,
// audit_window, audit_confidence), so that a supplier that lost audit_loss of a shard is caught
// within the window with at least that confidence. A shard without an audit on record is taken
// as audited before the service started by a part of the interval set by its digest, so that
// the first audits after a start are spread over one interval. A supplier that does not answer is challenged once a round;
// its other shards stay due.
func (s *customerService) AuditDue(ctx context.Context, now time.Time) (BackupAuditResult, error) {
	cust, h, ctx, done, err := s.running(ctx)
	if err != nil {
		return BackupAuditResult{}, err
	}
	defer done()
	interval := s.auditInterval
	var picks []auditPick
	contracts := s.auditable(ctx, cust)
	s.mu.Lock()
	for _, c := range contracts {
		last := make([]int64, len(c.shards))
		for i, cm := range c.shards {
			d := cm.Digest(s.chainID)
			var ok bool
			if last[i], ok = s.audited[d]; !ok {
				last[i] = s.auditStart.UnixNano() - int64(binary.BigEndian.Uint64(d[:8])%uint64(interval))
			}
		}
		for _, i := range reputation.DueAudits(last, now.UnixNano(), int64(interval)) {
			picks = append(picks, auditPick{c.contract, c.supplier, c.shards[i], c.next})
		}
	}
	s.mu.Unlock()
	return s.runAudits(ctx, h, picks, now)
}

// auditableContract is an open contract of the customer's with the catalogue's shards on it,
// and the ledger's next audit number of it.
type auditableContract struct {
	contract ledger.ID
	supplier ledger.PubKey
	shards   []ledger.StorageCommitment
	next     uint64
}

// auditable lists the open contracts holding the catalogue's shards, in contract order.
func (s *customerService) auditable(ctx context.Context, cust *p2p.Customer) []auditableContract {
	placed := s.placedShards()
	var out []auditableContract
	for _, open := range cust.Contracts() {
		shards, ok := placed[open.ContractID]
		if !ok {
			continue
		}
		v, err := s.ledger.ContractOf(ctx, &open)
		if err != nil || v.Record == nil || v.Record.Closed {
			continue
		}
		out = append(out, auditableContract{open.ContractID, open.Supplier, shards, v.Receipts["audits"].Next})
	}
	slices.SortFunc(out, func(a, b auditableContract) int { return bytes.Compare(a.contract[:], b.contract[:]) })
	return out
}

// auditBatch bounds one transaction of audit results: at most this many, and about
// auditBatchBytes (a failure's evidence is up to 3 KiB; a transaction at most 64 KiB).
const (
	auditBatch      = 64
	auditBatchBytes = 40 << 10
)

// runAudits challenges each pick, journals each result before it is submitted, records when
// each shard was audited (data/customer/audits.json) and submits the results in transactions
// of at most auditBatch.
func (s *customerService) runAudits(ctx context.Context, h *p2p.Host, picks []auditPick, now time.Time) (BackupAuditResult, error) {
	var res BackupAuditResult
	var evs []ledger.Event
	silent := map[ledger.ID]bool{} // contracts whose supplier did not answer this round
	for _, pk := range picks {
		if silent[pk.contract] {
			continue
		}
		s.mu.Lock()
		number := max(s.audit[pk.contract], pk.next)
		s.audit[pk.contract] = number + 1
		s.mu.Unlock()
		var nonce ledger.ID
		_, _ = rand.Read(nonce[:])
		cm := pk.shard
		ch := ledger.AuditChallenge{Commitment: cm.Digest(s.chainID), Number: number, Nonce: nonce, Count: auditLeaves}
		result := &ledger.AuditResult{ContractID: pk.contract, Number: number, Customer: h.Key(), Supplier: pk.supplier, ChallengeDigest: ch.Digest()}
		audit := BackupAudit{Contract: pk.contract.String(), Supplier: pk.supplier.String(), Number: number, Shard: cm.ShardID.String()}
		to, err := p2p.PeerID(pk.supplier)
		if err != nil {
			return res, err
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ans, failing, err := h.Audit(actx, to, s.chainID, cm, ch)
		cancel()
		switch {
		case ctx.Err() != nil:
			return res, ctx.Err()
		case err != nil:
			audit.Why = err.Error()
			silent[pk.contract] = true
		case failing >= 0:
			audit.Why = fmt.Sprintf("leaf %d of the answer does not match the shard's commitment", failing)
			result.Evidence = ledger.NewAuditEvidence(&cm, &ans, failing)
		default:
			result.Passed, audit.Passed = true, true
		}
		if err := s.journal.Record(h.Key(), journal.Audit(s.chainID, result)); err != nil {
			return res, fmt.Errorf("journal: %w", err)
		}
		s.mu.Lock()
		s.audited[ch.Commitment] = now.UnixNano()
		s.mu.Unlock()
		evs = append(evs, result)
		res.Audits = append(res.Audits, audit)
	}
	if len(evs) == 0 {
		return res, nil
	}
	if err := s.saveAudited(); err != nil {
		return res, err
	}
	for len(evs) > 0 {
		n, size := 0, 0
		for n < len(evs) && n < auditBatch {
			size += 256
			if evs[n].(*ledger.AuditResult).Evidence != nil {
				size += 3 << 10
			}
			if n > 0 && size > auditBatchBytes {
				break
			}
			n++
		}
		_, commit, err := s.sub.SubmitAndWait(ctx, evs[:n]...)
		if err != nil {
			return res, fmt.Errorf("submitting %d audit results: %w", n, err)
		}
		res.Height = commit.Height
		evs = evs[n:]
	}
	return res, nil
}

func (s *customerService) auditedPath() string { return filepath.Join(s.dir, "audits.json") }

// saveAudited writes when each shard of the catalogue was last audited (the others are
// forgotten: their shards left the catalogue).
func (s *customerService) saveAudited() error {
	keep := map[string]int64{}
	for _, shards := range s.placedShards() {
		for _, cm := range shards {
			d := cm.Digest(s.chainID)
			s.mu.Lock()
			if t, ok := s.audited[d]; ok {
				keep[d.String()] = t
			}
			s.mu.Unlock()
		}
	}
	return writeJSONFile(s.auditedPath(), keep)
}

// loadAudited reads audits.json.
func (s *customerService) loadAudited() (map[ledger.ID]int64, error) {
	raw := map[string]int64{}
	if err := readJSONFile(s.auditedPath(), &raw); err != nil {
		return nil, err
	}
	out := make(map[ledger.ID]int64, len(raw))
	for k, t := range raw {
		id, err := ledger.ParseID(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.auditedPath(), err)
		}
		out[id] = t
	}
	return out, nil
}

// auditLoop runs a scheduled audit round every audit period until ctx ends.
func (s *customerService) auditLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	runEvery(ctx, s.audits, func(ctx context.Context) {
		res, err := s.AuditDue(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			s.logger.Error("audit round failed", "err", err)
		}
		for _, a := range res.Audits {
			if !a.Passed {
				s.logger.Info("audit failed", "supplier", a.Supplier, "contract", a.Contract, "number", a.Number, "why", a.Why)
			}
		}
	})
}

// BackupStatus is the state of the backups: each file's health and each supplier's.
type BackupStatus struct {
	Files     []BackupFileHealth `json:"files"`
	Suppliers []BackupSupplier   `json:"suppliers"`
}

// Health of a file.
const (
	HealthHealthy  = "healthy"  // every shard is held, as committed, by a supplier that answers
	HealthDegraded = "degraded" // some are not, yet every stripe has K: it reads back
	HealthLost     = "lost"     // some stripe has fewer than K
)

// BackupFileHealth is one file's health: the fewest shards held of any of its stripes.
type BackupFileHealth struct {
	BackupFile
	Health  string `json:"health"`
	Weakest int    `json:"weakest"` // the fewest shards of one stripe held and reachable
}

// BackupSupplier is one supplier of the backups, as its own list of shards shows it.
type BackupSupplier struct {
	Supplier  string `json:"supplier"`
	Contract  string `json:"contract"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	Shards    int    `json:"shards"` // the catalogue's shards on it
	Held      int    `json:"held"`   // of which its list shows, with the committed root
	Bytes     uint64 `json:"bytes"`  // their size
	// Unaccounted are the shards its list shows under the contract that are neither the
	// catalogue's nor index headers (what an interrupted operation left).
	Unaccounted int `json:"unaccounted"`
	// LastAudit is the newest audit result of the contract in the ledger (nil: none yet).
	LastAudit *BackupLastAudit `json:"last_audit,omitempty"`
	// AllAuditedSince: every shard of the catalogue on it was audited at this time or after
	// (the oldest of their last audits); nil while one has not been audited yet.
	AllAuditedSince *time.Time `json:"all_audited_since,omitempty"`
	contract        ledger.ID
}

// BackupLastAudit is an audit result the ledger holds.
type BackupLastAudit struct {
	Number uint64    `json:"number"`
	Passed bool      `json:"passed"`
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`
}

// Status asks each supplier for its list of shards and compares it with the catalogue.
func (s *customerService) Status(ctx context.Context) (BackupStatus, error) {
	var st BackupStatus
	cust, h, ctx, done, err := s.running(ctx)
	if err != nil {
		return st, err
	}
	defer done()
	last, err := s.lastAudits(ctx, h.Key())
	if err != nil {
		return st, err
	}
	var held map[ledger.ID]bool
	st.Suppliers, held = s.supplierStates(ctx, cust, h)
	for i := range st.Suppliers {
		st.Suppliers[i].LastAudit = last[st.Suppliers[i].contract]
	}
	s.mu.Lock()
	files := slices.Clone(s.cat.Index.Files)
	s.mu.Unlock()

	st.Files = []BackupFileHealth{}
	for _, f := range files {
		fh := BackupFileHealth{BackupFile: backupFile(f), Health: HealthHealthy, Weakest: -1}
		for _, sr := range f.Stripes {
			n := 0
			for _, cm := range sr.Shards {
				if held[cm.Digest(s.chainID)] {
					n++
				}
			}
			if fh.Weakest < 0 || n < fh.Weakest {
				fh.Weakest = n
			}
			switch {
			case n < sr.K:
				fh.Health = HealthLost
			case n < len(sr.Shards) && fh.Health == HealthHealthy:
				fh.Health = HealthDegraded
			}
		}
		st.Files = append(st.Files, fh)
	}
	return st, nil
}

// supplierStates asks each supplier of the catalogue's shards for its list of them: whether it
// answered, and which shards (by commitment digest) it holds as committed. LastAudit is left
// for the caller (it costs a listing of the ledger).
func (s *customerService) supplierStates(ctx context.Context, cust *p2p.Customer, h *p2p.Host) ([]BackupSupplier, map[ledger.ID]bool) {
	placed := s.placedShards()
	held := map[ledger.ID]bool{}
	var out []BackupSupplier
	for _, open := range cust.Contracts() {
		shards, ok := placed[open.ContractID]
		if !ok {
			// A spare: listed while the ledger has it open.
			if v, err := s.ledger.ContractOf(ctx, &open); err != nil || v.Record == nil || v.Record.Closed {
				continue
			}
		}
		sup := BackupSupplier{Supplier: open.Supplier.String(), Contract: open.ContractID.String(), Shards: len(shards), contract: open.ContractID}
		if to, err := p2p.PeerID(open.Supplier); err == nil {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			list, err := h.ListShards(lctx, to, open.ContractID)
			cancel()
			if err != nil {
				sup.Error = err.Error()
			} else {
				sup.Reachable = true
				mine := map[ledger.ID]bool{}
				for _, cm := range shards {
					mine[cm.Digest(s.chainID)] = true
				}
				for _, info := range list {
					d := info.Commitment.Digest(s.chainID)
					held[d] = true
					if !mine[d] && !cust.IsIndexHeader(info.ShardID) {
						sup.Unaccounted++
					}
				}
			}
		}
		var oldest int64
		s.mu.Lock()
		for i, cm := range shards {
			d := cm.Digest(s.chainID)
			if held[d] {
				sup.Held++
				sup.Bytes += cm.Size
			}
			if t := s.audited[d]; i == 0 || t < oldest {
				oldest = t
			}
		}
		s.mu.Unlock()
		if oldest > 0 {
			t := time.Unix(0, oldest).UTC()
			sup.AllAuditedSince = &t
		}
		out = append(out, sup)
	}
	return out, held
}

// lastAudits is the newest audit result in the ledger of each of customer's contracts.
func (s *customerService) lastAudits(ctx context.Context, customer ledger.PubKey) (map[ledger.ID]*BackupLastAudit, error) {
	out := map[ledger.ID]*BackupLastAudit{}
	for rec, err := range s.ledger.AllEvents(ctx, api.EventsRequest{Node: customer.String(), Kind: ledger.KindAuditResult.String()}) {
		if errors.Is(err, api.ErrNotFound) {
			break // nothing committed yet
		}
		if err != nil {
			return nil, err
		}
		r, ok := rec.Event.(*ledger.AuditResult)
		if !ok || r.Customer != customer {
			continue
		}
		if prev := out[r.ContractID]; prev == nil || rec.Height >= prev.Height {
			out[r.ContractID] = &BackupLastAudit{Number: r.Number, Passed: r.Passed, Height: rec.Height, Time: time.Unix(rec.Time, 0).UTC()}
		}
	}
	return out, nil
}

// payEvery is how often the customer looks for payments owed besides right after a storage
// receipt (a payment that failed is tried again then).
const payEvery = time.Minute

// payLoop pays suppliers for the storage their countersigned receipts cover (P-13), after each
// receipt and every payEvery, until ctx ends.
func (s *customerService) payLoop(ctx context.Context, cust *p2p.Customer) {
	t := time.NewTicker(payEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cust.PaymentsDue():
		case <-t.C:
		}
		if paid, err := s.Pay(ctx); err != nil && ctx.Err() == nil {
			s.logger.Info("payments not all made", "made", len(paid), "err", err)
		}
	}
}

// Pay makes every payment owed (P-13): for each contract whose countersigned storage receipts
// cost more at its price than was paid, a payment of the difference, journaled, acknowledged by
// the supplier and submitted; one under way from before a crash is made again as it was (or
// found in the ledger). It returns the payments that reached the ledger.
func (s *customerService) Pay(ctx context.Context) ([]ledger.Payment, error) {
	cust, h, ctx, done, err := s.running(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	var paid []ledger.Payment
	var errs []error
	for _, open := range cust.Contracts() {
		p, err := cust.NextPayment(open.ContractID)
		if err != nil || p == nil {
			errs = append(errs, err)
			continue
		}
		if err := s.payOne(ctx, cust, h, p); err != nil {
			errs = append(errs, fmt.Errorf("payment %s of %d to %s: %w", p.PaymentID, p.Amount, p.Payee, err))
			continue
		}
		paid = append(paid, *p)
	}
	return paid, errors.Join(errs...)
}

func (s *customerService) payOne(ctx context.Context, cust *p2p.Customer, h *p2p.Host, p *ledger.Payment) error {
	if err := s.journal.Record(h.Key(), journal.Payment(s.chainID, p)); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if s.paymentInLedger(ctx, p) {
		return cust.Paid(p.Reference, p.PaymentID)
	}
	to, err := p2p.PeerID(p.Payee)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = h.RequestPaymentAck(actx, to, s.chainID, p)
	cancel()
	if err != nil {
		return err
	}
	if _, _, err := s.sub.SubmitAndWait(ctx, p); err != nil && !s.paymentInLedger(ctx, p) {
		return err
	}
	return cust.Paid(p.Reference, p.PaymentID)
}

// paymentInLedger reports whether the ledger has payment p (by id) among the newest payments
// between its parties.
func (s *customerService) paymentInLedger(ctx context.Context, p *ledger.Payment) bool {
	page, err := s.ledger.Events(ctx, api.EventsRequest{Node: p.Payer.String(), Peer: p.Payee.String(), Kind: ledger.KindPayment.String(), Newest: true, Limit: api.MaxPageSize})
	if err != nil {
		return false
	}
	for _, rec := range page.Records {
		if q, ok := rec.Event.(*ledger.Payment); ok && q.PaymentID == p.PaymentID {
			return true
		}
	}
	return false
}
