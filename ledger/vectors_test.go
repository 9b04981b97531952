package ledger

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the current encoder")

// vector is one golden test vector of specs/events.md §7: the keys are derived from names with
// key(name), so any implementation can rebuild the same bytes.
type vector struct {
	Name      string `json:"name"`
	Signer    string `json:"signer_seed_name"`
	SignerKey string `json:"signer_public_key"`
	SignBytes string `json:"sign_bytes"`
	TxBytes   string `json:"tx_bytes"`
	TxHash    string `json:"tx_hash"`
}

// vectorTxs returns one transaction per event kind, plus a batch.
type namedTx struct {
	name, signer string
	tx           *Tx
}

func vectorTxs() []namedTx {
	alice, bob := key("alice"), key("bob")
	c := id("contract-1")
	proven := provenAudit(c, pub(alice), bob)
	mk := func(name, signer string, seq uint64, evs ...Event) namedTx {
		return namedTx{name, signer, &Tx{ChainID: testChain, Sequence: seq, Events: evs}}
	}
	out := []namedTx{
		mk("register_node", "alice", 1, &RegisterNode{PeerID: PeerIDOf(pub(alice)), Capacity: 1 << 40, Moniker: "alice <b>&</b> ☃", PowNonce: 7}),
		mk("contract_open", "alice", 2, countersigned(&ContractOpen{ContractID: c, Customer: pub(alice), Supplier: pub(bob), Bytes: 1 << 30, DurationSeconds: 2592000, PricePerGiBMonth: 4000}, bob)),
		mk("contract_close_fired", "alice", 3, &ContractClose{ContractID: c, Customer: pub(alice), Supplier: pub(bob), Reason: CloseFired}),
		mk("contract_close_expired", "alice", 3, countersigned(&ContractClose{ContractID: c, Customer: pub(alice), Supplier: pub(bob), Reason: CloseExpired}, bob)),
		mk("storage_receipt", "bob", 1, countersigned(&StorageReceipt{ContractID: c, Number: 1, Customer: pub(alice), Supplier: pub(bob), PeriodStart: 1700000000, PeriodEnd: 1700003600, ByteSeconds: 3865470566400}, alice)),
		mk("bandwidth_receipt", "bob", 2, countersigned(&BandwidthReceipt{ContractID: c, Number: 1, Customer: pub(alice), Supplier: pub(bob), Bytes: 1 << 20}, alice)),
		mk("audit_result_passed", "alice", 4, &AuditResult{ContractID: c, Number: 2, Customer: pub(alice), Supplier: pub(bob), ChallengeDigest: id("challenge"), Passed: true}),
		mk("audit_result_failed_with_evidence", "alice", 5, proven),
		mk("payment", "alice", 6, countersigned(&Payment{PaymentID: id("p1"), Payer: pub(alice), Payee: pub(bob), Amount: 123456, Reference: c}, bob)),
		mk("misbehavior_report", "alice", 7, &MisbehaviorReport{Accused: pub(bob), Misconduct: MisconductDataLost, EvidenceDigest: id("evidence"), Evidence: []byte("log excerpt")}),
		mk("batch_of_two_receipts", "bob", 3,
			countersigned(&StorageReceipt{ContractID: c, Number: 2, Customer: pub(alice), Supplier: pub(bob), PeriodStart: 1, PeriodEnd: 2, ByteSeconds: 3}, alice),
			countersigned(&BandwidthReceipt{ContractID: c, Number: 2, Customer: pub(alice), Supplier: pub(bob), Bytes: 4}, alice)),
	}
	vu := &ValidatorUpdate{ProposalID: id("proposal-1"), Validator: pub(key("new-validator")), Power: 10}
	for _, name := range []string{"validator-a", "validator-b", "validator-c"} {
		vu.Approvals = append(vu.Approvals, Approval{Validator: pub(key(name)), Sig: Sig(ed25519.Sign(key(name), ValidatorUpdateBytes(testChain, vu)))})
	}
	out = append(out, mk("validator_update", "alice", 8, vu))
	for _, v := range out {
		v.tx.Sign(key(v.signer))
	}
	return out
}

func TestGoldenVectors(t *testing.T) {
	var got []vector
	for _, v := range vectorTxs() {
		raw := v.tx.Encode()
		h := TxHash(raw)
		got = append(got, vector{Name: v.name, Signer: v.signer, SignerKey: v.tx.Signer.String(),
			SignBytes: hex.EncodeToString(v.tx.SignBytes()), TxBytes: hex.EncodeToString(raw), TxHash: h.String()})
	}
	const path = "testdata/vectors.json"
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test ./ledger -run Golden -update to create it): %v", path, err)
	}
	var want []vector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range want {
			if i < len(got) && got[i] != want[i] {
				t.Errorf("vector %s changed:\n got %+v\nwant %+v", want[i].Name, got[i], want[i])
			}
		}
		t.Fatalf("encoding differs from %s (%d vectors, want %d)", path, len(got), len(want))
	}
	// Every vector decodes, verifies, and re-encodes to the same bytes.
	for _, v := range want {
		raw, _ := hex.DecodeString(v.TxBytes)
		tx, err := DecodeTx(raw)
		if err != nil {
			t.Fatalf("%s: decode: %v", v.Name, err)
		}
		if err := tx.VerifySignatures(); err != nil {
			t.Errorf("%s: verify: %v", v.Name, err)
		}
		if hex.EncodeToString(tx.Encode()) != v.TxBytes {
			t.Errorf("%s: re-encoding differs", v.Name)
		}
	}
}

func TestRoundTripEveryKind(t *testing.T) {
	seen := map[Kind]bool{}
	for _, v := range vectorTxs() {
		raw := v.tx.Encode()
		back, err := DecodeTx(raw)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if !reflect.DeepEqual(back, v.tx) {
			t.Errorf("%s: round trip changed the tx:\n got %#v\nwant %#v", v.name, back, v.tx)
		}
		for _, ev := range back.Events {
			seen[ev.Kind()] = true
			rec := &EventRecord{Height: 3, TxIndex: 1, EventIndex: 2, Time: 9, Signer: v.tx.Signer, Event: ev, Kind: ev.Kind(), KindName: ev.Kind().String()}
			rb, err := DecodeEventRecord(rec.Encode())
			if err != nil || !reflect.DeepEqual(rb, rec) {
				t.Errorf("%s: record round trip: %v\n got %#v\nwant %#v", v.name, err, rb, rec)
			}
		}
	}
	for _, k := range AllKinds {
		if !seen[k] {
			t.Errorf("no vector for kind %s", k)
		}
	}
}

// TestMerkleRoot checks the RFC 6962 shape on small trees against a by-hand construction.
func TestMerkleRoot(t *testing.T) {
	l := []ID{id("a"), id("b"), id("c")}
	node := func(a, b ID) ID {
		return MerkleRoot([]ID{a, b})
	}
	if got, want := MerkleRoot(l), node(node(l[0], l[1]), l[2]); got != want {
		t.Errorf("3 leaves: got %s, want %s", got, want)
	}
	if MerkleRoot(l[:1]) != l[0] || !MerkleRoot(nil).IsZero() {
		t.Error("1 or 0 leaves")
	}
}

func TestEventRecordJSONRoundTrip(t *testing.T) {
	for _, v := range vectorTxs() {
		for i, ev := range v.tx.Events {
			rec := EventRecord{Height: 5, EventIndex: uint32(i), Signer: v.tx.Signer, Subject: v.tx.Signer, Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
			b, err := json.Marshal(&rec)
			if err != nil {
				t.Fatal(err)
			}
			var back EventRecord
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
			if !reflect.DeepEqual(back, rec) {
				t.Errorf("%s: JSON round trip:\n got %#v\nwant %#v", v.name, back, rec)
			}
		}
	}
}
