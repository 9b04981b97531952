package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// ConsensusTxIndex is the tx index of events the ledger records itself (from CometBFT evidence).
const ConsensusTxIndex = ^uint32(0)

// EventRecord is one committed event with its place in history: what the log commits to, what
// the browsing indexes store, and what `trustd export` prints (specs/events.md §5).
type EventRecord struct {
	Height     int64  `json:"height"`
	TxIndex    uint32 `json:"tx_index"`
	EventIndex uint32 `json:"event_index"`
	Time       int64  `json:"time"`
	TxHash     ID     `json:"tx_hash"`
	Signer     PubKey `json:"signer"`
	// Subject is the node the event is about (the supplier of a service, the payer, the accused,
	// the registering node); Counterparty is the other party (zero for a registration).
	Subject      PubKey `json:"subject"`
	Counterparty PubKey `json:"counterparty"`
	Kind         Kind   `json:"-"`
	KindName     string `json:"kind"`
	Event        Event  `json:"event"`
}

// SubjectAndCounterparty returns the subject and counterparty of an event signed by signer (the last column of
// specs/events.md §3): the supplier and customer of contract events, receipts and audits; payer
// and payee; the accused and the reporter; the registering node or the validator, alone.
func SubjectAndCounterparty(ev Event, signer PubKey) (subject, counterparty PubKey) {
	switch ev := ev.(type) {
	case *RegisterNode:
		return signer, PubKey{}
	case *ContractOpen:
		return ev.Supplier, ev.Customer
	case *ContractClose:
		return ev.Supplier, ev.Customer
	case *StorageReceipt:
		return ev.Supplier, ev.Customer
	case *BandwidthReceipt:
		return ev.Supplier, ev.Customer
	case *AuditResult:
		return ev.Supplier, ev.Customer
	case *Payment:
		return ev.Payer, ev.Payee
	case *MisbehaviorReport:
		return ev.Accused, signer
	case *ValidatorUpdate:
		return ev.Validator, PubKey{}
	}
	return PubKey{}, PubKey{}
}

// Encode returns the record's canonical bytes.
func (r *EventRecord) Encode() []byte {
	e := &encoder{buf: make([]byte, 0, 256)}
	e.i64(r.Height)
	e.u32(r.TxIndex)
	e.u32(r.EventIndex)
	e.i64(r.Time)
	e.raw(r.TxHash[:])
	e.raw(r.Signer[:])
	e.raw(r.Subject[:])
	e.raw(r.Counterparty[:])
	encodeEvent(e, r.Event)
	return e.buf
}

// DecodeEventRecord parses a record written by Encode.
func DecodeEventRecord(b []byte) (*EventRecord, error) {
	d := &decoder{buf: b}
	r := &EventRecord{}
	r.Height = d.i64()
	r.TxIndex = d.u32()
	r.EventIndex = d.u32()
	r.Time = d.i64()
	d.fixed(r.TxHash[:])
	d.fixed(r.Signer[:])
	d.fixed(r.Subject[:])
	d.fixed(r.Counterparty[:])
	r.Event = decodeEvent(d, 0)
	if err := d.finish("event record"); err != nil {
		return nil, err
	}
	r.Kind = r.Event.Kind()
	r.KindName = r.Kind.String()
	return r, nil
}

// The brief form of a record is what the browsing indexes store under the record's position
// (storage/index.go): the record without what the position already says (height, tx index,
// event index), without what the event and signer imply (subject and counterparty, by
// SubjectAndCounterparty), with the signer as a role when it is one of the parties, and with the
// tx hash on a tx's first event only. For a one-event bandwidth receipt it is 218 bytes instead of 329.
//
//	u8 flags: bits 0-1 the signer (0 written out, 1 the subject, 2 the counterparty, 3 the zero
//	          key), bit 2 the tx hash follows
//	i64 time, [signer 32], [tx hash 32], event (as in a tx)
const (
	briefSignerMask    = 3
	briefSignerSubject = 1
	briefSignerCounter = 2
	briefSignerZero    = 3
	briefHasTxHash     = 4
)

// EncodeBrief returns the record's brief form.
func (r *EventRecord) EncodeBrief() []byte {
	e := &encoder{buf: make([]byte, 0, 256)}
	var flags uint8
	// A role stands for the signer only where the event alone names that party (not for a
	// registration or a report, whose subject or counterparty is the signer itself).
	subject, counterparty := SubjectAndCounterparty(r.Event, PubKey{})
	switch {
	case r.Signer.IsZero():
		flags = briefSignerZero
	case r.Signer == subject:
		flags = briefSignerSubject
	case r.Signer == counterparty:
		flags = briefSignerCounter
	}
	if r.firstOfTx() {
		flags |= briefHasTxHash
	}
	e.u8(flags)
	e.i64(r.Time)
	if flags&briefSignerMask == 0 {
		e.raw(r.Signer[:])
	}
	if flags&briefHasTxHash != 0 {
		e.raw(r.TxHash[:])
	}
	encodeEvent(e, r.Event)
	return e.buf
}

// firstOfTx tells whether the record is its tx's first event, the one whose brief form carries
// the tx hash. Events the ledger records itself belong to no tx.
func (r *EventRecord) firstOfTx() bool { return r.TxIndex != ConsensusTxIndex && r.EventIndex == 0 }

// DecodeBrief parses a record's brief form, given its position. When the record is not its tx's
// first event, TxHash is left zero and needTxHash is true: the caller takes it from the record at
// (height, txIndex, 0).
func DecodeBrief(height int64, txIndex, eventIndex uint32, b []byte) (r *EventRecord, needTxHash bool, err error) {
	d := &decoder{buf: b}
	r = &EventRecord{Height: height, TxIndex: txIndex, EventIndex: eventIndex}
	flags := d.u8()
	r.Time = d.i64()
	if flags&briefSignerMask == 0 {
		d.fixed(r.Signer[:])
	}
	if flags&briefHasTxHash != 0 {
		d.fixed(r.TxHash[:])
	}
	r.Event = decodeEvent(d, 0)
	if err := d.finish("brief event record"); err != nil {
		return nil, false, err
	}
	if flags&^(briefSignerMask|briefHasTxHash) != 0 || (flags&briefHasTxHash != 0) != r.firstOfTx() {
		return nil, false, fmt.Errorf("brief event record: flags %#x do not fit position (%d, %d, %d)", flags, height, txIndex, eventIndex)
	}
	r.Kind = r.Event.Kind()
	r.KindName = r.Kind.String()
	switch flags & briefSignerMask {
	case briefSignerSubject:
		r.Signer, _ = SubjectAndCounterparty(r.Event, PubKey{})
	case briefSignerCounter:
		_, r.Signer = SubjectAndCounterparty(r.Event, PubKey{})
	}
	r.Subject, r.Counterparty = SubjectAndCounterparty(r.Event, r.Signer)
	return r, r.TxIndex != ConsensusTxIndex && !r.firstOfTx(), nil
}

// LeafHash is the RFC 6962 leaf hash of the record: SHA-256(0x00 || record).
func (r *EventRecord) LeafHash() ID {
	return sha256.Sum256(append([]byte{0}, r.Encode()...))
}

// MerkleRoot is the RFC 6962 Merkle tree hash of the given leaf hashes; zero for no leaves.
func MerkleRoot(leaves []ID) ID {
	switch len(leaves) {
	case 0:
		return ID{}
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:])
	buf := make([]byte, 0, 65)
	buf = append(buf, 1)
	buf = append(buf, l[:]...)
	buf = append(buf, r[:]...)
	return sha256.Sum256(buf)
}

// UnmarshalJSON reads a record written by json.Marshal, choosing the event type by its kind.
func (r *EventRecord) UnmarshalJSON(b []byte) error {
	type plain EventRecord
	var raw struct {
		plain
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	ev, err := DecodeEventJSON(raw.KindName, raw.Event)
	if err != nil {
		return err
	}
	k := ev.Kind()
	*r = EventRecord(raw.plain)
	r.Kind, r.Event = k, ev
	return nil
}

// DecodeEventJSON reads an event of the named kind from its JSON fields (as EventRecord.Event
// marshals them), and checks its fields as DecodeTx would.
func DecodeEventJSON(kind string, raw json.RawMessage) (Event, error) {
	k, err := ParseKind(kind)
	if err != nil {
		return nil, err
	}
	ev := newEvent(k)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		return nil, fmt.Errorf("%s event: %w", k, err)
	}
	if err := ev.validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

// Validate checks an event's own fields, as CheckTx does before signatures and state: a peer
// that is asked to countersign an event checks it with this first.
func Validate(ev Event) error { return ev.validate() }
