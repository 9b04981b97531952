package ledger

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// evidenceOf turns a checked answer into a failed audit with its leaf j as evidence.
func evidenceOf(s *testShard, a *AuditAnswer, j int) *AuditResult {
	return &AuditResult{ContractID: s.commitment.ContractID, Number: a.Challenge.Number, Customer: s.commitment.Customer, Supplier: s.commitment.Supplier,
		ChallengeDigest: a.Challenge.Digest(), Evidence: NewAuditEvidence(&s.commitment, a, j)}
}

// TestAuditEvidence is R-AUDIT-3's table: a supplier that lost its bytes is proven so by its own
// signed commitment and answer; every other construction of "evidence" is bad_evidence and leaves
// the state as it was (specs/events.md R-AUDIT-3, R-AUDIT-5).
func TestAuditEvidence(t *testing.T) {
	cases := []struct {
		name    string
		build   func(w *world) *AuditResult
		want    Code
		wantLog string
	}{
		{"the supplier lost its bytes: proof", func(w *world) *AuditResult {
			return provenAudit(w.contract, pub(w.alice), w.bob)
		}, CodeOK, ""},
		{"a valid answer presented as failing", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			return evidenceOf(s, s.answer(w.bob, "nonce", 4, s.data), 1)
		}, CodeBadEvidence, "proves no failure"},
		{"commitment signed by someone else", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			SignCommitment(w.carol, testChain, &s.commitment)
			return evidenceOf(s, s.answer(w.bob, "nonce", 4, s.corrupted()), 0)
		}, CodeBadEvidence, "commitment is not signed by the supplier"},
		{"answer signed by someone else", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			return evidenceOf(s, s.answer(w.carol, "nonce", 4, s.corrupted()), 0)
		}, CodeBadEvidence, "answer is not signed by the supplier"},
		{"root altered after signing", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			a := s.answer(w.bob, "nonce", 4, s.data)
			s.commitment.Root[0] ^= 1 // now no honest leaf verifies
			return evidenceOf(s, a, 0)
		}, CodeBadEvidence, "commitment is not signed"},
		{"a path for another leaf", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			a := s.answer(w.bob, "nonce", 4, s.data)
			r := evidenceOf(s, a, 0)
			r.Evidence.Proof.Path = a.Proofs[1].Path
			return r
		}, CodeBadEvidence, "not the one the supplier signed"},
		{"a changed leaf", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			r := evidenceOf(s, s.answer(w.bob, "nonce", 4, s.data), 2)
			r.Evidence.Proof.Leaf[0] ^= 1
			return r
		}, CodeBadEvidence, "not the one the supplier signed"},
		{"a leaf index not derived from the nonce", func(w *world) *AuditResult {
			s := newTestShard(w.contract, pub(w.alice), w.bob)
			a := s.answer(w.bob, "nonce", 4, s.corrupted())
			other := s.answer(w.bob, "another nonce", 4, s.corrupted())
			a.Proofs[0] = other.Proofs[0] // the supplier signed an answer to other leaves
			SignAnswer(w.bob, testChain, a)
			if a.Proofs[0].Index == s.answer(w.bob, "nonce", 1, s.data).Proofs[0].Index {
				t.Fatal("the two nonces pick the same first leaf; choose others")
			}
			return evidenceOf(s, a, 0)
		}, CodeBadEvidence, "not the one the challenge picks"},
		{"evidence of another challenge than the audit's", func(w *world) *AuditResult {
			r := provenAudit(w.contract, pub(w.alice), w.bob)
			r.ChallengeDigest = id("another challenge")
			return r
		}, CodeBadEvidence, "another challenge"},
		{"evidence against another supplier than the audit's", func(w *world) *AuditResult {
			r := provenAudit(w.contract, pub(w.alice), w.bob)
			r.Supplier = pub(w.carol)
			return r
		}, CodeBadEvidence, "other parties"},
		{"a failing place beyond the answer", func(w *world) *AuditResult {
			r := provenAudit(w.contract, pub(w.alice), w.bob)
			r.Evidence.Failing = 9
			return r
		}, CodeBadEvidence, "failing leaf 9"},
		{"a commitment with a leaf size no shard has", func(w *world) *AuditResult {
			r := provenAudit(w.contract, pub(w.alice), w.bob)
			r.Evidence.Commitment.LeafSize = 100
			return r
		}, CodeBadEvidence, "leaf size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			before := w.store.snapshot()
			r := w.block(w.tx(w.alice, tc.build(w)).Encode())[0]
			if r.Code != tc.want {
				t.Fatalf("got code %s (%s), want %s", r.Code, r.Log, tc.want)
			}
			if tc.want == CodeOK {
				a, _ := DecodeAggregate(w.store[string(PairAggKey(pub(w.bob), pub(w.alice)))])
				if a == nil || a.AuditsFailedProven != 1 {
					t.Errorf("a proven failure is not counted: %+v", a)
				}
				return
			}
			if !strings.Contains(r.Log, tc.wantLog) {
				t.Errorf("log %q does not mention %q", r.Log, tc.wantLog)
			}
			if after := w.store.snapshot(); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused audit changed the state")
			}
		})
	}
}

// TestOldEvidenceFormatRefused: format 1 (an answer digest and an "expected" digest, the
// customer's word) is refused with bad_evidence and a message saying what to attach instead.
func TestOldEvidenceFormatRefused(t *testing.T) {
	w := newWorld(t)
	a := &AuditResult{ContractID: w.contract, Number: 1, Customer: pub(w.alice), Supplier: pub(w.bob), ChallengeDigest: id("ch")}
	raw := w.tx(w.alice, a).Encode()
	// The evidence format byte sits just before the 64-byte signature; format 1 carried an answer
	// digest, an expected digest and a signature after it.
	at := len(raw) - 65
	if raw[at] != evidenceNone {
		t.Fatalf("byte %d is %d, not the evidence format", at, raw[at])
	}
	old := append(append(append([]byte(nil), raw[:at]...), evidenceDigests), make([]byte, 32+32+64)...)
	old = append(old, raw[at+1:]...)
	before := w.store.snapshot()
	r := w.block(old)[0]
	if r.Code != CodeBadEvidence || !strings.Contains(r.Log, "format 1") || !strings.Contains(r.Log, "storage commitment") {
		t.Fatalf("format 1 evidence: code %s %q", r.Code, r.Log)
	}
	if !reflect.DeepEqual(before, w.store.snapshot()) {
		t.Error("state changed")
	}
}

// TestAnswerCheck: the customer's own check of an answer finds the first failing leaf, passes
// an honest answer, and refuses answers that are not the supplier's answer to this challenge.
func TestAnswerCheck(t *testing.T) {
	alice, bob, carol := key("alice"), key("bob"), key("carol")
	s := newTestShard(id("c"), pub(alice), bob)
	honest := s.answer(bob, "n", 8, s.data)
	if j, err := honest.Check(testChain, &s.commitment, honest.Challenge); err != nil || j != -1 {
		t.Fatalf("honest answer: %d %v", j, err)
	}
	half := append([]byte(nil), s.data...)
	i := int(honest.Proofs[3].Index) * 64
	half[i] ^= 0xff
	lost := s.answer(bob, "n", 8, half)
	if j, err := lost.Check(testChain, &s.commitment, lost.Challenge); err != nil || j > 3 || j < 0 {
		t.Fatalf("answer with leaf %d lost: %d %v", honest.Proofs[3].Index, j, err)
	}
	forged := s.answer(carol, "n", 8, s.data)
	if _, err := forged.Check(testChain, &s.commitment, forged.Challenge); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("answer signed by another: %v", err)
	}
	other := s.answer(bob, "m", 8, s.data)
	if _, err := other.Check(testChain, &s.commitment, honest.Challenge); err == nil {
		t.Fatal("an answer to another challenge checked")
	}
}

// auditVector is specs/audit.md's worked example, byte for byte (testdata/audit_vectors.json).
type auditVector struct {
	Shard            string   `json:"shard"`
	LeafSize         uint32   `json:"leaf_size"`
	Root             string   `json:"root"`
	CommitmentBytes  string   `json:"commitment_sign_bytes"`
	CommitmentDigest string   `json:"commitment_digest"`
	CommitmentSig    string   `json:"commitment_sig"`
	Nonce            string   `json:"nonce"`
	ChallengeDigest  string   `json:"challenge_digest"`
	Indices          []uint64 `json:"indices"`
	FirstLeaf        string   `json:"first_leaf"`
	FirstPath        []string `json:"first_path"`
	FirstProofDigest string   `json:"first_leaf_proof_digest"`
	AnswerBytes      string   `json:"answer_sign_bytes"`
	LostAnswerBytes  string   `json:"lost_answer_sign_bytes"`
	EvidenceBytes    string   `json:"evidence_bytes"`
}

// TestAuditVectors checks the audit encodings against testdata/audit_vectors.json (rewrite with
// go test ./ledger -run AuditVectors -update): the shard is newTestShard's (byte i = 7i mod 256,
// 4,086 bytes in leaves of 64), supplier bob, customer alice, contract SHA-256("contract-1"),
// nonce SHA-256("nonce"), 4 leaves; the lost answer reads every byte flipped.
func TestAuditVectors(t *testing.T) {
	alice, bob := key("alice"), key("bob")
	s := newTestShard(id("contract-1"), pub(alice), bob)
	honest := s.answer(bob, "nonce", 4, s.data)
	lost := s.answer(bob, "nonce", 4, s.corrupted())
	ev := evidenceOf(s, lost, 0).Evidence
	e := &encoder{}
	ev.encode(e)
	p := honest.Proofs[0]
	got := auditVector{Shard: "byte i = 7i mod 256, 4086 bytes", LeafSize: 64, Root: s.commitment.Root.String(),
		CommitmentBytes: hex.EncodeToString(CommitmentBytes(testChain, &s.commitment)), CommitmentDigest: s.commitment.Digest(testChain).String(),
		CommitmentSig: s.commitment.Sig.String(), Nonce: id("nonce").String(), ChallengeDigest: honest.Challenge.Digest().String(),
		Indices: honest.Challenge.Indices(s.tree.Leaves()), FirstLeaf: hex.EncodeToString(p.Leaf), FirstProofDigest: p.Digest().String(),
		AnswerBytes:     hex.EncodeToString(AnswerBytes(testChain, honest.Challenge, honest.LeafDigests())),
		LostAnswerBytes: hex.EncodeToString(AnswerBytes(testChain, lost.Challenge, lost.LeafDigests())),
		EvidenceBytes:   hex.EncodeToString(e.buf)}
	for _, h := range p.Path {
		got.FirstPath = append(got.FirstPath, h.String())
	}
	const path = "testdata/audit_vectors.json"
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want auditVector
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test ./ledger -run AuditVectors -update to create it): %v", path, err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("audit encodings differ from %s:\n got %+v\nwant %+v", path, got, want)
	}
}
