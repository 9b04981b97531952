package ledger

import (
	"crypto/ed25519"
	"reflect"
	"strings"
	"testing"
)

// world is a small ledger: alice (customer) and bob (supplier) with an open contract, carol
// registered with no relation, mallory never registered.
type world struct {
	*harness
	alice, bob, carol, mallory ed25519.PrivateKey
	contract                   ID
}

func newWorld(t *testing.T) *world {
	w := &world{harness: newHarness(t), alice: key("alice"), bob: key("bob"), carol: key("carol"),
		mallory: key("mallory"), contract: id("contract-1")}
	w.register(w.alice, "alice")
	w.register(w.bob, "bob")
	w.register(w.carol, "carol")
	w.mustApply(w.tx(w.alice, countersigned(w.open(w.contract), w.bob)))
	return w
}

func (w *world) open(c ID) *ContractOpen {
	return &ContractOpen{ContractID: c, Customer: pub(w.alice), Supplier: pub(w.bob),
		Bytes: 1 << 20, DurationSeconds: 86400, PricePerGiBMonth: 5}
}

func (w *world) receipt(number, byteSeconds uint64) *StorageReceipt {
	return &StorageReceipt{ContractID: w.contract, Number: number, Customer: pub(w.alice), Supplier: pub(w.bob),
		PeriodStart: 1700000000, PeriodEnd: 1700000100, ByteSeconds: byteSeconds}
}

func TestRejections(t *testing.T) {
	cases := []struct {
		name    string
		build   func(w *world) [][]byte // every tx but the last must apply; the last is checked
		want    Code
		wantLog string
	}{
		{"malformed bytes", func(w *world) [][]byte { return [][]byte{{1, 2, 3}} }, CodeMalformed, "ends inside"},
		{"empty tx", func(w *world) [][]byte { return [][]byte{{}} }, CodeMalformed, ""},
		{"trailing bytes", func(w *world) [][]byte {
			return [][]byte{append(w.tx(w.alice, w.receipt(1, 1)).Encode(), 0)}
		}, CodeMalformed, "trailing"},
		{"oversized", func(w *world) [][]byte {
			big := &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductUnavailable, Evidence: make([]byte, 4000)}
			return [][]byte{w.tx(w.alice, big, big).Encode()}
		}, CodeOversized, "max_tx_bytes"},
		{"too many events", func(w *world) [][]byte {
			var evs []Event
			for i := 0; i < 9; i++ {
				evs = append(evs, &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductUnavailable})
			}
			return [][]byte{w.tx(w.alice, evs...).Encode()}
		}, CodeTooManyEvents, "max_events_per_tx"},
		{"unknown kind", func(w *world) [][]byte {
			raw := w.tx(w.alice, &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductUnavailable}).Encode()
			raw[1+4+len(testChain)+32+8+4] = 99
			return [][]byte{raw}
		}, CodeUnknownKind, "unknown kind 99"},
		{"wrong chain id", func(w *world) [][]byte {
			tx := w.tx(w.alice, w.receipt(1, 1))
			tx.ChainID = "other-chain"
			tx.Sign(w.alice)
			return [][]byte{tx.Encode()}
		}, CodeWrongChainID, "other-chain"},
		{"bad signature", func(w *world) [][]byte {
			raw := w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice)).Encode()
			raw[len(raw)-1] ^= 1
			return [][]byte{raw}
		}, CodeBadSignature, "signature does not verify"},
		{"forged countersignature", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, countersigned(w.receipt(1, 1), w.carol)).Encode()}
		}, CodeBadCountersig, "does not verify"},
		{"missing countersignature", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, w.receipt(1, 1)).Encode()}
		}, CodeBadCountersig, "does not verify"},
		{"missing countersignature on expiry", func(w *world) [][]byte {
			return [][]byte{w.tx(w.alice, &ContractClose{ContractID: w.contract, Customer: pub(w.alice), Supplier: pub(w.bob), Reason: CloseExpired}).Encode()}
		}, CodeBadCountersig, "missing"},
		{"replayed tx", func(w *world) [][]byte {
			raw := w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice)).Encode()
			return [][]byte{raw, raw}
		}, CodeReplayedTx, "already used"},
		{"sequence gap", func(w *world) [][]byte {
			tx := w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice))
			tx.Sequence += 2
			tx.Sign(w.bob)
			return [][]byte{tx.Encode()}
		}, CodeSequenceGap, "skips ahead"},
		{"unregistered signer", func(w *world) [][]byte {
			return [][]byte{w.tx(w.mallory, &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductUnavailable}).Encode()}
		}, CodeUnregistered, "not a registered node"},
		{"wrong proof of work", func(w *world) [][]byte {
			reg := registration(w.mallory, 0, "mallory")
			for LeadingZeroBits(PowDigest(testChain, pub(w.mallory), reg.PowNonce)) >= int(w.params.PowDifficulty) {
				reg.PowNonce++
			}
			return [][]byte{w.tx(w.mallory, reg).Encode()}
		}, CodeInsufficientPoW, "leading zero bits"},
		{"registered twice", func(w *world) [][]byte {
			return [][]byte{w.tx(w.alice, registration(w.alice, w.params.PowDifficulty, "again")).Encode()}
		}, CodeAlreadyExists, "already registered"},
		{"replayed receipt", func(w *world) [][]byte {
			first := w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice))
			second := &Tx{ChainID: testChain, Sequence: first.Sequence + 1, Events: []Event{countersigned(w.receipt(1, 1), w.alice)}}
			second.Sign(w.bob)
			return [][]byte{first.Encode(), second.Encode()}
		}, CodeReplayedReceipt, "receipt 1 of contract"},
		{"a different receipt under a recorded number", func(w *world) [][]byte {
			first := w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice))
			second := &Tx{ChainID: testChain, Sequence: first.Sequence + 1, Events: []Event{countersigned(w.receipt(1, 999), w.alice)}}
			second.Sign(w.bob)
			return [][]byte{first.Encode(), second.Encode()}
		}, CodeReplayedReceipt, "already recorded"},
		{"the same number twice in one tx", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, countersigned(w.receipt(3, 1), w.alice), countersigned(w.receipt(3, 2), w.alice)).Encode()}
		}, CodeReplayedReceipt, "event 1"},
		{"a receipt 64 below the highest recorded", func(w *world) [][]byte {
			first := w.tx(w.bob, countersigned(w.receipt(100, 1), w.alice))
			second := &Tx{ChainID: testChain, Sequence: first.Sequence + 1, Events: []Event{countersigned(w.receipt(36, 1), w.alice)}}
			second.Sign(w.bob)
			return [][]byte{first.Encode(), second.Encode()}
		}, CodeReceiptTooOld, "highest recorded (100)"},
		{"receipt number zero", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, countersigned(w.receipt(0, 1), w.alice)).Encode()}
		}, CodeInvalidField, "number is zero"},
		{"different contract under an existing contract id", func(w *world) [][]byte {
			c := w.open(w.contract)
			c.Bytes = 7
			return [][]byte{w.tx(w.alice, countersigned(c, w.bob)).Encode()}
		}, CodeIDConflict, "taken by a different contract"},
		{"contract id taken by a contract between other parties", func(w *world) [][]byte {
			c := w.open(w.contract)
			c.Customer = pub(w.carol)
			return [][]byte{w.tx(w.carol, countersigned(c, w.bob)).Encode()}
		}, CodeIDConflict, "taken by a different contract"},
		{"contract opened twice", func(w *world) [][]byte {
			return [][]byte{w.tx(w.alice, countersigned(w.open(w.contract), w.bob)).Encode()}
		}, CodeAlreadyExists, "already opened"},
		{"receipt for unknown contract", func(w *world) [][]byte {
			r := w.receipt(1, 1)
			r.ContractID = id("nope")
			return [][]byte{w.tx(w.bob, countersigned(r, w.alice)).Encode()}
		}, CodeUnknownContract, "never opened"},
		{"receipt on a closed contract", func(w *world) [][]byte {
			closeTx := w.tx(w.alice, &ContractClose{ContractID: w.contract, Customer: pub(w.alice), Supplier: pub(w.bob), Reason: CloseFired})
			rcpt := &Tx{ChainID: testChain, Sequence: 1 + w.seq[pub(w.bob)], Events: []Event{countersigned(w.receipt(1, 1), w.alice)}}
			rcpt.Sign(w.bob)
			return [][]byte{closeTx.Encode(), rcpt.Encode()}
		}, CodeContractClosed, "was closed (fired)"},
		{"signer is neither party", func(w *world) [][]byte {
			return [][]byte{w.tx(w.carol, countersigned(w.receipt(1, 1), w.alice)).Encode()}
		}, CodeNotAParty, "neither party"},
		{"supplier reports its own audit", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, &AuditResult{ContractID: w.contract, Number: 1, Customer: pub(w.alice), Supplier: pub(w.bob), Passed: true}).Encode()}
		}, CodeNotAParty, "only the customer"},
		{"supplier fires itself", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, &ContractClose{ContractID: w.contract, Customer: pub(w.alice), Supplier: pub(w.bob), Reason: CloseFired}).Encode()}
		}, CodeNotAParty, "only the customer"},
		{"receipt names the wrong customer", func(w *world) [][]byte {
			r := w.receipt(1, 1)
			r.Customer = pub(w.carol)
			return [][]byte{w.tx(w.bob, countersigned(r, w.carol)).Encode()}
		}, CodeNotAParty, "is between customer"},
		{"receipt period backwards", func(w *world) [][]byte {
			r := w.receipt(1, 1)
			r.PeriodEnd = r.PeriodStart
			return [][]byte{w.tx(w.bob, countersigned(r, w.alice)).Encode()}
		}, CodeInvalidField, "period_end"},
		{"payment to an unregistered node", func(w *world) [][]byte {
			p := &Payment{PaymentID: id("p"), Payer: pub(w.alice), Payee: pub(w.mallory), Amount: 5}
			return [][]byte{w.tx(w.alice, countersigned(p, w.mallory)).Encode()}
		}, CodeUnknownNode, "payee"},
		{"audit evidence of another contract's commitment", func(w *world) [][]byte {
			a := provenAudit(id("another contract"), pub(w.alice), w.bob)
			a.ContractID = w.contract
			return [][]byte{w.tx(w.alice, a).Encode()}
		}, CodeBadEvidence, "another contract"},
		{"a receipt number far ahead of the highest (R-RCPT-2)", func(w *world) [][]byte {
			return [][]byte{w.tx(w.bob, countersigned(w.receipt(^uint64(0), 1), w.alice)).Encode()}
		}, CodeNumberTooFar, "more than 65536 above"},
		{"a storage period before the contract opened (R-RCPT-3)", func(w *world) [][]byte {
			r := w.receipt(1, 1)
			r.PeriodStart, r.PeriodEnd = -2000000000, -1999990000 // 1906
			return [][]byte{w.tx(w.bob, countersigned(r, w.alice)).Encode()}
		}, CodeInvalidField, "before its contract opened"},
		{"a storage period ending after the block (R-RCPT-3)", func(w *world) [][]byte {
			r := w.receipt(1, 1)
			r.PeriodEnd = 1800000000
			return [][]byte{w.tx(w.bob, countersigned(r, w.alice)).Encode()}
		}, CodeInvalidField, "after the block's time"},
		{"the same audit number twice (R-AUD-2)", func(w *world) [][]byte {
			a := &AuditResult{ContractID: w.contract, Number: 7, Customer: pub(w.alice), Supplier: pub(w.bob), ChallengeDigest: id("c"), Passed: true}
			return [][]byte{w.tx(w.alice, a).Encode(), w.txAt(w.alice, 1, a).Encode()}
		}, CodeReplayedAudit, "audit 7 of contract"},
		{"an audit 64 below the highest (R-AUD-2)", func(w *world) [][]byte {
			hi := &AuditResult{ContractID: w.contract, Number: 100, Customer: pub(w.alice), Supplier: pub(w.bob), Passed: true}
			lo := &AuditResult{ContractID: w.contract, Number: 36, Customer: pub(w.alice), Supplier: pub(w.bob), Passed: true}
			return [][]byte{w.tx(w.alice, hi).Encode(), w.txAt(w.alice, 1, lo).Encode()}
		}, CodeAuditTooOld, "audit 36"},
		{"an audit without a number", func(w *world) [][]byte {
			return [][]byte{w.tx(w.alice, &AuditResult{ContractID: w.contract, Customer: pub(w.alice), Supplier: pub(w.bob), Passed: true}).Encode()}
		}, CodeInvalidField, "number is zero"},
		{"a peer id that is not the key's (R-REG-3)", func(w *world) [][]byte {
			reg := registration(w.mallory, w.params.PowDifficulty, "mallory")
			reg.PeerID = PeerIDOf(pub(w.bob))
			return [][]byte{w.tx(w.mallory, reg).Encode()}
		}, CodeInvalidField, "not the libp2p peer id"},
		{"user reports a consensus-only misconduct", func(w *world) [][]byte {
			return [][]byte{w.tx(w.alice, &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductDuplicateVote}).Encode()}
		}, CodeReservedKind, "recorded by the ledger"},
		{"self report", func(w *world) [][]byte {
			return [][]byte{w.tx(w.alice, &MisbehaviorReport{Accused: pub(w.alice), Misconduct: MisconductUnavailable}).Encode()}
		}, CodeInvalidField, "cannot report itself"},
		{"atomic: a bad second event undoes the first", func(w *world) [][]byte {
			bad := w.receipt(2, 1)
			bad.ContractID = id("nope")
			return [][]byte{w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice), countersigned(bad, w.alice)).Encode()}
		}, CodeUnknownContract, "event 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			txs := tc.build(w)
			if len(txs) > 1 {
				for i, r := range w.block(txs[:len(txs)-1]...) {
					if r.Code != CodeOK {
						t.Fatalf("setup tx %d rejected: %s", i, r.Log)
					}
				}
			}
			before := w.store.snapshot()
			r := w.block(txs[len(txs)-1])[0]
			if r.Code != tc.want {
				t.Fatalf("got code %s (%s), want %s", r.Code, r.Log, tc.want)
			}
			if !strings.Contains(r.Log, tc.wantLog) {
				t.Errorf("log %q does not mention %q", r.Log, tc.wantLog)
			}
			if r.Records != nil {
				t.Errorf("rejected tx produced %d records", len(r.Records))
			}
			if after := w.store.snapshot(); !reflect.DeepEqual(before, after) {
				t.Errorf("rejected tx changed the state")
			}
		})
	}
}

func TestSignerBlockCap(t *testing.T) {
	w := newWorld(t)
	var txs [][]byte
	for i := 0; i < 4; i++ {
		tx := &Tx{ChainID: testChain, Sequence: w.seq[pub(w.alice)] + 1 + uint64(i),
			Events: []Event{&MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductUnavailable}}}
		tx.Sign(w.alice)
		txs = append(txs, tx.Encode())
	}
	res := w.block(txs...)
	for i := 0; i < 3; i++ {
		if res[i].Code != CodeOK {
			t.Fatalf("tx %d: got %s, want ok", i, res[i].Log)
		}
	}
	if res[3].Code != CodeSignerBlockCap {
		t.Fatalf("4th tx: got %s, want %s", res[3].Code, CodeSignerBlockCap)
	}
	// The next block accepts it again.
	if r := w.block(txs[3])[0]; r.Code != CodeOK {
		t.Fatalf("next block: got %s", r.Log)
	}
}

func TestAggregatesAndRecords(t *testing.T) {
	w := newWorld(t)
	a := provenAudit(w.contract, pub(w.alice), w.bob)
	w.mustApply(
		w.tx(w.bob, countersigned(w.receipt(1, 1000), w.alice), countersigned(w.receipt(2, 500), w.alice),
			countersigned(&BandwidthReceipt{ContractID: w.contract, Number: 1, Customer: pub(w.alice), Supplier: pub(w.bob), Bytes: 77}, w.alice)),
		w.tx(w.alice, &AuditResult{ContractID: w.contract, Number: 2, Customer: pub(w.alice), Supplier: pub(w.bob), Passed: true}, a,
			&AuditResult{ContractID: w.contract, Number: 3, Customer: pub(w.alice), Supplier: pub(w.bob)},
			countersigned(&Payment{PaymentID: id("p1"), Payer: pub(w.alice), Payee: pub(w.bob), Amount: 42}, w.bob)),
		w.tx(w.carol, &MisbehaviorReport{Accused: pub(w.bob), Misconduct: MisconductDataLost, EvidenceDigest: id("ev")}),
	)
	pair, _ := DecodeAggregate(w.store[string(PairAggKey(pub(w.bob), pub(w.alice)))])
	want := Aggregate{Events: 7, ContractsOpened: 1, StorageReceipts: 2, ByteSeconds: 1500, BandwidthReceipts: 1,
		BandwidthBytes: 77, AuditsPassed: 1, AuditsFailed: 2, AuditsFailedProven: 1, FirstHeight: 4, LastHeight: 5}
	if *pair != want {
		t.Errorf("pair bob<-alice:\n got %+v\nwant %+v", *pair, want)
	}
	node, _ := DecodeAggregate(w.store[string(NodeAggKey(pub(w.bob)))])
	if node.Events != 9 || node.ReportsReceived != 1 || node.ContractsOpened != 1 {
		t.Errorf("node bob: got %+v, want 9 events (incl. registration and one report)", *node)
	}
	payer, _ := DecodeAggregate(w.store[string(PairAggKey(pub(w.alice), pub(w.bob)))])
	if payer.PaymentsMade != 1 || payer.AmountPaid != 42 {
		t.Errorf("pair alice->bob payments: got %+v", *payer)
	}
	seqRec, _ := DecodeNodeRecord(w.store[string(NodeKey(pub(w.alice)))])
	if seqRec.Sequence != 3 {
		t.Errorf("alice sequence: got %d, want 3", seqRec.Sequence)
	}
	root, err := DecodeLogRoot(w.store[string(LogRootKey(5))])
	if err != nil || root.Count != 8 || root.Total != 4+8 {
		t.Errorf("log root at 5: got %+v, %v; want 8 events, 12 in total", root, err)
	}
}

func TestConsensusMisbehaviorIsRecorded(t *testing.T) {
	w := newWorld(t)
	b := NewBlock(w.store, testChain, w.params, BlockInfo{Height: 10, Time: 5}, true)
	b.RecordConsensusMisbehavior(pub(w.carol), MisconductDuplicateVote, id("evidence"))
	if _, err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	recs := b.Records()
	if len(recs) != 1 || recs[0].TxIndex != ConsensusTxIndex || !recs[0].Signer.IsZero() {
		t.Fatalf("got records %+v", recs)
	}
	agg, _ := DecodeAggregate(w.store[string(NodeAggKey(pub(w.carol)))])
	if agg.ReportsReceived != 1 {
		t.Errorf("carol reports: got %d, want 1", agg.ReportsReceived)
	}
}

// TestDeterminism applies the same history twice and compares the whole state byte for byte.
func TestDeterminism(t *testing.T) {
	a, b := newWorld(t), newWorld(t)
	for _, w := range []*world{a, b} {
		w.mustApply(w.tx(w.bob, countersigned(w.receipt(1, 1), w.alice)),
			w.tx(w.alice, countersigned(&Payment{PaymentID: id("p"), Payer: pub(w.alice), Payee: pub(w.bob), Amount: 1}, w.bob)))
	}
	if !reflect.DeepEqual(a.store.snapshot(), b.store.snapshot()) {
		t.Fatal("same history gave different states")
	}
	if len(a.store.keys()) == 0 {
		t.Fatal("empty state")
	}
}
