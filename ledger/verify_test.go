package ledger

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// receiptsTx is a tx of n storage receipts from bob (supplier) countersigned by alice; spoil
// changes receipt i's countersignature after signing (nil leaves every one valid).
func receiptsTx(n int, spoil map[int]func(*StorageReceipt)) *Tx {
	alice, bob := key("alice"), key("bob")
	var evs []Event
	for i := 0; i < n; i++ {
		r := countersigned(&StorageReceipt{ContractID: id("c"), Number: uint64(i + 1),
			Customer: pub(alice), Supplier: pub(bob), PeriodStart: 1, PeriodEnd: 2, ByteSeconds: 3}, alice)
		if f := spoil[i]; f != nil {
			f(r)
		}
		evs = append(evs, r)
	}
	tx := &Tx{ChainID: testChain, Sequence: 1, Events: evs}
	tx.Sign(bob)
	return tx
}

func forge(r *StorageReceipt)       { r.Countersig[0] ^= 1 }
func unsign(r *StorageReceipt)      { r.Countersig = Sig{} }
func strangerSig(r *StorageReceipt) { r.Countersig = Countersign(key("carol"), testChain, r) }

// The batch path (batchMinimum or more signatures) must reject exactly what one-by-one
// verification rejects, naming the first failure in the tx's order.
func TestVerifySignaturesBatchNamesFirstFailure(t *testing.T) {
	cases := []struct {
		name   string
		events int
		spoil  map[int]func(*StorageReceipt)
		code   Code
		want   string // substring of the rejection; "" for a valid tx
	}{
		{"one event, valid (no batch)", 1, nil, 0, ""},
		{"sixteen events, valid (batch)", 16, nil, 0, ""},
		{"one event, forged (no batch)", 1, map[int]func(*StorageReceipt){0: forge}, CodeBadCountersig, "event 0 (storage_receipt): countersignature does not verify"},
		{"sixteen, the 10th forged", 16, map[int]func(*StorageReceipt){9: forge}, CodeBadCountersig, "event 9 (storage_receipt): countersignature does not verify"},
		{"sixteen, 4th and 12th forged: the 4th is named", 16, map[int]func(*StorageReceipt){3: forge, 11: strangerSig}, CodeBadCountersig, "event 3 "},
		{"sixteen, the last signed by a stranger", 16, map[int]func(*StorageReceipt){15: strangerSig}, CodeBadCountersig, "event 15 "},
		{"forged 3rd before a zeroed 8th: the forgery is named", 16, map[int]func(*StorageReceipt){2: forge, 7: unsign}, CodeBadCountersig, "event 2 (storage_receipt): countersignature does not verify"},
		{"zeroed 8th, the rest valid", 16, map[int]func(*StorageReceipt){7: unsign}, CodeBadCountersig, "event 7 (storage_receipt): countersignature does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := receiptsTx(c.events, c.spoil).VerifySignatures()
			if c.want == "" {
				if err != nil {
					t.Fatalf("valid tx rejected: %v", err)
				}
				return
			}
			var rej *RejectError
			if !errors.As(err, &rej) || rej.Code != c.code || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want code %d containing %q", err, c.code, c.want)
			}
		})
	}
}

// A spoiled tx signature is named first even when a later event is also wrong.
func TestVerifySignaturesTxSignatureFirst(t *testing.T) {
	tx := receiptsTx(16, map[int]func(*StorageReceipt){5: forge})
	tx.Signature[10] ^= 1
	if err := tx.VerifySignatures(); err == nil || !strings.Contains(err.Error(), "signature does not verify for signer") {
		t.Fatalf("got %v, want the tx signature rejected", err)
	}
}

// verifyAll agrees with one-by-one verification whatever the mix of good and bad signatures,
// and its batch coefficients are a function of the batch alone.
func TestVerifyAllAgreesWithSingle(t *testing.T) {
	priv := key("alice")
	for n := 1; n <= 12; n++ {
		for bad := -1; bad < n; bad++ {
			checks := make([]sigCheck, n)
			for i := range checks {
				msg := []byte(fmt.Sprint("message ", i))
				var s Sig
				copy(s[:], ed25519.Sign(priv, msg))
				if i == bad {
					msg = append(msg, '!')
				}
				checks[i] = sigCheck{pub(priv), msg, s, func() error { return fmt.Errorf("check %d", i) }}
			}
			err := verifyAll(checks)
			switch {
			case bad < 0 && err != nil:
				t.Fatalf("n=%d all valid: %v", n, err)
			case bad >= 0 && (err == nil || err.Error() != fmt.Sprint("check ", bad)):
				t.Fatalf("n=%d bad=%d: got %v", n, bad, err)
			}
		}
	}
	a, b := make([]byte, 100), make([]byte, 100)
	checks := []sigCheck{{pub(priv), []byte("m"), Sig{1}, nil}}
	batchCoefficients(checks).Read(a)
	batchCoefficients(checks).Read(b)
	if string(a) != string(b) {
		t.Fatal("batch coefficients differ for the same batch")
	}
}

// Non-canonical encodings are refused: S ≥ ℓ (malleability) and a key encoding a y ≥ p.
func TestVerifyRejectsNonCanonical(t *testing.T) {
	priv := key("alice")
	msg := []byte("m")
	var s Sig
	copy(s[:], ed25519.Sign(priv, msg))
	if !verify(pub(priv), msg, s) {
		t.Fatal("a good signature does not verify")
	}
	// S + ℓ: the same point equation, a different encoding.
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}
	malleable := s
	carry := 0
	for i := 0; i < 32; i++ {
		v := int(malleable[32+i]) + int(l[i]) + carry
		malleable[32+i], carry = byte(v), v>>8
	}
	if verify(pub(priv), msg, malleable) {
		t.Fatal("S + ℓ verified")
	}
	var nonCanonical PubKey
	for i := range nonCanonical {
		nonCanonical[i] = 0xff
	}
	nonCanonical[31] = 0x7f
	if verify(nonCanonical, msg, s) {
		t.Fatal("a non-canonical key verified")
	}
}
