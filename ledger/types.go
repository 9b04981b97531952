package ledger

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// PubKey is an ed25519 public key: the identity of a node (specs/events.md §1).
type PubKey [32]byte

// ID is a 32-byte identifier chosen by the submitter (contract, receipt and payment ids) or a digest.
type ID [32]byte

// Sig is an ed25519 signature.
type Sig [64]byte

func (k PubKey) String() string { return hex.EncodeToString(k[:]) }
func (k PubKey) IsZero() bool   { return k == PubKey{} }
func (i ID) String() string     { return hex.EncodeToString(i[:]) }
func (i ID) IsZero() bool       { return i == ID{} }
func (s Sig) String() string    { return hex.EncodeToString(s[:]) }
func (s Sig) IsZero() bool      { return s == Sig{} }

func (k PubKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
func (i ID) MarshalJSON() ([]byte, error)     { return json.Marshal(i.String()) }
func (s Sig) MarshalJSON() ([]byte, error)    { return json.Marshal(s.String()) }

func (k *PubKey) UnmarshalJSON(b []byte) error { return unmarshalHexJSON(b, k[:], "public key") }
func (i *ID) UnmarshalJSON(b []byte) error     { return unmarshalHexJSON(b, i[:], "id") }
func (s *Sig) UnmarshalJSON(b []byte) error    { return unmarshalHexJSON(b, s[:], "signature") }

func unmarshalHexJSON(b []byte, dst []byte, what string) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return decodeHexInto(s, dst, what)
}

func decodeHexInto(s string, dst []byte, what string) error {
	raw, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%s %q is not hex: %w", what, s, err)
	}
	if len(raw) != len(dst) {
		return fmt.Errorf("%s %q is %d bytes, want %d", what, s, len(raw), len(dst))
	}
	copy(dst, raw)
	return nil
}

// ParsePubKey reads a hex-encoded public key.
func ParsePubKey(s string) (PubKey, error) {
	var k PubKey
	return k, decodeHexInto(s, k[:], "public key")
}

// ParseID reads a hex-encoded 32-byte id or digest.
func ParseID(s string) (ID, error) {
	var i ID
	return i, decodeHexInto(s, i[:], "id")
}

// ParseSig reads a hex-encoded signature.
func ParseSig(s string) (Sig, error) {
	var sig Sig
	return sig, decodeHexInto(s, sig[:], "signature")
}
