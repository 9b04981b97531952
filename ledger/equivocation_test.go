package ledger

import "testing"

func TestDoubleSignedReceiptEvidence(t *testing.T) {
	w := newWorld(t)
	r1 := w.receipt(7, 100)
	r2 := w.receipt(7, 999) // same contract and number, other content
	other := w.receipt(8, 100)
	otherKind := &BandwidthReceipt{ContractID: w.contract, Number: 7, Customer: pub(w.alice), Supplier: pub(w.bob), Bytes: 100}
	otherContract := w.receipt(7, 999)
	otherContract.ContractID = id("another contract")
	signed := func(ev Event) SignedReceipt {
		return SignedReceipt{Receipt: ev, Sig: Countersign(w.bob, testChain, ev)}
	}
	cases := []struct {
		name     string
		evidence []byte
		want     Code
	}{
		{"two conflicting receipts signed by the accused", EncodeDoubleSignEvidence(signed(r1), signed(r2)), CodeOK},
		{"the same receipt twice", EncodeDoubleSignEvidence(signed(r1), signed(r1)), CodeBadEvidence},
		{"different numbers", EncodeDoubleSignEvidence(signed(r1), signed(other)), CodeBadEvidence},
		{"a storage and a bandwidth receipt with the same number", EncodeDoubleSignEvidence(signed(r1), signed(otherKind)), CodeBadEvidence},
		{"the same number in another contract", EncodeDoubleSignEvidence(signed(r1), signed(otherContract)), CodeBadEvidence},
		{"one signed by someone else", EncodeDoubleSignEvidence(signed(r1), SignedReceipt{Receipt: r2, Sig: Countersign(w.carol, testChain, r2)}), CodeBadEvidence},
		{"truncated", EncodeDoubleSignEvidence(signed(r1), signed(r2))[:50], CodeBadEvidence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			rep := &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductDoubleSignedRcpt, Evidence: c.evidence}
			if r := w.block(w.tx(w.alice, rep).Encode())[0]; r.Code != c.want {
				t.Fatalf("got %s (%s), want %s", r.Code, r.Log, c.want)
			}
		})
	}
}
