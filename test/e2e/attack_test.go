package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/ledger"
)

func testKey(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("e2e attack key " + name))
	return ed25519.NewKeyFromSeed(s[:])
}

func pubOf(k ed25519.PrivateKey) ledger.PubKey {
	var p ledger.PubKey
	copy(p[:], k.Public().(ed25519.PublicKey))
	return p
}

// TestAttacksThroughRPC sends each attack of issue 4 through a running node's real RPC: each is
// rejected with its own code, the app hash does not move, and the node keeps serving.
func TestAttacksThroughRPC(t *testing.T) {
	const chain = "e2e-chain"
	n := newNode(t, "--pow-difficulty", "6", "--max-tx-bytes", "8192", "--max-txs-per-signer-per-block", "3")
	n.start()
	ctx := context.Background()
	c := n.rpc()
	alice, bob, mallory := testKey("alice"), testKey("bob"), testKey("mallory")
	seq := map[ledger.PubKey]uint64{}
	sign := func(k ed25519.PrivateKey, s uint64, evs ...ledger.Event) []byte {
		tx := &ledger.Tx{ChainID: chain, Sequence: s, Events: evs}
		tx.Sign(k)
		return tx.Encode()
	}
	next := func(k ed25519.PrivateKey, evs ...ledger.Event) []byte {
		seq[pubOf(k)]++
		return sign(k, seq[pubOf(k)], evs...)
	}
	commit := func(raw []byte) {
		t.Helper()
		res, err := c.BroadcastTxSync(ctx, raw)
		if err != nil || res.Code != 0 {
			t.Fatalf("setup tx: %v %+v", err, res)
		}
		h := ledger.TxHash(raw)
		for i := 0; i < 100; i++ {
			if _, err := c.Tx(ctx, h[:], false); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("setup tx not committed")
	}
	reg := func(k ed25519.PrivateKey) *ledger.RegisterNode {
		return &ledger.RegisterNode{PeerID: ledger.PeerIDOf(pubOf(k)), PowNonce: ledger.SolvePoW(chain, pubOf(k), 6)}
	}
	commit(next(alice, reg(alice)))
	commit(next(bob, reg(bob)))
	contract := sha256.Sum256([]byte("contract"))
	open := &ledger.ContractOpen{ContractID: contract, Customer: pubOf(alice), Supplier: pubOf(bob), Bytes: 10, DurationSeconds: 10}
	open.Countersig = ledger.Countersign(bob, chain, open)
	commit(next(alice, open))
	receipt := func(number, bytes uint64, by ed25519.PrivateKey) *ledger.BandwidthReceipt {
		r := &ledger.BandwidthReceipt{ContractID: contract, Number: number, Customer: pubOf(alice), Supplier: pubOf(bob), Bytes: bytes}
		r.Countersig = ledger.Countersign(by, chain, r)
		return r
	}
	committed := next(bob, receipt(100, 100, alice))
	commit(committed)

	// The latest header carries the app hash of the block before it: wait until the setup's last
	// block is covered, then take the hash the attacks must not move.
	n.waitHeight(n.height()+2, 20*time.Second)
	status, _ := c.Status(ctx)
	appHash := status.SyncInfo.LatestAppHash.String()

	badSig := sign(bob, seq[pubOf(bob)]+1, receipt(102, 1, alice))
	badSig[len(badSig)-1] ^= 1
	lowPoW := &ledger.RegisterNode{PeerID: ledger.PeerIDOf(pubOf(mallory))}
	for ledger.LeadingZeroBits(ledger.PowDigest(chain, pubOf(mallory), lowPoW.PowNonce)) >= 6 {
		lowPoW.PowNonce++
	}
	attacks := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"malformed bytes", []byte("\x01garbage"), ledger.CodeMalformed},
		{"over the size limit", sign(alice, seq[pubOf(alice)]+1, &ledger.MisbehaviorReport{Accused: pubOf(bob), Misconduct: 1, Evidence: make([]byte, 4096)},
			&ledger.MisbehaviorReport{Accused: pubOf(bob), Misconduct: 1, Evidence: make([]byte, 4096)}), ledger.CodeOversized},
		{"bad signature", badSig, ledger.CodeBadSignature},
		{"forged countersignature", sign(bob, seq[pubOf(bob)]+1, receipt(103, 1, mallory)), ledger.CodeBadCountersig},
		{"replayed sequence", sign(bob, seq[pubOf(bob)], receipt(104, 1, alice)), ledger.CodeReplayedTx},
		{"replayed receipt", sign(bob, seq[pubOf(bob)]+1, receipt(100, 100, alice)), ledger.CodeReplayedReceipt},
		{"a different receipt under a recorded number", sign(bob, seq[pubOf(bob)]+1, receipt(100, 999, alice)), ledger.CodeReplayedReceipt},
		{"a receipt number below the contract's window", sign(bob, seq[pubOf(bob)]+1, receipt(36, 1, alice)), ledger.CodeReceiptTooOld},
		{"sequence gap", sign(bob, seq[pubOf(bob)]+5, receipt(105, 1, alice)), ledger.CodeSequenceGap},
		{"event from an unregistered key", sign(mallory, 1, &ledger.MisbehaviorReport{Accused: pubOf(bob), Misconduct: 1}), ledger.CodeUnregistered},
		{"too little proof of work", sign(mallory, 1, lowPoW), ledger.CodeInsufficientPoW},
		{"wrong chain", func() []byte {
			tx := &ledger.Tx{ChainID: "other", Sequence: seq[pubOf(bob)] + 1, Events: []ledger.Event{receipt(106, 1, alice)}}
			tx.Sign(bob)
			return tx.Encode()
		}(), ledger.CodeWrongChainID},
	}
	for _, a := range attacks {
		res, err := c.BroadcastTxSync(ctx, a.tx)
		if err != nil {
			t.Errorf("%s: transport error %v", a.name, err)
			continue
		}
		if res.Code != uint32(a.want) || res.Log == "" || res.Codespace != "trustledger" {
			t.Errorf("%s: got code %d (%s) %q, want %d (%s)", a.name, res.Code, ledger.Code(res.Code), res.Log, a.want, a.want)
		}
	}
	// The exact bytes of a committed tx: CometBFT's mempool cache or our sequence check refuses it.
	if res, err := c.BroadcastTxSync(ctx, committed); err == nil && res.Code != uint32(ledger.CodeReplayedTx) {
		t.Errorf("exact replay of a committed tx: code %d", res.Code)
	} else if err != nil && !strings.Contains(err.Error(), "cache") {
		t.Errorf("exact replay of a committed tx: %v", err)
	}
	n.waitHeight(n.height()+2, 20*time.Second)
	if after, _ := c.Status(ctx); after.SyncInfo.LatestAppHash.String() != appHash {
		t.Fatalf("app hash moved during the attacks: %s → %s", appHash, after.SyncInfo.LatestAppHash)
	}

	// A flood from one signer beyond the per-block cap (3): all accepted into the mempool, no block
	// holds more than 3 of them, all commit over several blocks.
	var flood [][]byte
	for i := 0; i < 10; i++ {
		flood = append(flood, next(alice, &ledger.MisbehaviorReport{Accused: pubOf(bob), Misconduct: 1, EvidenceDigest: sha256.Sum256([]byte{byte(i)})}))
	}
	for i, tx := range flood {
		if res, err := c.BroadcastTxSync(ctx, tx); err != nil || res.Code != 0 {
			t.Fatalf("flood tx %d: %v %+v", i, err, res)
		}
	}
	perBlock := map[int64]int{}
	for i, tx := range flood {
		h := ledger.TxHash(tx)
		var height int64
		for k := 0; k < 200 && height == 0; k++ {
			if res, err := c.Tx(ctx, h[:], false); err == nil {
				height = res.Height
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if height == 0 {
			t.Fatalf("flood tx %d never committed", i)
		}
		perBlock[height]++
	}
	for h, k := range perBlock {
		if k > 3 {
			t.Errorf("block %d holds %d txs of one signer, cap 3", h, k)
		}
	}
	if len(perBlock) < 4 {
		t.Errorf("10 txs over a cap of 3 landed in %d blocks, want at least 4", len(perBlock))
	}
	if _, err := c.Status(ctx); err != nil {
		t.Fatalf("the node stopped serving: %v", err)
	}
}
