package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// TxVersion is the first byte of every transaction (specs/events.md §2).
const TxVersion = 1

// HardMaxEventsPerTx bounds decoding before any parameter is known; the genesis parameter
// MaxEventsPerTx is the limit that applies on chain and must not exceed it.
const HardMaxEventsPerTx = 4096

// Domain separators: every signed byte string starts with one, so a signature made for one
// purpose can never be replayed for another (specs/events.md §4).
const (
	domainTx          = "trustledger/tx/v1\x00"
	domainCountersign = "trustledger/countersign/v1\x00"
	domainPoW         = "trustledger/pow/v1\x00"
	domainValUpdate   = "trustledger/validator-update/v1\x00"
)

// Tx is the signed envelope: one signer, one sequence number, one or more events.
type Tx struct {
	ChainID   string
	Signer    PubKey
	Sequence  uint64
	Events    []Event
	Signature Sig
}

// encodeEvent writes kind, fields and (for bilateral events) the countersignature section.
func encodeEvent(e *encoder, ev Event) {
	e.u8(uint8(ev.Kind()))
	ev.encodeFields(e)
	if t, ok := ev.(trailed); ok {
		t.encodeTrailer(e)
	}
	if b, ok := ev.(Bilateral); ok {
		sig, present := b.Countersignature()
		if cl, isClose := ev.(*ContractClose); isClose {
			e.boolean(cl.HasCountersig)
			if !present {
				return
			}
		}
		e.raw(sig[:])
	}
}

func decodeEvent(d *decoder, index int) Event {
	k := Kind(d.u8())
	if d.err != nil {
		return nil
	}
	ev := newEvent(k)
	if ev == nil {
		d.fail(&unknownKindError{kind: k, index: index})
		return nil
	}
	ev.decodeFields(d)
	if t, ok := ev.(trailed); ok {
		t.decodeTrailer(d)
	}
	if b, ok := ev.(Bilateral); ok {
		present := true
		if _, isClose := ev.(*ContractClose); isClose {
			present = d.boolean("has_countersig")
		}
		if present {
			var s Sig
			d.fixed(s[:])
			b.SetCountersignature(s)
		}
	}
	return ev
}

type unknownKindError struct {
	kind  Kind
	index int
}

func (e *unknownKindError) Error() string {
	return fmt.Sprintf("event %d has unknown kind %d", e.index, uint8(e.kind))
}

// signedPart encodes everything the signer signs: all fields before the signature.
func (tx *Tx) signedPart() []byte {
	e := &encoder{buf: make([]byte, 0, 256)}
	e.u8(TxVersion)
	e.str(tx.ChainID)
	e.raw(tx.Signer[:])
	e.u64(tx.Sequence)
	e.u32(uint32(len(tx.Events)))
	for _, ev := range tx.Events {
		encodeEvent(e, ev)
	}
	return e.buf
}

// Encode returns the canonical transaction bytes.
func (tx *Tx) Encode() []byte {
	b := tx.signedPart()
	return append(b, tx.Signature[:]...)
}

// SignBytes returns the bytes the signer's signature covers.
func (tx *Tx) SignBytes() []byte {
	return append([]byte(domainTx), tx.signedPart()...)
}

// Sign fills in the signer and signature with the given private key.
func (tx *Tx) Sign(priv ed25519.PrivateKey) {
	copy(tx.Signer[:], priv.Public().(ed25519.PublicKey))
	copy(tx.Signature[:], ed25519.Sign(priv, tx.SignBytes()))
}

// Hash is the transaction hash CometBFT uses: SHA-256 of the transaction bytes.
func TxHash(txBytes []byte) ID { return sha256.Sum256(txBytes) }

// DecodeTx parses canonical transaction bytes. It checks the structure and each event's fields,
// but no signature and no state. The error wraps ErrMalformed or ErrUnknownKind, or is a *RejectError.
func DecodeTx(b []byte) (*Tx, error) {
	d := &decoder{buf: b}
	if v := d.u8(); d.err == nil && v != TxVersion {
		return nil, reject(CodeMalformed, "transaction version %d is not %d", v, TxVersion)
	}
	tx := &Tx{}
	tx.ChainID = d.str("chain_id", MaxChainIDBytes)
	d.fixed(tx.Signer[:])
	tx.Sequence = d.u64()
	n := d.u32()
	if d.err == nil && (n == 0 || n > HardMaxEventsPerTx) {
		if n == 0 {
			return nil, reject(CodeMalformed, "transaction has no events")
		}
		return nil, reject(CodeTooManyEvents, "transaction has %d events, more than the hard limit %d", n, HardMaxEventsPerTx)
	}
	for i := 0; i < int(n) && d.err == nil; i++ {
		if ev := decodeEvent(d, i); ev != nil {
			tx.Events = append(tx.Events, ev)
		}
	}
	d.fixed(tx.Signature[:])
	if err := d.finish("transaction"); err != nil {
		var uk *unknownKindError
		if errors.As(err, &uk) {
			return nil, reject(CodeUnknownKind, "%v", uk)
		}
		var rej *RejectError
		if errors.As(err, &rej) {
			return nil, rej
		}
		return nil, reject(CodeMalformed, "%v", err)
	}
	for i, ev := range tx.Events {
		if err := ev.validate(); err != nil {
			var rej *RejectError
			if errors.As(err, &rej) { // a field check with a code of its own (bad_evidence)
				return nil, reject(rej.Code, "event %d: %s", i, rej.Msg)
			}
			return nil, reject(CodeInvalidField, "event %d: %v", i, err)
		}
	}
	return tx, nil
}

// CountersignBytes returns the bytes a counterparty signs to agree to a bilateral event.
func CountersignBytes(chainID string, ev Event) []byte {
	e := &encoder{buf: []byte(domainCountersign)}
	e.str(chainID)
	e.u8(uint8(ev.Kind()))
	ev.encodeFields(e)
	return e.buf
}

// Countersign returns the counterparty's signature over the event.
func Countersign(priv ed25519.PrivateKey, chainID string, ev Event) Sig {
	var s Sig
	copy(s[:], ed25519.Sign(priv, CountersignBytes(chainID, ev)))
	return s
}

// ValidatorUpdateBytes returns the bytes a validator signs to approve a validator update.
func ValidatorUpdateBytes(chainID string, u *ValidatorUpdate) []byte {
	e := &encoder{buf: []byte(domainValUpdate)}
	e.str(chainID)
	u.encodeFields(e)
	return e.buf
}

// PowDigest is the proof-of-work digest of a registration (specs/events.md R-REG-2).
func PowDigest(chainID string, node PubKey, nonce uint64) ID {
	e := &encoder{buf: []byte(domainPoW)}
	e.str(chainID)
	e.raw(node[:])
	e.u64(nonce)
	return sha256.Sum256(e.buf)
}

// LeadingZeroBits counts the zero bits at the start of a digest.
func LeadingZeroBits(d ID) int {
	n := 0
	for _, b := range d {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// SolvePoW finds the smallest nonce whose digest has at least difficulty leading zero bits.
func SolvePoW(chainID string, node PubKey, difficulty int) uint64 {
	for nonce := uint64(0); ; nonce++ {
		if LeadingZeroBits(PowDigest(chainID, node, nonce)) >= difficulty {
			return nonce
		}
	}
}

// VerifySignatures checks the envelope signature, every countersignature, every validator
// approval and every audit evidence signature, and returns the rejection of the first failure in
// the tx's order. These checks need no state: each bilateral event names both parties. The
// signatures are verified together (verifyAll), in one batch when there are enough of them.
func (tx *Tx) VerifySignatures() error {
	checks := make([]sigCheck, 0, 1+len(tx.Events))
	checks = append(checks, sigCheck{tx.Signer, tx.SignBytes(), tx.Signature, func() error {
		return reject(CodeBadSignature, "signature does not verify for signer %s", tx.Signer)
	}})
	for i, ev := range tx.Events {
		if b, ok := ev.(Bilateral); ok {
			a, c := b.Parties()
			var other PubKey
			switch tx.Signer {
			case a:
				other = c
			case c:
				other = a
			default:
				return firstError(verifyAll(checks), reject(CodeNotAParty, "event %d (%s): signer %s is neither party", i, ev.Kind(), tx.Signer))
			}
			sig, present := b.Countersignature()
			if !present {
				if b.CountersigRequired() {
					return firstError(verifyAll(checks), reject(CodeBadCountersig, "event %d (%s): countersignature of %s is missing", i, ev.Kind(), other))
				}
				continue
			}
			checks = append(checks, sigCheck{other, CountersignBytes(tx.ChainID, ev), sig, func() error {
				return reject(CodeBadCountersig, "event %d (%s): countersignature does not verify for %s", i, ev.Kind(), other)
			}})
		}
		if u, ok := ev.(*ValidatorUpdate); ok {
			msg := ValidatorUpdateBytes(tx.ChainID, u)
			for _, a := range u.Approvals {
				checks = append(checks, sigCheck{a.Validator, msg, a.Sig, func() error {
					return reject(CodeBadSignature, "event %d (validator_update): approval does not verify for validator %s", i, a.Validator)
				}})
			}
		}
	}
	return verifyAll(checks)
}

// firstError returns a if it is not nil, else b.
func firstError(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
