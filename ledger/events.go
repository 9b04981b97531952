package ledger

import (
	"fmt"
	"unicode/utf8"
)

// Kind identifies an event type; the numbers are part of the wire format (specs/events.md §3).
type Kind uint8

const (
	KindRegisterNode      Kind = 1
	KindContractOpen      Kind = 2
	KindContractClose     Kind = 3
	KindStorageReceipt    Kind = 4
	KindBandwidthReceipt  Kind = 5
	KindAuditResult       Kind = 6
	KindPayment           Kind = 7
	KindMisbehaviorReport Kind = 8
	KindValidatorUpdate   Kind = 9
)

// AllKinds lists every kind in wire order.
var AllKinds = []Kind{KindRegisterNode, KindContractOpen, KindContractClose, KindStorageReceipt,
	KindBandwidthReceipt, KindAuditResult, KindPayment, KindMisbehaviorReport, KindValidatorUpdate}

var kindNames = map[Kind]string{
	KindRegisterNode:      "register_node",
	KindContractOpen:      "contract_open",
	KindContractClose:     "contract_close",
	KindStorageReceipt:    "storage_receipt",
	KindBandwidthReceipt:  "bandwidth_receipt",
	KindAuditResult:       "audit_result",
	KindPayment:           "payment",
	KindMisbehaviorReport: "misbehavior_report",
	KindValidatorUpdate:   "validator_update",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads a kind by its name.
func ParseKind(s string) (Kind, error) {
	for _, k := range AllKinds {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown event kind %q", s)
}

// Field limits (specs/events.md §3).
const (
	MaxPeerIDBytes   = 128
	MaxMonikerBytes  = 64
	MaxEvidenceBytes = 4096
	MaxChainIDBytes  = 64
	MaxApprovals     = 128
	MaxPower         = 1 << 40
)

// CloseReason says why a contract ended.
type CloseReason uint8

const (
	CloseExpired CloseReason = 1 // the term ran out; both parties sign
	CloseFired   CloseReason = 2 // the customer dropped the supplier; unilateral
	CloseQuit    CloseReason = 3 // the supplier left; unilateral
)

var closeReasonNames = map[CloseReason]string{CloseExpired: "expired", CloseFired: "fired", CloseQuit: "quit"}

func (r CloseReason) String() string {
	if n, ok := closeReasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ParseCloseReason reads a close reason by name.
func ParseCloseReason(s string) (CloseReason, error) {
	for r, n := range closeReasonNames {
		if n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown close reason %q (want expired, fired or quit)", s)
}

// Misconduct is the kind of a misbehaviour report.
type Misconduct uint8

const (
	MisconductUnavailable        Misconduct = 1
	MisconductDataLost           Misconduct = 2
	MisconductDataCorrupted      Misconduct = 3
	MisconductProtocolViolation  Misconduct = 4
	MisconductDoubleSignedRcpt   Misconduct = 5
	MisconductDuplicateVote      Misconduct = 6 // recorded by the ledger itself from CometBFT evidence
	MisconductLightClientAttack  Misconduct = 7 // recorded by the ledger itself from CometBFT evidence
	maxUserMisconduct                       = MisconductDoubleSignedRcpt
	maxMisconduct                           = MisconductLightClientAttack
	misconductUnknownPlaceholder Misconduct = 0
)

var misconductNames = map[Misconduct]string{
	MisconductUnavailable:       "unavailable",
	MisconductDataLost:          "data_lost",
	MisconductDataCorrupted:     "data_corrupted",
	MisconductProtocolViolation: "protocol_violation",
	MisconductDoubleSignedRcpt:  "double_signed_receipt",
	MisconductDuplicateVote:     "duplicate_vote",
	MisconductLightClientAttack: "light_client_attack",
}

func (m Misconduct) String() string {
	if n, ok := misconductNames[m]; ok {
		return n
	}
	return fmt.Sprintf("misconduct(%d)", uint8(m))
}

// ParseMisconduct reads a misconduct kind a user may report.
func ParseMisconduct(s string) (Misconduct, error) {
	for m := Misconduct(1); m <= maxUserMisconduct; m++ {
		if misconductNames[m] == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown misbehaviour kind %q (want unavailable, data_lost, data_corrupted, protocol_violation or double_signed_receipt)", s)
}

// Event is one service fact. Each kind encodes its fields canonically; bilateral kinds also
// carry the other party's countersignature over those fields (specs/events.md §4).
type Event interface {
	Kind() Kind
	// encodeFields writes every field except the countersignature.
	encodeFields(e *encoder)
	// decodeFields reads what encodeFields wrote.
	decodeFields(d *decoder)
	// validate checks the fields alone, without state.
	validate() error
}

// ReceiptSlot is a storage or bandwidth receipt's contract and number: what two receipts of
// one kind must not share (R-EVID-2). ok is false for other events.
func ReceiptSlot(ev Event) (contract ID, number uint64, ok bool) {
	switch r := ev.(type) {
	case *StorageReceipt:
		return r.ContractID, r.Number, true
	case *BandwidthReceipt:
		return r.ContractID, r.Number, true
	}
	return ID{}, 0, false
}

// Bilateral is an event between two named parties, valid only when the one who did not sign the
// transaction countersigned the event's fields.
type Bilateral interface {
	Event
	Parties() (a, b PubKey)
	Countersignature() (Sig, bool)
	SetCountersignature(Sig)
	// CountersigRequired says whether the event is invalid without a countersignature.
	CountersigRequired() bool
}

// RegisterNode admits its signer as a node. It carries a proof of work (specs/events.md R-REG-2).
type RegisterNode struct {
	PeerID   string `json:"peer_id"`
	Capacity uint64 `json:"capacity_bytes"`
	Moniker  string `json:"moniker"`
	PowNonce uint64 `json:"pow_nonce"`
}

// ContractOpen starts a storage contract between a customer and a supplier.
type ContractOpen struct {
	ContractID       ID     `json:"contract_id"`
	Customer         PubKey `json:"customer"`
	Supplier         PubKey `json:"supplier"`
	Bytes            uint64 `json:"bytes"`
	DurationSeconds  uint64 `json:"duration_seconds"`
	PricePerGiBMonth uint64 `json:"price_per_gib_month"`
	Countersig       Sig    `json:"countersig"`
}

// ContractClose ends a contract. Expired needs both parties; fired (by the customer) and quit
// (by the supplier) are unilateral and may carry a countersignature.
type ContractClose struct {
	ContractID    ID          `json:"contract_id"`
	Customer      PubKey      `json:"customer"`
	Supplier      PubKey      `json:"supplier"`
	Reason        CloseReason `json:"reason"`
	HasCountersig bool        `json:"has_countersig"`
	Countersig    Sig         `json:"countersig"`
}

// StorageReceipt records byte-seconds kept by the supplier over a period. Number is the receipt's
// place in its contract (storage receipts counted on their own, from 1): the ledger records each
// number once (R-RCPT-1).
type StorageReceipt struct {
	ContractID  ID     `json:"contract_id"`
	Number      uint64 `json:"number"`
	Customer    PubKey `json:"customer"`
	Supplier    PubKey `json:"supplier"`
	PeriodStart int64  `json:"period_start"`
	PeriodEnd   int64  `json:"period_end"`
	ByteSeconds uint64 `json:"byte_seconds"`
	Countersig  Sig    `json:"countersig"`
}

// BandwidthReceipt records bytes the supplier served to the customer. Number is the receipt's
// place in its contract (bandwidth receipts counted on their own, from 1; R-RCPT-1).
type BandwidthReceipt struct {
	ContractID ID     `json:"contract_id"`
	Number     uint64 `json:"number"`
	Customer   PubKey `json:"customer"`
	Supplier   PubKey `json:"supplier"`
	Bytes      uint64 `json:"bytes"`
	Countersig Sig    `json:"countersig"`
}

// AuditResult is the customer's report of a challenge to its supplier. Number is the audit's
// place in its contract, from 1 (audits are numbered apart from receipts; R-AUD-2).
type AuditResult struct {
	ContractID      ID             `json:"contract_id"`
	Number          uint64         `json:"number"`
	Customer        PubKey         `json:"customer"`
	Supplier        PubKey         `json:"supplier"`
	ChallengeDigest ID             `json:"challenge_digest"`
	Passed          bool           `json:"passed"`
	Evidence        *AuditEvidence `json:"evidence,omitempty"`
}

// Payment records an amount paid, acknowledged by the payee's countersignature.
type Payment struct {
	PaymentID  ID     `json:"payment_id"`
	Payer      PubKey `json:"payer"`
	Payee      PubKey `json:"payee"`
	Amount     uint64 `json:"amount"`
	Reference  ID     `json:"reference"`
	Countersig Sig    `json:"countersig"`
}

// MisbehaviorReport is the reporter's unilateral claim against the accused. Reports with a zero
// reporter are written by the ledger itself from CometBFT's misbehaviour evidence.
type MisbehaviorReport struct {
	Accused        PubKey     `json:"accused"`
	Misconduct     Misconduct `json:"misconduct"`
	EvidenceDigest ID         `json:"evidence_digest"`
	Evidence       []byte     `json:"evidence,omitempty"`
}

// ValidatorUpdate sets a validator's voting power (0 removes it). It applies only when current
// validators holding more than 2/3 of the power approved exactly these fields (R-VAL-1).
type ValidatorUpdate struct {
	ProposalID ID         `json:"proposal_id"`
	Validator  PubKey     `json:"validator"`
	Power      uint64     `json:"power"`
	Approvals  []Approval `json:"approvals"`
}

// Approval is one current validator's signature over a validator update's fields, made with its
// consensus key (ValidatorUpdateBytes).
type Approval struct {
	Validator PubKey `json:"validator"`
	Sig       Sig    `json:"sig"`
}

func (*RegisterNode) Kind() Kind      { return KindRegisterNode }
func (*ValidatorUpdate) Kind() Kind   { return KindValidatorUpdate }
func (*ContractOpen) Kind() Kind      { return KindContractOpen }
func (*ContractClose) Kind() Kind     { return KindContractClose }
func (*StorageReceipt) Kind() Kind    { return KindStorageReceipt }
func (*BandwidthReceipt) Kind() Kind  { return KindBandwidthReceipt }
func (*AuditResult) Kind() Kind       { return KindAuditResult }
func (*Payment) Kind() Kind           { return KindPayment }
func (*MisbehaviorReport) Kind() Kind { return KindMisbehaviorReport }

// newEvent returns an empty event of the kind, or nil for an unknown kind.
func newEvent(k Kind) Event {
	switch k {
	case KindRegisterNode:
		return &RegisterNode{}
	case KindContractOpen:
		return &ContractOpen{}
	case KindContractClose:
		return &ContractClose{}
	case KindStorageReceipt:
		return &StorageReceipt{}
	case KindBandwidthReceipt:
		return &BandwidthReceipt{}
	case KindAuditResult:
		return &AuditResult{}
	case KindPayment:
		return &Payment{}
	case KindMisbehaviorReport:
		return &MisbehaviorReport{}
	case KindValidatorUpdate:
		return &ValidatorUpdate{}
	}
	return nil
}

// trailed is an event with a section after its signed fields (validator approvals).
type trailed interface {
	encodeTrailer(e *encoder)
	decodeTrailer(d *decoder)
}

func (ev *ValidatorUpdate) encodeFields(e *encoder) {
	e.raw(ev.ProposalID[:])
	e.raw(ev.Validator[:])
	e.u64(ev.Power)
}

func (ev *ValidatorUpdate) decodeFields(d *decoder) {
	d.fixed(ev.ProposalID[:])
	d.fixed(ev.Validator[:])
	ev.Power = d.u64()
}

func (ev *ValidatorUpdate) encodeTrailer(e *encoder) {
	e.u32(uint32(len(ev.Approvals)))
	for _, a := range ev.Approvals {
		e.raw(a.Validator[:])
		e.raw(a.Sig[:])
	}
}

func (ev *ValidatorUpdate) decodeTrailer(d *decoder) {
	n := d.u32()
	if d.err == nil && n > MaxApprovals {
		d.fail(fmt.Errorf("%d approvals, more than %d", n, MaxApprovals))
		return
	}
	ev.Approvals = nil
	for i := uint32(0); i < n && d.err == nil; i++ {
		var a Approval
		d.fixed(a.Validator[:])
		d.fixed(a.Sig[:])
		ev.Approvals = append(ev.Approvals, a)
	}
}

func (ev *ValidatorUpdate) validate() error {
	if ev.ProposalID.IsZero() || ev.Validator.IsZero() {
		return fmt.Errorf("validator_update: proposal_id and validator must be set")
	}
	if ev.Power > MaxPower {
		return fmt.Errorf("validator_update: power %d is above %d", ev.Power, uint64(MaxPower))
	}
	if len(ev.Approvals) == 0 {
		return fmt.Errorf("validator_update: no approvals")
	}
	seen := map[PubKey]bool{}
	for _, a := range ev.Approvals {
		if seen[a.Validator] {
			return fmt.Errorf("validator_update: validator %s approves twice", a.Validator)
		}
		seen[a.Validator] = true
	}
	return nil
}

// --- field encodings, in the order specs/events.md §3 lists them ---

func (ev *RegisterNode) encodeFields(e *encoder) {
	e.str(ev.PeerID)
	e.u64(ev.Capacity)
	e.str(ev.Moniker)
	e.u64(ev.PowNonce)
}

func (ev *RegisterNode) decodeFields(d *decoder) {
	ev.PeerID = d.str("peer_id", MaxPeerIDBytes)
	ev.Capacity = d.u64()
	ev.Moniker = d.str("moniker", MaxMonikerBytes)
	ev.PowNonce = d.u64()
}

func (ev *ContractOpen) encodeFields(e *encoder) {
	e.raw(ev.ContractID[:])
	e.raw(ev.Customer[:])
	e.raw(ev.Supplier[:])
	e.u64(ev.Bytes)
	e.u64(ev.DurationSeconds)
	e.u64(ev.PricePerGiBMonth)
}

func (ev *ContractOpen) decodeFields(d *decoder) {
	d.fixed(ev.ContractID[:])
	d.fixed(ev.Customer[:])
	d.fixed(ev.Supplier[:])
	ev.Bytes = d.u64()
	ev.DurationSeconds = d.u64()
	ev.PricePerGiBMonth = d.u64()
}

func (ev *ContractClose) encodeFields(e *encoder) {
	e.raw(ev.ContractID[:])
	e.raw(ev.Customer[:])
	e.raw(ev.Supplier[:])
	e.u8(uint8(ev.Reason))
}

func (ev *ContractClose) decodeFields(d *decoder) {
	d.fixed(ev.ContractID[:])
	d.fixed(ev.Customer[:])
	d.fixed(ev.Supplier[:])
	ev.Reason = CloseReason(d.u8())
}

func (ev *StorageReceipt) encodeFields(e *encoder) {
	e.raw(ev.ContractID[:])
	e.u64(ev.Number)
	e.raw(ev.Customer[:])
	e.raw(ev.Supplier[:])
	e.i64(ev.PeriodStart)
	e.i64(ev.PeriodEnd)
	e.u64(ev.ByteSeconds)
}

func (ev *StorageReceipt) decodeFields(d *decoder) {
	d.fixed(ev.ContractID[:])
	ev.Number = d.u64()
	d.fixed(ev.Customer[:])
	d.fixed(ev.Supplier[:])
	ev.PeriodStart = d.i64()
	ev.PeriodEnd = d.i64()
	ev.ByteSeconds = d.u64()
}

func (ev *BandwidthReceipt) encodeFields(e *encoder) {
	e.raw(ev.ContractID[:])
	e.u64(ev.Number)
	e.raw(ev.Customer[:])
	e.raw(ev.Supplier[:])
	e.u64(ev.Bytes)
}

func (ev *BandwidthReceipt) decodeFields(d *decoder) {
	d.fixed(ev.ContractID[:])
	ev.Number = d.u64()
	d.fixed(ev.Customer[:])
	d.fixed(ev.Supplier[:])
	ev.Bytes = d.u64()
}

func (ev *AuditResult) encodeFields(e *encoder) {
	e.raw(ev.ContractID[:])
	e.u64(ev.Number)
	e.raw(ev.Customer[:])
	e.raw(ev.Supplier[:])
	e.raw(ev.ChallengeDigest[:])
	e.boolean(ev.Passed)
	if ev.Evidence == nil {
		e.u8(evidenceNone)
		return
	}
	e.u8(evidenceProof)
	ev.Evidence.encode(e)
}

func (ev *AuditResult) decodeFields(d *decoder) {
	d.fixed(ev.ContractID[:])
	ev.Number = d.u64()
	d.fixed(ev.Customer[:])
	d.fixed(ev.Supplier[:])
	d.fixed(ev.ChallengeDigest[:])
	ev.Passed = d.boolean("passed")
	switch f := d.u8(); {
	case d.err != nil, f == evidenceNone:
	case f == evidenceDigests:
		d.fail(errOldEvidence)
	case f == evidenceProof:
		ev.Evidence = &AuditEvidence{}
		ev.Evidence.decode(d)
	default:
		d.fail(fmt.Errorf("audit evidence format %d is unknown (0: none, 2: commitment and answer)", f))
	}
}

func (ev *Payment) encodeFields(e *encoder) {
	e.raw(ev.PaymentID[:])
	e.raw(ev.Payer[:])
	e.raw(ev.Payee[:])
	e.u64(ev.Amount)
	e.raw(ev.Reference[:])
}

func (ev *Payment) decodeFields(d *decoder) {
	d.fixed(ev.PaymentID[:])
	d.fixed(ev.Payer[:])
	d.fixed(ev.Payee[:])
	ev.Amount = d.u64()
	d.fixed(ev.Reference[:])
}

func (ev *MisbehaviorReport) encodeFields(e *encoder) {
	e.raw(ev.Accused[:])
	e.u8(uint8(ev.Misconduct))
	e.raw(ev.EvidenceDigest[:])
	e.bytes(ev.Evidence)
}

func (ev *MisbehaviorReport) decodeFields(d *decoder) {
	d.fixed(ev.Accused[:])
	ev.Misconduct = Misconduct(d.u8())
	d.fixed(ev.EvidenceDigest[:])
	ev.Evidence = d.bytes("evidence", MaxEvidenceBytes)
	if len(ev.Evidence) == 0 {
		ev.Evidence = nil
	}
}

// --- bilateral parties and countersignatures ---

func (ev *ContractOpen) Parties() (PubKey, PubKey)       { return ev.Customer, ev.Supplier }
func (ev *ContractOpen) Countersignature() (Sig, bool)   { return ev.Countersig, true }
func (ev *ContractOpen) SetCountersignature(s Sig)       { ev.Countersig = s }
func (ev *ContractOpen) CountersigRequired() bool        { return true }
func (ev *ContractClose) Parties() (PubKey, PubKey)      { return ev.Customer, ev.Supplier }
func (ev *ContractClose) Countersignature() (Sig, bool)  { return ev.Countersig, ev.HasCountersig }
func (ev *ContractClose) SetCountersignature(s Sig)      { ev.Countersig, ev.HasCountersig = s, true }
func (ev *ContractClose) CountersigRequired() bool       { return ev.Reason == CloseExpired }
func (ev *StorageReceipt) Parties() (PubKey, PubKey)     { return ev.Customer, ev.Supplier }
func (ev *StorageReceipt) Countersignature() (Sig, bool) { return ev.Countersig, true }
func (ev *StorageReceipt) SetCountersignature(s Sig)     { ev.Countersig = s }
func (ev *StorageReceipt) CountersigRequired() bool      { return true }
func (ev *BandwidthReceipt) Parties() (PubKey, PubKey)   { return ev.Customer, ev.Supplier }
func (ev *BandwidthReceipt) Countersignature() (Sig, bool) {
	return ev.Countersig, true
}
func (ev *BandwidthReceipt) SetCountersignature(s Sig) { ev.Countersig = s }
func (ev *BandwidthReceipt) CountersigRequired() bool  { return true }
func (ev *Payment) Parties() (PubKey, PubKey)          { return ev.Payer, ev.Payee }
func (ev *Payment) Countersignature() (Sig, bool)      { return ev.Countersig, true }
func (ev *Payment) SetCountersignature(s Sig)          { ev.Countersig = s }
func (ev *Payment) CountersigRequired() bool           { return true }

// --- stateless validation (specs/events.md §3, the R-FIELD rules) ---

func (ev *RegisterNode) validate() error {
	if ev.PeerID == "" {
		return fmt.Errorf("register_node: peer_id is empty")
	}
	if !utf8.ValidString(ev.PeerID) || !utf8.ValidString(ev.Moniker) {
		return fmt.Errorf("register_node: peer_id and moniker must be valid UTF-8")
	}
	return nil
}

func validateParties(kind Kind, a, b PubKey, aName, bName string) error {
	if a.IsZero() || b.IsZero() {
		return fmt.Errorf("%s: %s and %s must both be set", kind, aName, bName)
	}
	if a == b {
		return fmt.Errorf("%s: %s and %s are the same key", kind, aName, bName)
	}
	return nil
}

func (ev *ContractOpen) validate() error {
	if ev.ContractID.IsZero() {
		return fmt.Errorf("contract_open: contract_id is zero")
	}
	if ev.Bytes == 0 || ev.DurationSeconds == 0 {
		return fmt.Errorf("contract_open: bytes and duration_seconds must be positive")
	}
	return validateParties(KindContractOpen, ev.Customer, ev.Supplier, "customer", "supplier")
}

func (ev *ContractClose) validate() error {
	if ev.Reason < CloseExpired || ev.Reason > CloseQuit {
		return fmt.Errorf("contract_close: unknown reason %d", ev.Reason)
	}
	return validateParties(KindContractClose, ev.Customer, ev.Supplier, "customer", "supplier")
}

func (ev *StorageReceipt) validate() error {
	if ev.Number == 0 {
		return fmt.Errorf("storage_receipt: number is zero (receipts are numbered from 1 in their contract)")
	}
	if ev.PeriodEnd <= ev.PeriodStart {
		return fmt.Errorf("storage_receipt: period_end %d is not after period_start %d", ev.PeriodEnd, ev.PeriodStart)
	}
	return validateParties(KindStorageReceipt, ev.Customer, ev.Supplier, "customer", "supplier")
}

func (ev *BandwidthReceipt) validate() error {
	if ev.Number == 0 {
		return fmt.Errorf("bandwidth_receipt: number is zero (receipts are numbered from 1 in their contract)")
	}
	return validateParties(KindBandwidthReceipt, ev.Customer, ev.Supplier, "customer", "supplier")
}

func (ev *AuditResult) validate() error {
	if ev.Number == 0 {
		return fmt.Errorf("audit_result: number is zero (audits are numbered from 1 in their contract)")
	}
	if ev.Passed && ev.Evidence != nil {
		return fmt.Errorf("audit_result: a passed audit carries no evidence")
	}
	if ev.Evidence != nil {
		if err := ev.Evidence.validate(ev); err != nil {
			return reject(CodeBadEvidence, "audit_result: evidence: %v", err)
		}
	}
	return validateParties(KindAuditResult, ev.Customer, ev.Supplier, "customer", "supplier")
}

func (ev *Payment) validate() error {
	if ev.PaymentID.IsZero() {
		return fmt.Errorf("payment: payment_id is zero")
	}
	if ev.Amount == 0 {
		return fmt.Errorf("payment: amount is zero")
	}
	return validateParties(KindPayment, ev.Payer, ev.Payee, "payer", "payee")
}

func (ev *MisbehaviorReport) validate() error {
	if ev.Accused.IsZero() {
		return fmt.Errorf("misbehavior_report: accused is zero")
	}
	if ev.Misconduct == misconductUnknownPlaceholder || ev.Misconduct > maxMisconduct {
		return fmt.Errorf("misbehavior_report: unknown misconduct %d", ev.Misconduct)
	}
	return nil
}

// NewEvent returns an empty event of the kind, or nil for an unknown kind.
func NewEvent(k Kind) Event { return newEvent(k) }
