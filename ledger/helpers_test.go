package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sort"
	"testing"

	"github.com/trustledger/trustledger/ledger/shard"
)

// memStore is the obvious Store: a map. Keys() lists keys in order for state comparisons.
type memStore map[string][]byte

func (m memStore) Get(k []byte) ([]byte, error) { return m[string(k)], nil }
func (m memStore) Set(k, v []byte) error        { m[string(k)] = append([]byte(nil), v...); return nil }

func (m memStore) snapshot() map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func (m memStore) keys() []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

const testChain = "test-chain"

func testParams() Params {
	p := DefaultParams()
	p.PowDifficulty = 4
	p.MaxTxsPerSignerPerBlock = 3
	p.MaxEventsPerTx = 8
	p.MaxTxBytes = 4096
	return p
}

// key derives a deterministic ed25519 key from a name, for tests and golden vectors.
func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("trustledger test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(priv ed25519.PrivateKey) PubKey {
	var k PubKey
	copy(k[:], priv.Public().(ed25519.PublicKey))
	return k
}

func id(name string) ID { return sha256.Sum256([]byte(name)) }

// harness drives a chain of blocks over a memStore, tracking each signer's next sequence.
type harness struct {
	t      *testing.T
	store  memStore
	params Params
	height int64
	seq    map[PubKey]uint64
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, store: memStore{}, params: testParams(), seq: map[PubKey]uint64{}}
	if err := InitGenesis(h.store, testChain, h.params, nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// tx builds and signs a transaction at the signer's next sequence (not consumed until applied).
func (h *harness) tx(signer ed25519.PrivateKey, evs ...Event) *Tx {
	tx := &Tx{ChainID: testChain, Sequence: h.seq[pub(signer)] + 1, Events: evs}
	tx.Sign(signer)
	return tx
}

// txAt is tx at the signer's sequence after the next plus ahead (for txs built before earlier
// ones are applied).
func (h *harness) txAt(signer ed25519.PrivateKey, ahead uint64, evs ...Event) *Tx {
	tx := &Tx{ChainID: testChain, Sequence: h.seq[pub(signer)] + 1 + ahead, Events: evs}
	tx.Sign(signer)
	return tx
}

// block applies raw transactions in one block and returns their results.
func (h *harness) block(txs ...[]byte) []TxResult {
	h.t.Helper()
	h.height++
	b := NewBlock(h.store, testChain, h.params, BlockInfo{Height: h.height, Time: 1_700_000_000 + h.height}, true)
	var out []TxResult
	for _, raw := range txs {
		r := b.ApplyTx(raw, nil)
		if r.Code == CodeOK {
			tx, _ := DecodeTx(raw)
			h.seq[tx.Signer] = tx.Sequence
		}
		out = append(out, r)
	}
	if _, err := b.Finish(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// mustApply applies signed txs in one block and fails the test on any rejection.
func (h *harness) mustApply(txs ...*Tx) {
	h.t.Helper()
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		raws[i] = tx.Encode()
	}
	for i, r := range h.block(raws...) {
		if r.Code != CodeOK {
			h.t.Fatalf("tx %d rejected: %s", i, r.Log)
		}
	}
}

func (h *harness) register(priv ed25519.PrivateKey, moniker string) {
	h.t.Helper()
	h.mustApply(h.tx(priv, registration(priv, h.params.PowDifficulty, moniker)))
}

func registration(priv ed25519.PrivateKey, difficulty uint32, moniker string) *RegisterNode {
	return &RegisterNode{PeerID: PeerIDOf(pub(priv)), Capacity: 1 << 30, Moniker: moniker,
		PowNonce: SolvePoW(testChain, pub(priv), int(difficulty))}
}

// countersigned returns ev with the counterparty's countersignature set.
func countersigned[E Bilateral](ev E, by ed25519.PrivateKey) E {
	ev.SetCountersignature(Countersign(by, testChain, ev))
	return ev
}

// testShard is a shard of 64 leaves of 64 bytes, its tree and the supplier's signed commitment.
type testShard struct {
	data       []byte
	tree       *shard.Tree
	commitment StorageCommitment
}

func newTestShard(contract ID, customer PubKey, supplier ed25519.PrivateKey) *testShard {
	data := make([]byte, 64*64-10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	tree, err := shard.Build(bytes.NewReader(data), uint64(len(data)), 64)
	if err != nil {
		panic(err)
	}
	s := &testShard{data: data, tree: tree, commitment: StorageCommitment{ContractID: contract, ShardID: id("shard-1"),
		Customer: customer, Supplier: pub(supplier), Size: uint64(len(data)), LeafSize: 64}}
	copy(s.commitment.Root[:], tree.Root())
	SignCommitment(supplier, testChain, &s.commitment)
	return s
}

// answer is the supplier's signed answer to a challenge of count leaves with nonce, read from
// held (the shard as the supplier has it now).
func (s *testShard) answer(supplier ed25519.PrivateKey, nonce string, count uint8, held []byte) *AuditAnswer {
	ch := AuditChallenge{Commitment: s.commitment.Digest(testChain), Number: 1, Nonce: id(nonce), Count: count}
	a := &AuditAnswer{Challenge: ch}
	for _, i := range ch.Indices(s.tree.Leaves()) {
		leaf, path, err := s.tree.Prove(bytes.NewReader(held), i)
		if err != nil {
			panic(err)
		}
		p := LeafProof{Index: i, Leaf: leaf}
		for _, h := range path {
			p.Path = append(p.Path, ID(h))
		}
		a.Proofs = append(a.Proofs, p)
	}
	SignAnswer(supplier, testChain, a)
	return a
}

// corrupted is the shard with every byte flipped: every challenged leaf fails.
func (s *testShard) corrupted() []byte {
	out := make([]byte, len(s.data))
	for i, b := range s.data {
		out[i] = ^b
	}
	return out
}

// provenAudit is a failed audit with evidence: the supplier lost its shard's bytes and answered.
func provenAudit(contract ID, customer PubKey, supplier ed25519.PrivateKey) *AuditResult {
	s := newTestShard(contract, customer, supplier)
	a := s.answer(supplier, "nonce", 4, s.corrupted())
	j, err := a.Check(testChain, &s.commitment, a.Challenge)
	if err != nil || j < 0 {
		panic(fmt.Sprintf("the corrupted answer checks as %d, %v", j, err))
	}
	return &AuditResult{ContractID: contract, Number: a.Challenge.Number, Customer: customer, Supplier: pub(supplier), ChallengeDigest: a.Challenge.Digest(),
		Evidence: NewAuditEvidence(&s.commitment, a, j)}
}
