package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Store is what the state machine reads and writes: the merkleized state at the last commit.
// Get returns nil for a missing key. The machine never deletes.
type Store interface {
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
}

// BlockInfo is what the machine knows of the block: its height and its time (Unix seconds,
// from the block header, never the local clock).
type BlockInfo struct {
	Height int64
	Time   int64
}

// TxResult is the outcome of one transaction.
type TxResult struct {
	Code    Code
	Log     string
	Hash    ID
	Records []EventRecord
}

// Block applies the transactions of one block (or, for the mempool, of the pending set) on top of
// a committed store. Writes stay in the block until Finish flushes them in sorted key order, so a
// rejected transaction leaves nothing behind and many events about one node cost one write.
type Block struct {
	chainID    string
	params     Params
	info       BlockInfo
	base       Store
	writes     map[string][]byte
	perSigner  map[PubKey]uint32
	enforceCap bool
	records    []EventRecord
	txCount    uint32
	valChanges map[PubKey]uint64 // validator power changes of this block (R-VAL-2)
	err        error             // a store failure: the node must stop, not the transaction
}

// NewBlock starts a block. enforceSignerCap applies MaxTxsPerSignerPerBlock (true for real
// blocks, false for the mempool's view of pending transactions).
func NewBlock(base Store, chainID string, params Params, info BlockInfo, enforceSignerCap bool) *Block {
	return &Block{chainID: chainID, params: params, info: info, base: base, writes: map[string][]byte{},
		perSigner: map[PubKey]uint32{}, enforceCap: enforceSignerCap, valChanges: map[PubKey]uint64{}}
}

// Err reports a storage failure met while applying; after one, results are not to be trusted.
func (b *Block) Err() error { return b.err }

// Records returns the events applied so far, in order.
func (b *Block) Records() []EventRecord { return b.records }

// txView is one transaction's writes on top of the block's, merged only if the whole tx applies.
type txView struct {
	b          *Block
	writes     map[string][]byte
	valChanges map[PubKey]uint64
}

func newTxView(b *Block) *txView {
	return &txView{b: b, writes: map[string][]byte{}, valChanges: map[PubKey]uint64{}}
}

// merge moves a successful transaction's writes into the block.
func (v *txView) merge() {
	for k, val := range v.writes {
		v.b.writes[k] = val
	}
	for k, p := range v.valChanges {
		v.b.valChanges[k] = p
	}
}

func (v *txView) get(key []byte) []byte {
	if val, ok := v.writes[string(key)]; ok {
		return val
	}
	if val, ok := v.b.writes[string(key)]; ok {
		return val
	}
	val, err := v.b.base.Get(key)
	if err != nil && v.b.err == nil {
		v.b.err = fmt.Errorf("read state key %q: %w", key, err)
	}
	return val
}

func (v *txView) set(key, val []byte) { v.writes[string(key)] = val }

// ApplyTx checks and applies one transaction. If pre is not nil it is the already decoded
// transaction whose signatures were verified for exactly these bytes (R-SIG-3: verify once).
func (b *Block) ApplyTx(txBytes []byte, pre *Tx) TxResult {
	res := TxResult{Hash: TxHash(txBytes)}
	recs, err := b.applyTx(txBytes, pre, res.Hash)
	if err != nil {
		res.Code = CodeOf(err)
		res.Log = MessageOf(err)
		return res
	}
	res.Records = recs
	return res
}

// CheckStateless decodes a transaction and checks everything that needs no state: size, structure,
// chain id, event count, signatures (R-TX-1 .. R-TX-3, R-SIG-1, R-SIG-2).
func CheckStateless(txBytes []byte, chainID string, params Params) (*Tx, error) {
	if len(txBytes) > int(params.MaxTxBytes) {
		return nil, reject(CodeOversized, "transaction is %d bytes, more than max_tx_bytes %d", len(txBytes), params.MaxTxBytes)
	}
	tx, err := DecodeTx(txBytes)
	if err != nil {
		return nil, err
	}
	if tx.ChainID != chainID {
		return nil, reject(CodeWrongChainID, "transaction is for chain %q, this is %q", tx.ChainID, chainID)
	}
	if len(tx.Events) > int(params.MaxEventsPerTx) {
		return nil, reject(CodeTooManyEvents, "transaction has %d events, more than max_events_per_tx %d", len(tx.Events), params.MaxEventsPerTx)
	}
	if err := tx.VerifySignatures(); err != nil {
		return nil, err
	}
	for i, ev := range tx.Events {
		if a, ok := ev.(*AuditResult); ok && a.Evidence != nil {
			if err := CheckAuditEvidence(tx.ChainID, a); err != nil {
				return nil, reject(CodeBadEvidence, "event %d (audit_result): %v", i, err)
			}
		}
	}
	return tx, nil
}

func (b *Block) applyTx(txBytes []byte, tx *Tx, hash ID) ([]EventRecord, error) {
	if tx == nil {
		var err error
		if tx, err = CheckStateless(txBytes, b.chainID, b.params); err != nil {
			return nil, err
		}
	}
	if b.enforceCap && b.perSigner[tx.Signer] >= b.params.MaxTxsPerSignerPerBlock {
		return nil, reject(CodeSignerBlockCap, "signer %s already has %d transactions in this block (max_txs_per_signer_per_block)", tx.Signer, b.params.MaxTxsPerSignerPerBlock)
	}
	v := newTxView(b)
	signer, err := v.node(tx.Signer)
	if err != nil {
		return nil, err
	}
	if signer == nil {
		if _, ok := tx.Events[0].(*RegisterNode); !ok {
			return nil, reject(CodeUnregistered, "signer %s is not a registered node; its first transaction must start with register_node", tx.Signer)
		}
	}
	next := uint64(1)
	if signer != nil {
		next = signer.Sequence + 1
	}
	switch {
	case tx.Sequence < next:
		return nil, reject(CodeReplayedTx, "sequence %d of signer %s was already used (next is %d)", tx.Sequence, tx.Signer, next)
	case tx.Sequence > next:
		return nil, reject(CodeSequenceGap, "sequence %d of signer %s skips ahead (next is %d)", tx.Sequence, tx.Signer, next)
	}
	recs := make([]EventRecord, 0, len(tx.Events))
	for i, ev := range tx.Events {
		rec := EventRecord{Height: b.info.Height, TxIndex: b.txCount, EventIndex: uint32(i),
			Time: b.info.Time, TxHash: hash, Signer: tx.Signer, Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
		if err := v.applyEvent(tx, i, &rec); err != nil {
			return nil, err
		}
		if b.err != nil {
			return nil, b.err
		}
		recs = append(recs, rec)
	}
	// The signer's record exists now (a registration in this tx created it): bump its sequence.
	rec, err := v.node(tx.Signer)
	if err != nil {
		return nil, err
	}
	rec.Sequence = tx.Sequence
	v.set(NodeKey(tx.Signer), rec.Encode())
	if b.err != nil {
		return nil, b.err
	}
	v.merge()
	b.perSigner[tx.Signer]++
	b.txCount++
	b.records = append(b.records, recs...)
	return recs, nil
}

func (v *txView) node(k PubKey) (*NodeRecord, error) {
	raw := v.get(NodeKey(k))
	if raw == nil {
		return nil, v.b.err
	}
	rec, err := DecodeNodeRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("corrupt node record %s: %w", k, err)
	}
	return rec, nil
}

func (v *txView) requireNode(k PubKey, role string, i int, kind Kind) error {
	rec, err := v.node(k)
	if err != nil {
		return err
	}
	if rec == nil {
		return reject(CodeUnknownNode, "event %d (%s): %s %s is not a registered node", i, kind, role, k)
	}
	return nil
}

// contract reads the record of contract id between customer and supplier; nil if there is none.
func (v *txView) contract(id ID, customer, supplier PubKey) (*ContractRecord, error) {
	raw := v.get(ContractKey(id, customer, supplier))
	if raw == nil {
		return nil, v.b.err
	}
	rec, err := DecodeContractRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("corrupt contract record %s: %w", id, err)
	}
	return rec, nil
}

// parties reads who the contract id is between; nil if it was never opened.
func (v *txView) parties(id ID) (*ContractParties, error) {
	raw := v.get(ContractIDKey(id))
	if raw == nil {
		return nil, v.b.err
	}
	p, err := DecodeContractParties(raw)
	if err != nil {
		return nil, fmt.Errorf("corrupt contract parties %s: %w", id, err)
	}
	return &p, nil
}

// openContract returns the contract named by a receipt or audit, checking it is open and that the
// event names the same customer and supplier (R-CON-3).
func (v *txView) openContract(id ID, customer, supplier PubKey, i int, kind Kind) (*ContractRecord, error) {
	c, err := v.contract(id, customer, supplier)
	if err != nil {
		return nil, err
	}
	if c == nil {
		p, err := v.parties(id)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, reject(CodeUnknownContract, "event %d (%s): contract %s was never opened", i, kind, id)
		}
		return nil, reject(CodeNotAParty, "event %d (%s): contract %s is between customer %s and supplier %s", i, kind, id, p.Customer, p.Supplier)
	}
	if c.Closed {
		return nil, reject(CodeContractClosed, "event %d (%s): contract %s was closed (%s) at height %d", i, kind, id, c.CloseReason, c.ClosedHeight)
	}
	return c, nil
}

// recordNumber checks a receipt's or audit's contract (R-CON-3) and records its number in the
// contract's window for that kind (R-RCPT-1, R-RCPT-2, R-AUD-2). It returns the contract.
func (v *txView) recordNumber(id ID, customer, supplier PubKey, number uint64, i int, kind Kind) (*ContractRecord, error) {
	c, err := v.openContract(id, customer, supplier, i, kind)
	if err != nil {
		return nil, err
	}
	w, what, replayed, tooOld := &c.StorageReceipts, "receipt", CodeReplayedReceipt, CodeReceiptTooOld
	switch kind {
	case KindBandwidthReceipt:
		w = &c.BandwidthReceipts
	case KindAuditResult:
		w, what, replayed, tooOld = &c.Audits, "audit", CodeReplayedAudit, CodeAuditTooOld
	}
	switch err := w.Record(number); {
	case errors.Is(err, errNumberRecorded):
		return nil, reject(replayed, "event %d (%s): %s %d of contract %s was already recorded", i, kind, what, number, id)
	case errors.Is(err, errNumberTooOld):
		return nil, reject(tooOld, "event %d (%s): %s %d of contract %s is %d or more below the highest recorded (%d), too late to record", i, kind, what, number, id, NumberWindowSize, w.Highest)
	case errors.Is(err, errNumberTooFar):
		return nil, reject(CodeNumberTooFar, "event %d (%s): %s %d of contract %s is more than %d above the highest recorded (%d); number them in order", i, kind, what, number, id, MaxNumberStep, w.Highest)
	case err != nil:
		return nil, reject(CodeInvalidField, "event %d (%s): %v", i, kind, err)
	}
	v.set(ContractKey(id, customer, supplier), c.Encode())
	return c, nil
}

// Storage periods (R-RCPT-3): a receipt's period starts no earlier than its contract's opening
// block time less PeriodSlack, and ends no later than the block's time plus PeriodSlack (the
// parties' clocks and the block's differ a little; a period in 1906 or next year is no receipt).
const PeriodSlack = 3600

// claimUnique marks a payment or proposal id used, telling a replay from a conflict (R-UNIQ-1, R-UNIQ-2).
func (v *txView) claimUnique(ev Event, id ID, i int) error {
	key := UniqueKey(ev.Kind(), id)
	h := contentHash(ev)
	if raw := v.get(key); raw != nil {
		prev, err := DecodeUniqueRecord(raw)
		if err != nil {
			return fmt.Errorf("corrupt unique record %s: %w", id, err)
		}
		if prev.ContentHash == h {
			return reject(CodeReplayedReceipt, "event %d (%s): id %s was already recorded at height %d", i, ev.Kind(), id, prev.Height)
		}
		return reject(CodeIDConflict, "event %d (%s): id %s was recorded at height %d with different content", i, ev.Kind(), id, prev.Height)
	}
	v.set(key, (&UniqueRecord{ContentHash: h, Height: v.b.info.Height}).Encode())
	return nil
}

// bump adds one event to the aggregates of subject, and of the pair (subject, counterparty).
func (v *txView) bump(subject, counterparty PubKey, add func(a *Aggregate)) error {
	keys := [][]byte{NodeAggKey(subject)}
	if !counterparty.IsZero() {
		keys = append(keys, PairAggKey(subject, counterparty))
	}
	for _, key := range keys {
		a := &Aggregate{}
		if raw := v.get(key); raw != nil {
			var err error
			if a, err = DecodeAggregate(raw); err != nil {
				return fmt.Errorf("corrupt aggregate %x: %w", key, err)
			}
		}
		a.Events = addSat(a.Events, 1)
		if a.FirstHeight == 0 {
			a.FirstHeight = v.b.info.Height
		}
		a.LastHeight = v.b.info.Height
		add(a)
		v.set(key, a.Encode())
	}
	return nil
}

func (v *txView) applyEvent(tx *Tx, i int, rec *EventRecord) error {
	b := v.b
	rec.Subject, rec.Counterparty = SubjectAndCounterparty(tx.Events[i], tx.Signer)
	switch ev := tx.Events[i].(type) {
	case *RegisterNode:
		existing, err := v.node(tx.Signer)
		if err != nil {
			return err
		}
		if existing != nil {
			return reject(CodeAlreadyExists, "event %d (register_node): node %s is already registered (height %d)", i, tx.Signer, existing.RegisteredHeight)
		}
		if want := PeerIDOf(tx.Signer); ev.PeerID != want {
			return reject(CodeInvalidField, "event %d (register_node): peer_id %q is not the libp2p peer id of the registering key, %s (R-REG-3)", i, ev.PeerID, want)
		}
		if got := LeadingZeroBits(PowDigest(b.chainID, tx.Signer, ev.PowNonce)); got < int(b.params.PowDifficulty) {
			return reject(CodeInsufficientPoW, "event %d (register_node): proof of work has %d leading zero bits, genesis requires %d", i, got, b.params.PowDifficulty)
		}
		v.set(NodeKey(tx.Signer), (&NodeRecord{PeerID: ev.PeerID, Capacity: ev.Capacity, Moniker: ev.Moniker,
			RegisteredHeight: b.info.Height, RegisteredTime: b.info.Time}).Encode())
		return v.bump(tx.Signer, PubKey{}, func(*Aggregate) {})

	case *ContractOpen:
		if err := v.requireNode(ev.Customer, "customer", i, ev.Kind()); err != nil {
			return err
		}
		if err := v.requireNode(ev.Supplier, "supplier", i, ev.Kind()); err != nil {
			return err
		}
		h := contentHash(ev)
		p, err := v.parties(ev.ContractID)
		if err != nil {
			return err
		}
		if p != nil {
			prev, err := v.contract(ev.ContractID, p.Customer, p.Supplier)
			if err == nil && prev == nil {
				err = fmt.Errorf("contract %s: its parties are recorded but not its record", ev.ContractID)
			}
			if err != nil {
				return err
			}
			if prev.ContentHash == h {
				return reject(CodeAlreadyExists, "event %d (contract_open): contract %s was already opened at height %d", i, ev.ContractID, prev.OpenedHeight)
			}
			return reject(CodeIDConflict, "event %d (contract_open): contract id %s is taken by a different contract (height %d)", i, ev.ContractID, prev.OpenedHeight)
		}
		v.set(ContractIDKey(ev.ContractID), ContractParties{Customer: ev.Customer, Supplier: ev.Supplier}.Encode())
		v.set(ContractKey(ev.ContractID, ev.Customer, ev.Supplier), (&ContractRecord{Customer: ev.Customer, Supplier: ev.Supplier,
			Bytes: ev.Bytes, DurationSeconds: ev.DurationSeconds, PricePerGiBMonth: ev.PricePerGiBMonth,
			OpenedHeight: b.info.Height, OpenedTime: b.info.Time, ContentHash: h}).Encode())
		return v.bump(ev.Supplier, ev.Customer, func(a *Aggregate) { a.ContractsOpened = addSat(a.ContractsOpened, 1) })

	case *ContractClose:
		c, err := v.openContract(ev.ContractID, ev.Customer, ev.Supplier, i, ev.Kind())
		if err != nil {
			return err
		}
		if ev.Reason == CloseFired && tx.Signer != ev.Customer {
			return reject(CodeNotAParty, "event %d (contract_close): only the customer %s may fire the supplier", i, ev.Customer)
		}
		if ev.Reason == CloseQuit && tx.Signer != ev.Supplier {
			return reject(CodeNotAParty, "event %d (contract_close): only the supplier %s may quit", i, ev.Supplier)
		}
		c.Closed, c.CloseReason, c.ClosedHeight = true, ev.Reason, b.info.Height
		v.set(ContractKey(ev.ContractID, ev.Customer, ev.Supplier), c.Encode())
		return v.bump(ev.Supplier, ev.Customer, func(a *Aggregate) {
			switch ev.Reason {
			case CloseExpired:
				a.ContractsExpired = addSat(a.ContractsExpired, 1)
			case CloseFired:
				a.ContractsFired = addSat(a.ContractsFired, 1)
			case CloseQuit:
				a.ContractsQuit = addSat(a.ContractsQuit, 1)
			}
		})

	case *StorageReceipt:
		c, err := v.recordNumber(ev.ContractID, ev.Customer, ev.Supplier, ev.Number, i, ev.Kind())
		if err != nil {
			return err
		}
		if ev.PeriodStart < c.OpenedTime-PeriodSlack {
			return reject(CodeInvalidField, "event %d (storage_receipt): period starts at %d, before its contract opened (%d, less %d s)", i, ev.PeriodStart, c.OpenedTime, PeriodSlack)
		}
		if ev.PeriodEnd > b.info.Time+PeriodSlack {
			return reject(CodeInvalidField, "event %d (storage_receipt): period ends at %d, after the block's time (%d, plus %d s)", i, ev.PeriodEnd, b.info.Time, PeriodSlack)
		}
		return v.bump(ev.Supplier, ev.Customer, func(a *Aggregate) {
			a.StorageReceipts = addSat(a.StorageReceipts, 1)
			a.ByteSeconds = addSat(a.ByteSeconds, ev.ByteSeconds)
		})

	case *BandwidthReceipt:
		if _, err := v.recordNumber(ev.ContractID, ev.Customer, ev.Supplier, ev.Number, i, ev.Kind()); err != nil {
			return err
		}
		return v.bump(ev.Supplier, ev.Customer, func(a *Aggregate) {
			a.BandwidthReceipts = addSat(a.BandwidthReceipts, 1)
			a.BandwidthBytes = addSat(a.BandwidthBytes, ev.Bytes)
		})

	case *AuditResult:
		if tx.Signer != ev.Customer {
			return reject(CodeNotAParty, "event %d (audit_result): only the customer %s may report an audit", i, ev.Customer)
		}
		if _, err := v.recordNumber(ev.ContractID, ev.Customer, ev.Supplier, ev.Number, i, ev.Kind()); err != nil {
			return err
		}
		return v.bump(ev.Supplier, ev.Customer, func(a *Aggregate) {
			switch {
			case ev.Passed:
				a.AuditsPassed = addSat(a.AuditsPassed, 1)
			case ev.Evidence != nil:
				a.AuditsFailed = addSat(a.AuditsFailed, 1)
				a.AuditsFailedProven = addSat(a.AuditsFailedProven, 1)
			default:
				a.AuditsFailed = addSat(a.AuditsFailed, 1)
			}
		})

	case *Payment:
		if err := v.requireNode(ev.Payer, "payer", i, ev.Kind()); err != nil {
			return err
		}
		if err := v.requireNode(ev.Payee, "payee", i, ev.Kind()); err != nil {
			return err
		}
		if err := v.claimUnique(ev, ev.PaymentID, i); err != nil {
			return err
		}
		return v.bump(ev.Payer, ev.Payee, func(a *Aggregate) {
			a.PaymentsMade = addSat(a.PaymentsMade, 1)
			a.AmountPaid = addSat(a.AmountPaid, ev.Amount)
		})

	case *MisbehaviorReport:
		if ev.Misconduct > maxUserMisconduct {
			return reject(CodeReservedKind, "event %d (misbehavior_report): %s is recorded by the ledger from consensus evidence, not by users", i, ev.Misconduct)
		}
		if ev.Accused == tx.Signer {
			return reject(CodeInvalidField, "event %d (misbehavior_report): a node cannot report itself", i)
		}
		if ev.Misconduct == MisconductDoubleSignedRcpt && len(ev.Evidence) > 0 {
			// R-EVID-2: attached evidence must prove the equivocation, or the report is refused.
			if err := CheckDoubleSignEvidence(b.chainID, ev.Accused, ev.Evidence); err != nil {
				return reject(CodeBadEvidence, "event %d (misbehavior_report): double-sign evidence: %v", i, err)
			}
		}
		if err := v.requireNode(ev.Accused, "accused", i, ev.Kind()); err != nil {
			return err
		}
		return v.bump(ev.Accused, tx.Signer, func(a *Aggregate) { a.ReportsReceived = addSat(a.ReportsReceived, 1) })

	case *ValidatorUpdate:
		set, err := v.validators()
		if err != nil {
			return err
		}
		approved := uint64(0)
		for _, a := range ev.Approvals {
			p := set.Power(a.Validator)
			if p == 0 {
				return reject(CodeNoQuorum, "event %d (validator_update): approval by %s, which is not a current validator", i, a.Validator)
			}
			approved += p
		}
		if total := set.Total(); approved*3 <= total*2 {
			return reject(CodeNoQuorum, "event %d (validator_update): approvals hold %d of %d voting power; more than 2/3 is needed", i, approved, total)
		}
		if ev.Power == 0 && set.Power(ev.Validator) == 0 {
			return reject(CodeInvalidField, "event %d (validator_update): %s is not a validator, so it cannot be removed", i, ev.Validator)
		}
		next := set.With(ev.Validator, ev.Power)
		if next.Total() == 0 {
			return reject(CodeInvalidField, "event %d (validator_update): the update would leave no validator", i)
		}
		if err := v.claimUnique(ev, ev.ProposalID, i); err != nil {
			return err
		}
		v.set(ValidatorsKey(), next.Encode())
		v.set(ValidatorKey(ConsensusAddress(ev.Validator)), append([]byte(nil), ev.Validator[:]...))
		v.valChanges[ev.Validator] = ev.Power
		return nil
	}
	return reject(CodeUnknownKind, "event %d has unknown kind %d", i, tx.Events[i].Kind())
}

// RecordConsensusMisbehavior appends a misbehaviour report written by the ledger itself, from
// CometBFT's evidence against a validator (R-EVID-1). The reporter (signer) is the zero key.
func (b *Block) RecordConsensusMisbehavior(accused PubKey, m Misconduct, evidenceDigest ID) {
	v := newTxView(b)
	ev := &MisbehaviorReport{Accused: accused, Misconduct: m, EvidenceDigest: evidenceDigest}
	rec := EventRecord{Height: b.info.Height, TxIndex: ConsensusTxIndex, EventIndex: uint32(len(b.records)),
		Time: b.info.Time, Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
	rec.Subject, rec.Counterparty = SubjectAndCounterparty(ev, PubKey{})
	if err := v.bump(accused, PubKey{}, func(a *Aggregate) { a.ReportsReceived = addSat(a.ReportsReceived, 1) }); err != nil {
		if b.err == nil {
			b.err = err
		}
		return
	}
	// R-VAL-3: by genesis parameter, a validator that voted twice loses its power (unless it is
	// the last one: the chain must keep a validator).
	if b.params.ZeroPowerOnDuplicateVote && m == MisconductDuplicateVote {
		set, err := v.validators()
		if err != nil {
			if b.err == nil {
				b.err = err
			}
			return
		}
		if p := set.Power(accused); p > 0 && set.Total() > p {
			v.set(ValidatorsKey(), set.With(accused, 0).Encode())
			v.valChanges[accused] = 0
		}
	}
	v.merge()
	b.records = append(b.records, rec)
}

func (v *txView) validators() (ValidatorSet, error) {
	raw := v.get(ValidatorsKey())
	if raw == nil {
		return nil, v.b.err
	}
	s, err := DecodeValidatorSet(raw)
	if err != nil {
		return nil, fmt.Errorf("corrupt validator set: %w", err)
	}
	return s, nil
}

// ValidatorChanges returns the block's validator power changes, sorted by key (0: removed).
func (b *Block) ValidatorChanges() []ValidatorPower {
	out := make([]ValidatorPower, 0, len(b.valChanges))
	for k, p := range b.valChanges {
		out = append(out, ValidatorPower{PubKey: k, Power: p})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].PubKey[:], out[j].PubKey[:]) < 0 })
	return out
}

// Finish commits the block's event log root and flushes every write to the store in sorted key
// order (R-DET-2). It returns the log root, or the first storage error.
func (b *Block) Finish() (LogRoot, error) {
	if b.err != nil {
		return LogRoot{}, b.err
	}
	var root LogRoot
	if len(b.records) > 0 {
		leaves := make([]ID, len(b.records))
		for i := range b.records {
			leaves[i] = b.records[i].LeafHash()
		}
		total, err := b.base.Get(keyLogTotal)
		if err != nil {
			return LogRoot{}, fmt.Errorf("read log total: %w", err)
		}
		prev := uint64(0)
		if len(total) == 8 {
			prev = binary.BigEndian.Uint64(total)
		}
		root = LogRoot{Count: uint32(len(b.records)), Root: MerkleRoot(leaves), Total: prev + uint64(len(b.records))}
		b.writes[string(LogRootKey(b.info.Height))] = root.Encode()
		b.writes[string(keyLogTotal)] = binary.BigEndian.AppendUint64(nil, root.Total)
	}
	keys := make([]string, 0, len(b.writes))
	for k := range b.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := b.base.Set([]byte(k), b.writes[k]); err != nil {
			return LogRoot{}, fmt.Errorf("write state key %q: %w", k, err)
		}
	}
	b.writes = map[string][]byte{}
	return root, nil
}

// LoadParams reads the chain id and parameters that InitGenesis stored.
func LoadParams(s Store) (string, Params, error) {
	chain, err := s.Get(ChainIDKey())
	if err != nil {
		return "", Params{}, fmt.Errorf("read chain id: %w", err)
	}
	raw, err := s.Get(ParamsKey())
	if err != nil {
		return "", Params{}, fmt.Errorf("read params: %w", err)
	}
	if raw == nil {
		return "", Params{}, fmt.Errorf("state has no params: was the chain initialised?")
	}
	p, err := DecodeParams(raw)
	return string(chain), p, err
}

// InitGenesis writes the chain id, parameters and initial validators into an empty store.
func InitGenesis(s Store, chainID string, p Params, validators []ValidatorPower) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("genesis params: %w", err)
	}
	if chainID == "" || len(chainID) > MaxChainIDBytes {
		return fmt.Errorf("chain id %q must be 1 to %d bytes", chainID, MaxChainIDBytes)
	}
	if err := s.Set(ChainIDKey(), []byte(chainID)); err != nil {
		return err
	}
	if err := s.Set(ParamsKey(), p.Encode()); err != nil {
		return err
	}
	set := ValidatorSet{}
	for _, v := range validators {
		set = set.With(v.PubKey, v.Power)
		if err := s.Set(ValidatorKey(ConsensusAddress(v.PubKey)), append([]byte(nil), v.PubKey[:]...)); err != nil {
			return err
		}
	}
	return s.Set(ValidatorsKey(), set.Encode())
}

// ValidatorPubKey returns the ed25519 key of a consensus address, if genesis or an update named it.
func ValidatorPubKey(s Store, addr []byte) (PubKey, bool, error) {
	raw, err := s.Get(ValidatorKey(addr))
	if err != nil || len(raw) != 32 {
		return PubKey{}, false, err
	}
	var k PubKey
	copy(k[:], raw)
	return k, true, nil
}
