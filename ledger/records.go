package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
)

// NodeRecord is a registered node, as stored at NodeKey.
type NodeRecord struct {
	PeerID           string `json:"peer_id"`
	Capacity         uint64 `json:"capacity_bytes"`
	Moniker          string `json:"moniker"`
	RegisteredHeight int64  `json:"registered_height"`
	RegisteredTime   int64  `json:"registered_time"`
	// Sequence is the number of committed transactions signed by the node (R-TX-4).
	Sequence uint64 `json:"sequence"`
}

// ContractRecord is a storage contract, as stored at ContractKey. It is never deleted.
type ContractRecord struct {
	Customer         PubKey      `json:"customer"`
	Supplier         PubKey      `json:"supplier"`
	Bytes            uint64      `json:"bytes"`
	DurationSeconds  uint64      `json:"duration_seconds"`
	PricePerGiBMonth uint64      `json:"price_per_gib_month"`
	OpenedHeight     int64       `json:"opened_height"`
	OpenedTime       int64       `json:"opened_time"`
	Closed           bool        `json:"closed"`
	CloseReason      CloseReason `json:"close_reason,omitempty"`
	ClosedHeight     int64       `json:"closed_height,omitempty"`
	ContentHash      ID          `json:"content_hash"`
	// StorageReceipts and BandwidthReceipts are the receipt numbers recorded so far (R-RCPT-1),
	// Audits the audit numbers (R-AUD-2).
	StorageReceipts   NumberWindow `json:"storage_receipts"`
	BandwidthReceipts NumberWindow `json:"bandwidth_receipts"`
	Audits            NumberWindow `json:"audits"`
}

// ContractParties is a contract's customer and supplier, as stored at ContractIDKey: where its
// record is (ContractKey), written once when the contract is opened.
type ContractParties struct {
	Customer PubKey `json:"customer"`
	Supplier PubKey `json:"supplier"`
}

// Encode returns the canonical bytes: customer then supplier.
func (p ContractParties) Encode() []byte { return cat(p.Customer[:], p.Supplier[:]) }

// DecodeContractParties parses ContractParties.
func DecodeContractParties(b []byte) (ContractParties, error) {
	d := &decoder{buf: b}
	var p ContractParties
	d.fixed(p.Customer[:])
	d.fixed(p.Supplier[:])
	return p, d.finish("contract parties")
}

// NumberWindowSize is how far below the highest recorded number a receipt or audit may still
// arrive (out of order) and be recorded.
const NumberWindowSize = 64

// MaxNumberStep is how far above the highest recorded number the next one may be (R-RCPT-2):
// a number far ahead would make every later, normal one too old, and could run a counter out.
const MaxNumberStep = 1 << 16

// NumberWindow is the replay guard of one kind of numbered event (storage receipts, bandwidth
// receipts, audits) in one contract, in 16 bytes however many events the contract has (R-RCPT-1):
// the highest number recorded, and which of the 64 numbers up to it were recorded (bit i of
// Recent is Highest−i), as IPsec's anti-replay window (RFC 4303 §3.4.3).
type NumberWindow struct {
	Highest uint64 `json:"highest"`
	Recent  uint64 `json:"recent"`
}

// Record marks number n recorded. It refuses a number already recorded, one at or below
// Highest−64, whose record the window no longer holds, and one more than MaxNumberStep above
// Highest; then it leaves w as it was.
func (w *NumberWindow) Record(n uint64) error {
	switch {
	case n == 0:
		return fmt.Errorf("number 0 is not valid (numbers start at 1)")
	case n > w.Highest && n-w.Highest > MaxNumberStep:
		return errNumberTooFar
	case n > w.Highest:
		if shift := n - w.Highest; shift < NumberWindowSize {
			w.Recent = w.Recent<<shift | 1
		} else {
			w.Recent = 1
		}
		w.Highest = n
		return nil
	case w.Highest-n >= NumberWindowSize:
		return errNumberTooOld
	}
	bit := uint64(1) << (w.Highest - n)
	if w.Recent&bit != 0 {
		return errNumberRecorded
	}
	w.Recent |= bit
	return nil
}

// Next is the number after the highest recorded: the next one for a party that numbers its
// events in order. (Highest never passes 2^64−1−MaxNumberStep: it grows by at most
// MaxNumberStep an event.)
func (w NumberWindow) Next() uint64 { return w.Highest + 1 }

// Missing lists, lowest first, the numbers below the highest that were not recorded and may still
// be (they are within the window).
func (w NumberWindow) Missing() []uint64 {
	var out []uint64
	for d := NumberWindowSize - 1; d >= 1; d-- {
		if uint64(d) < w.Highest && w.Recent&(1<<d) == 0 {
			out = append(out, w.Highest-uint64(d))
		}
	}
	return out
}

var (
	errNumberRecorded = errors.New("already recorded")
	errNumberTooOld   = errors.New("too old")
	errNumberTooFar   = errors.New("too far ahead")
)

// UniqueRecord marks an id as used, with the hash of the content first recorded under it, so a
// replay (same content) and a conflict (other content) are told apart.
type UniqueRecord struct {
	ContentHash ID    `json:"content_hash"`
	Height      int64 `json:"height"`
}

// Aggregate totals the events about one subject (a node, or one direction of a pair).
type Aggregate struct {
	Events             uint64 `json:"events"`
	ContractsOpened    uint64 `json:"contracts_opened"`
	ContractsExpired   uint64 `json:"contracts_expired"`
	ContractsFired     uint64 `json:"contracts_fired"`
	ContractsQuit      uint64 `json:"contracts_quit"`
	StorageReceipts    uint64 `json:"storage_receipts"`
	ByteSeconds        uint64 `json:"byte_seconds"`
	BandwidthReceipts  uint64 `json:"bandwidth_receipts"`
	BandwidthBytes     uint64 `json:"bandwidth_bytes"`
	AuditsPassed       uint64 `json:"audits_passed"`
	AuditsFailed       uint64 `json:"audits_failed"`
	AuditsFailedProven uint64 `json:"audits_failed_proven"`
	PaymentsMade       uint64 `json:"payments_made"`
	AmountPaid         uint64 `json:"amount_paid"`
	ReportsReceived    uint64 `json:"reports_received"`
	FirstHeight        int64  `json:"first_height"`
	LastHeight         int64  `json:"last_height"`
}

// LogRoot commits to the events of one block: their count, the RFC 6962 Merkle root of their
// records, and the total number of events in the ledger after the block.
type LogRoot struct {
	Count uint32 `json:"count"`
	Root  ID     `json:"root"`
	Total uint64 `json:"total"`
}

func (r *NodeRecord) Encode() []byte {
	e := &encoder{}
	e.str(r.PeerID)
	e.u64(r.Capacity)
	e.str(r.Moniker)
	e.i64(r.RegisteredHeight)
	e.i64(r.RegisteredTime)
	e.u64(r.Sequence)
	return e.buf
}

// DecodeNodeRecord parses a NodeRecord.
func DecodeNodeRecord(b []byte) (*NodeRecord, error) {
	d := &decoder{buf: b}
	r := &NodeRecord{}
	r.PeerID = d.str("peer_id", MaxPeerIDBytes)
	r.Capacity = d.u64()
	r.Moniker = d.str("moniker", MaxMonikerBytes)
	r.RegisteredHeight = d.i64()
	r.RegisteredTime = d.i64()
	r.Sequence = d.u64()
	return r, d.finish("node record")
}

func (r *ContractRecord) Encode() []byte {
	e := &encoder{}
	e.raw(r.Customer[:])
	e.raw(r.Supplier[:])
	e.u64(r.Bytes)
	e.u64(r.DurationSeconds)
	e.u64(r.PricePerGiBMonth)
	e.i64(r.OpenedHeight)
	e.i64(r.OpenedTime)
	e.boolean(r.Closed)
	e.u8(uint8(r.CloseReason))
	e.i64(r.ClosedHeight)
	e.raw(r.ContentHash[:])
	for _, w := range []*NumberWindow{&r.StorageReceipts, &r.BandwidthReceipts, &r.Audits} {
		e.u64(w.Highest)
		e.u64(w.Recent)
	}
	return e.buf
}

// DecodeContractRecord parses a ContractRecord.
func DecodeContractRecord(b []byte) (*ContractRecord, error) {
	d := &decoder{buf: b}
	r := &ContractRecord{}
	d.fixed(r.Customer[:])
	d.fixed(r.Supplier[:])
	r.Bytes = d.u64()
	r.DurationSeconds = d.u64()
	r.PricePerGiBMonth = d.u64()
	r.OpenedHeight = d.i64()
	r.OpenedTime = d.i64()
	r.Closed = d.boolean("closed")
	r.CloseReason = CloseReason(d.u8())
	r.ClosedHeight = d.i64()
	d.fixed(r.ContentHash[:])
	for _, w := range []*NumberWindow{&r.StorageReceipts, &r.BandwidthReceipts, &r.Audits} {
		w.Highest = d.u64()
		w.Recent = d.u64()
	}
	return r, d.finish("contract record")
}

func (r *UniqueRecord) Encode() []byte {
	e := &encoder{}
	e.raw(r.ContentHash[:])
	e.i64(r.Height)
	return e.buf
}

// DecodeUniqueRecord parses a UniqueRecord.
func DecodeUniqueRecord(b []byte) (*UniqueRecord, error) {
	d := &decoder{buf: b}
	r := &UniqueRecord{}
	d.fixed(r.ContentHash[:])
	r.Height = d.i64()
	return r, d.finish("unique record")
}

func (a *Aggregate) fields() []*uint64 {
	return []*uint64{&a.Events, &a.ContractsOpened, &a.ContractsExpired, &a.ContractsFired,
		&a.ContractsQuit, &a.StorageReceipts, &a.ByteSeconds, &a.BandwidthReceipts,
		&a.BandwidthBytes, &a.AuditsPassed, &a.AuditsFailed, &a.AuditsFailedProven,
		&a.PaymentsMade, &a.AmountPaid, &a.ReportsReceived}
}

func (a *Aggregate) Encode() []byte {
	e := &encoder{}
	for _, f := range a.fields() {
		e.u64(*f)
	}
	e.i64(a.FirstHeight)
	e.i64(a.LastHeight)
	return e.buf
}

// DecodeAggregate parses an Aggregate.
func DecodeAggregate(b []byte) (*Aggregate, error) {
	d := &decoder{buf: b}
	a := &Aggregate{}
	for _, f := range a.fields() {
		*f = d.u64()
	}
	a.FirstHeight = d.i64()
	a.LastHeight = d.i64()
	return a, d.finish("aggregate")
}

func (r *LogRoot) Encode() []byte {
	e := &encoder{}
	e.u32(r.Count)
	e.raw(r.Root[:])
	e.u64(r.Total)
	return e.buf
}

// DecodeLogRoot parses a LogRoot.
func DecodeLogRoot(b []byte) (*LogRoot, error) {
	d := &decoder{buf: b}
	r := &LogRoot{}
	r.Count = d.u32()
	d.fixed(r.Root[:])
	r.Total = d.u64()
	return r, d.finish("log root")
}

// addSat adds without wrapping: totals saturate at the maximum instead of overflowing.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// contentHash is the hash of an event's kind and fields, used to tell replays from conflicts.
func contentHash(ev Event) ID {
	e := &encoder{}
	e.u8(uint8(ev.Kind()))
	ev.encodeFields(e)
	return sha256.Sum256(e.buf)
}

// Params are the chain's rules, fixed in genesis (specs/state.md §1).
type Params struct {
	// PowDifficulty is the number of leading zero bits a registration's proof of work needs.
	PowDifficulty uint32 `json:"pow_difficulty"`
	// MaxTxBytes caps a transaction's encoded size.
	MaxTxBytes uint32 `json:"max_tx_bytes"`
	// MaxEventsPerTx caps the events one signature may carry.
	MaxEventsPerTx uint32 `json:"max_events_per_tx"`
	// MaxTxsPerSignerPerBlock caps how many of one signer's transactions a block may hold.
	MaxTxsPerSignerPerBlock uint32 `json:"max_txs_per_signer_per_block"`
	// ZeroPowerOnDuplicateVote sets a validator's power to 0 when CometBFT commits evidence of
	// its duplicate vote (it is recorded as misbehaving either way).
	ZeroPowerOnDuplicateVote bool `json:"zero_power_on_duplicate_vote"`
}

// DefaultParams are the parameters `trustd init` writes into a new genesis.
func DefaultParams() Params {
	return Params{PowDifficulty: 16, MaxTxBytes: 65536, MaxEventsPerTx: 256, MaxTxsPerSignerPerBlock: 64}
}

// Validate rejects parameters that cannot work.
func (p Params) Validate() error {
	switch {
	case p.PowDifficulty > 40:
		return fmt.Errorf("pow_difficulty %d is above 40 bits; registration would take days", p.PowDifficulty)
	case p.MaxTxBytes < 256:
		return fmt.Errorf("max_tx_bytes %d is below 256; no transaction would fit", p.MaxTxBytes)
	case p.MaxEventsPerTx == 0 || p.MaxEventsPerTx > HardMaxEventsPerTx:
		return fmt.Errorf("max_events_per_tx %d must be between 1 and %d", p.MaxEventsPerTx, HardMaxEventsPerTx)
	case p.MaxTxsPerSignerPerBlock == 0:
		return fmt.Errorf("max_txs_per_signer_per_block must be at least 1")
	}
	return nil
}

func (p Params) Encode() []byte {
	e := &encoder{}
	e.u32(p.PowDifficulty)
	e.u32(p.MaxTxBytes)
	e.u32(p.MaxEventsPerTx)
	e.u32(p.MaxTxsPerSignerPerBlock)
	e.boolean(p.ZeroPowerOnDuplicateVote)
	return e.buf
}

// DecodeParams parses Params.
func DecodeParams(b []byte) (Params, error) {
	d := &decoder{buf: b}
	p := Params{PowDifficulty: d.u32(), MaxTxBytes: d.u32(), MaxEventsPerTx: d.u32(), MaxTxsPerSignerPerBlock: d.u32()}
	p.ZeroPowerOnDuplicateVote = d.boolean("zero_power_on_duplicate_vote")
	return p, d.finish("params")
}

// ValidatorPower is one validator and its voting power.
type ValidatorPower struct {
	PubKey PubKey `json:"pub_key"`
	Power  uint64 `json:"power"`
}

// ValidatorSet is the current validator set, sorted by key, without zero powers.
type ValidatorSet []ValidatorPower

// Total is the set's voting power.
func (s ValidatorSet) Total() uint64 {
	t := uint64(0)
	for _, v := range s {
		t += v.Power
	}
	return t
}

// Power returns k's power (0 if k is not a validator).
func (s ValidatorSet) Power(k PubKey) uint64 {
	i := sort.Search(len(s), func(i int) bool { return bytes.Compare(s[i].PubKey[:], k[:]) >= 0 })
	if i < len(s) && s[i].PubKey == k {
		return s[i].Power
	}
	return 0
}

// With returns a copy of the set with k at power p (0 removes it).
func (s ValidatorSet) With(k PubKey, p uint64) ValidatorSet {
	out := make(ValidatorSet, 0, len(s)+1)
	for _, v := range s {
		if v.PubKey != k {
			out = append(out, v)
		}
	}
	if p > 0 {
		out = append(out, ValidatorPower{PubKey: k, Power: p})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].PubKey[:], out[j].PubKey[:]) < 0 })
	return out
}

func (s ValidatorSet) Encode() []byte {
	e := &encoder{}
	e.u32(uint32(len(s)))
	for _, v := range s {
		e.raw(v.PubKey[:])
		e.u64(v.Power)
	}
	return e.buf
}

// DecodeValidatorSet parses a ValidatorSet.
func DecodeValidatorSet(b []byte) (ValidatorSet, error) {
	d := &decoder{buf: b}
	n := d.u32()
	var s ValidatorSet
	for i := uint32(0); i < n && d.err == nil; i++ {
		var v ValidatorPower
		d.fixed(v.PubKey[:])
		v.Power = d.u64()
		s = append(s, v)
	}
	return s, d.finish("validator set")
}
