package ledger

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestBriefRecord: the brief form of a record of every kind, signed by either party or by a
// third, decodes to the whole record once the tx hash of the tx's first event is supplied, and
// is smaller than the canonical encoding.
func TestBriefRecord(t *testing.T) {
	var recs []EventRecord
	for ti, v := range vectorTxs() {
		for ei, ev := range v.tx.Events {
			for _, signer := range []string{v.signer, "alice", "bob", "carol"} {
				r := EventRecord{Height: 42, TxIndex: uint32(ti), EventIndex: uint32(ei), Time: 1_700_000_000,
					TxHash: id(v.name), Signer: pub(key(signer)), Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
				r.Subject, r.Counterparty = SubjectAndCounterparty(ev, r.Signer)
				recs = append(recs, r)
			}
		}
	}
	consensus := &MisbehaviorReport{Accused: pub(key("validator")), Misconduct: MisconductDuplicateVote, EvidenceDigest: id("dv")}
	c := EventRecord{Height: 42, TxIndex: ConsensusTxIndex, EventIndex: 3, Time: 1, Kind: consensus.Kind(), KindName: consensus.Kind().String(), Event: consensus}
	c.Subject, c.Counterparty = SubjectAndCounterparty(consensus, PubKey{})
	recs = append(recs, c)
	for _, r := range recs {
		name := fmt.Sprintf("%s at %d/%d signed by %s", r.Kind, r.TxIndex, r.EventIndex, r.Signer)
		brief := r.EncodeBrief()
		got, needTxHash, err := DecodeBrief(r.Height, r.TxIndex, r.EventIndex, brief)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if wantNeed := r.TxIndex != ConsensusTxIndex && r.EventIndex > 0; needTxHash != wantNeed {
			t.Fatalf("%s: needTxHash %v, want %v", name, needTxHash, wantNeed)
		}
		if needTxHash {
			got.TxHash = r.TxHash
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(r)
		if string(gj) != string(wj) {
			t.Fatalf("%s:\n got %s\nwant %s", name, gj, wj)
		}
		// Canonical: height, indexes, time, tx hash, signer, subject, counterparty (152 bytes) and
		// the event. Brief: flags, time, [signer], [tx hash] and the event.
		saved := 152 - 1 - 8
		if s, c := SubjectAndCounterparty(r.Event, PubKey{}); r.Signer != s && r.Signer != c && !r.Signer.IsZero() {
			saved -= 32
		}
		if r.firstOfTx() {
			saved -= 32
		}
		if got := len(r.Encode()) - len(brief); got != saved {
			t.Errorf("%s: brief form %d bytes, %d fewer than canonical, want %d fewer", name, len(brief), got, saved)
		}
	}
	// A brief record decoded at the wrong place (the tx-hash flag does not fit) is refused.
	first := recs[0].EncodeBrief()
	if _, _, err := DecodeBrief(42, 0, 1, first); err == nil {
		t.Error("a tx's first record decoded as its second")
	}
	if _, _, err := DecodeBrief(42, 0, 0, append(first, 0)); err == nil {
		t.Error("trailing bytes accepted")
	}
}
