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
