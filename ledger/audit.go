package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trustledger/trustledger/ledger/shard"
)

// Audits that prove (specs/events.md R-AUDIT-1..5, specs/audit.md). A supplier signs a storage
// commitment to a shard when it accepts it; a challenge names the commitment and a nonce, from
// which the challenged leaves follow; the supplier's signed answer gives each leaf with its
// inclusion path. A failed audit is proof only with evidence: the commitment and the answer, both
// signed by the supplier, and one of the answer's leaves that does not verify against the
// commitment's root. Nobody but the supplier can make that evidence, and an honest supplier never
// signs it.

// Evidence formats of an audit result (the byte after `passed`).
const (
	evidenceNone    = 0
	evidenceDigests = 1 // refused since layout 3: the customer's word (R-AUDIT-5)
	evidenceProof   = 2
)

// MaxChallengeLeaves is the most leaves one challenge asks for.
const MaxChallengeLeaves = 16

// Domain separators of the audit statements (specs/events.md §4).
const (
	domainCommitment = "trustledger/storage-commitment/v1\x00"
	domainChallenge  = "trustledger/audit-challenge/v1\x00"
	domainAnswer     = "trustledger/audit-answer/v2\x00"
	domainLeafProof  = "trustledger/audit-leaf-proof/v1\x00"
)

// StorageCommitment is a supplier's signed statement of exactly which bytes it keeps for a
// customer under a contract: the RFC 6962 tree hash (Root) over LeafSize-byte leaves of a shard
// of Size bytes (R-AUDIT-1).
type StorageCommitment struct {
	ContractID ID     `json:"contract_id"`
	ShardID    ID     `json:"shard_id"`
	Customer   PubKey `json:"customer"`
	Supplier   PubKey `json:"supplier"`
	Size       uint64 `json:"size"`
	LeafSize   uint32 `json:"leaf_size"`
	Root       ID     `json:"root"`
	Sig        Sig    `json:"sig"` // the supplier's, over CommitmentBytes
}

func (c *StorageCommitment) encodeFields(e *encoder) {
	e.raw(c.ContractID[:])
	e.raw(c.ShardID[:])
	e.raw(c.Customer[:])
	e.raw(c.Supplier[:])
	e.u64(c.Size)
	e.u32(c.LeafSize)
	e.raw(c.Root[:])
}

func (c *StorageCommitment) decodeFields(d *decoder) {
	d.fixed(c.ContractID[:])
	d.fixed(c.ShardID[:])
	d.fixed(c.Customer[:])
	d.fixed(c.Supplier[:])
	c.Size = d.u64()
	c.LeafSize = d.u32()
	d.fixed(c.Root[:])
}

// CommitmentBytes are the bytes the supplier signs.
func CommitmentBytes(chainID string, c *StorageCommitment) []byte {
	e := &encoder{buf: []byte(domainCommitment)}
	e.str(chainID)
	c.encodeFields(e)
	return e.buf
}

// Digest names the commitment: SHA-256 of the bytes the supplier signs.
func (c *StorageCommitment) Digest(chainID string) ID {
	return sha256.Sum256(CommitmentBytes(chainID, c))
}

// SignCommitment fills in the supplier's signature.
func SignCommitment(priv ed25519.PrivateKey, chainID string, c *StorageCommitment) {
	copy(c.Sig[:], ed25519.Sign(priv, CommitmentBytes(chainID, c)))
}

// VerifyCommitment reports whether the commitment is signed by its supplier.
func VerifyCommitment(chainID string, c *StorageCommitment) bool {
	return verify(c.Supplier, CommitmentBytes(chainID, c), c.Sig)
}

// Check refuses a commitment a shard cannot have (leaf size, size) or with a zero party.
func (c *StorageCommitment) Check() error {
	if err := shard.CheckShape(c.Size, c.LeafSize); err != nil {
		return err
	}
	if c.Customer.IsZero() || c.Supplier.IsZero() || c.Customer == c.Supplier {
		return errors.New("commitment parties must be two distinct non-zero keys")
	}
	return nil
}

// AuditChallenge is what a customer asks: Count leaves of the committed shard, picked by Nonce,
// as audit Number of the contract (the audit result records the same number, R-AUD-2, so one
// answer is one audit).
type AuditChallenge struct {
	Commitment ID     `json:"commitment"` // StorageCommitment.Digest
	Number     uint64 `json:"number"`
	Nonce      ID     `json:"nonce"`
	Count      uint8  `json:"count"`
}

func (ch AuditChallenge) encode(e *encoder) {
	e.raw(ch.Commitment[:])
	e.u64(ch.Number)
	e.raw(ch.Nonce[:])
	e.u8(ch.Count)
}

// Digest is the challenge digest an audit result of this challenge records (R-AUDIT-2).
func (ch AuditChallenge) Digest() ID {
	e := &encoder{buf: []byte(domainChallenge)}
	ch.encode(e)
	return sha256.Sum256(e.buf)
}

// Indices are the leaves the challenge picks in a shard of that many leaves (shard.Indices).
func (ch AuditChallenge) Indices(leaves uint64) []uint64 {
	return shard.Indices(ch.Commitment, ch.Nonce, int(ch.Count), leaves)
}

// LeafProof is one challenged leaf: its index, bytes and inclusion path.
type LeafProof struct {
	Index uint64 `json:"index"`
	Leaf  []byte `json:"leaf"`
	Path  []ID   `json:"path"`
}

func (p *LeafProof) encode(e *encoder) {
	e.u64(p.Index)
	e.bytes(p.Leaf)
	e.u8(uint8(len(p.Path)))
	for _, h := range p.Path {
		e.raw(h[:])
	}
}

func (p *LeafProof) decode(d *decoder) {
	p.Index = d.u64()
	p.Leaf = d.bytes("leaf", shard.MaxLeafSize)
	n := int(d.u8())
	if n > shard.MaxPath {
		d.fail(fmt.Errorf("leaf path of %d hashes, more than %d", n, shard.MaxPath))
		return
	}
	p.Path = make([]ID, n)
	for i := range p.Path {
		d.fixed(p.Path[i][:])
	}
}

// Digest is what the supplier's answer signature covers for this leaf.
func (p *LeafProof) Digest() ID {
	e := &encoder{buf: []byte(domainLeafProof)}
	p.encode(e)
	return sha256.Sum256(e.buf)
}

// Verify checks the leaf against the commitment's root.
func (p *LeafProof) Verify(c *StorageCommitment) error {
	path := make([][]byte, len(p.Path))
	for i := range p.Path {
		path[i] = p.Path[i][:]
	}
	return shard.Verify(c.Root[:], c.Size, c.LeafSize, p.Index, p.Leaf, path)
}

// AuditAnswer is the supplier's signed answer to a challenge: one proof for each leaf it picks.
type AuditAnswer struct {
	Challenge AuditChallenge `json:"challenge"`
	Proofs    []LeafProof    `json:"proofs"`
	Sig       Sig            `json:"sig"` // the supplier's, over AnswerBytes
}

// AnswerBytes are the bytes the supplier signs: the chain, the challenge and each leaf proof's
// digest, so that one leaf can later be shown with the signature without the others.
func AnswerBytes(chainID string, ch AuditChallenge, leafDigests []ID) []byte {
	e := &encoder{buf: []byte(domainAnswer)}
	e.str(chainID)
	ch.encode(e)
	for _, h := range leafDigests {
		e.raw(h[:])
	}
	return e.buf
}

// LeafDigests are the digests of the answer's leaf proofs, in order.
func (a *AuditAnswer) LeafDigests() []ID {
	out := make([]ID, len(a.Proofs))
	for i := range a.Proofs {
		out[i] = a.Proofs[i].Digest()
	}
	return out
}

// SignAnswer fills in the supplier's signature.
func SignAnswer(priv ed25519.PrivateKey, chainID string, a *AuditAnswer) {
	copy(a.Sig[:], ed25519.Sign(priv, AnswerBytes(chainID, a.Challenge, a.LeafDigests())))
}

// Check is the customer's check of an answer to its challenge against the commitment: it
// returns the position of the first leaf that does not verify (-1: every leaf verifies), or an
// error when the answer is not the supplier's answer to this challenge at all (then it proves
// nothing: the audit failed, as the customer's claim).
func (a *AuditAnswer) Check(chainID string, c *StorageCommitment, ch AuditChallenge) (int, error) {
	if a.Challenge != ch {
		return 0, errors.New("the answer is to another challenge")
	}
	if ch.Commitment != c.Digest(chainID) {
		return 0, errors.New("the challenge names another commitment")
	}
	if len(a.Proofs) != int(ch.Count) {
		return 0, fmt.Errorf("the answer has %d leaves, the challenge asks %d", len(a.Proofs), ch.Count)
	}
	if !verify(c.Supplier, AnswerBytes(chainID, ch, a.LeafDigests()), a.Sig) {
		return 0, fmt.Errorf("the answer is not signed by the supplier %s", c.Supplier)
	}
	for j, i := range ch.Indices(shard.LeafCount(c.Size, c.LeafSize)) {
		if a.Proofs[j].Index != i {
			return 0, fmt.Errorf("answer leaf %d is leaf %d, the challenge picks %d", j, a.Proofs[j].Index, i)
		}
	}
	for j := range a.Proofs {
		if a.Proofs[j].Verify(c) != nil {
			return j, nil
		}
	}
	return -1, nil
}

// AuditEvidence proves a failed audit (R-AUDIT-3): the supplier's signed commitment, its signed
// answer to the audit's challenge (as the leaf digests it signed), and the answer's leaf Failing,
// which does not verify against the commitment's root.
type AuditEvidence struct {
	Commitment  StorageCommitment `json:"commitment"`
	Nonce       ID                `json:"nonce"`
	LeafDigests []ID              `json:"leaf_digests"`
	AnswerSig   Sig               `json:"answer_sig"`
	Failing     uint8             `json:"failing"`
	Proof       LeafProof         `json:"proof"`
}

// errOldEvidence refuses evidence of format 1, in binary or JSON (R-AUDIT-5).
var errOldEvidence = reject(CodeBadEvidence, "audit evidence of format 1 (an answer digest and an expected digest) is the customer's word, "+
	"not proof, and is no longer accepted: attach the supplier's signed storage commitment and its signed answer "+
	"(format 2, specs/events.md R-AUDIT-3), or report the failure without evidence")

// UnmarshalJSON reads evidence as MarshalJSON writes it, refusing unknown fields, and the old
// form (answer_digest, expected_digest) with the reason it is no longer proof.
func (ev *AuditEvidence) UnmarshalJSON(b []byte) error {
	var old struct {
		AnswerDigest   *json.RawMessage `json:"answer_digest"`
		ExpectedDigest *json.RawMessage `json:"expected_digest"`
	}
	if json.Unmarshal(b, &old) == nil && (old.AnswerDigest != nil || old.ExpectedDigest != nil) {
		return errOldEvidence
	}
	type plain AuditEvidence
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(ev))
}

// NewAuditEvidence packs a checked answer's failing leaf j as evidence.
func NewAuditEvidence(c *StorageCommitment, a *AuditAnswer, j int) *AuditEvidence {
	return &AuditEvidence{Commitment: *c, Nonce: a.Challenge.Nonce, LeafDigests: a.LeafDigests(), AnswerSig: a.Sig,
		Failing: uint8(j), Proof: a.Proofs[j]}
}

// Challenge is the challenge the evidence answers, as audit number of its contract.
func (ev *AuditEvidence) Challenge(chainID string, number uint64) AuditChallenge {
	return AuditChallenge{Commitment: ev.Commitment.Digest(chainID), Number: number, Nonce: ev.Nonce, Count: uint8(len(ev.LeafDigests))}
}

func (ev *AuditEvidence) encode(e *encoder) {
	ev.Commitment.encodeFields(e)
	e.raw(ev.Commitment.Sig[:])
	e.raw(ev.Nonce[:])
	e.u8(uint8(len(ev.LeafDigests)))
	for _, h := range ev.LeafDigests {
		e.raw(h[:])
	}
	e.raw(ev.AnswerSig[:])
	e.u8(ev.Failing)
	ev.Proof.encode(e)
}

func (ev *AuditEvidence) decode(d *decoder) {
	ev.Commitment.decodeFields(d)
	d.fixed(ev.Commitment.Sig[:])
	d.fixed(ev.Nonce[:])
	n := int(d.u8())
	if d.err == nil && (n == 0 || n > MaxChallengeLeaves) {
		d.fail(fmt.Errorf("audit evidence names %d leaf digests, want 1 to %d", n, MaxChallengeLeaves))
		return
	}
	ev.LeafDigests = make([]ID, n)
	for i := range ev.LeafDigests {
		d.fixed(ev.LeafDigests[i][:])
	}
	d.fixed(ev.AnswerSig[:])
	ev.Failing = d.u8()
	ev.Proof.decode(d)
}

// validate checks what needs no signature and no chain: the evidence is about this audit's
// contract and parties, and its shape holds together.
func (ev *AuditEvidence) validate(a *AuditResult) error {
	c := &ev.Commitment
	if c.ContractID != a.ContractID || c.Customer != a.Customer || c.Supplier != a.Supplier {
		return errors.New("the commitment is for another contract or other parties than the audit's")
	}
	if err := c.Check(); err != nil {
		return fmt.Errorf("commitment: %w", err)
	}
	if n := len(ev.LeafDigests); n == 0 || n > MaxChallengeLeaves {
		return fmt.Errorf("%d leaf digests, want 1 to %d", n, MaxChallengeLeaves)
	}
	if int(ev.Failing) >= len(ev.LeafDigests) {
		return fmt.Errorf("failing leaf %d of an answer of %d", ev.Failing, len(ev.LeafDigests))
	}
	return nil
}

// CheckAuditEvidence verifies a failed audit's evidence (R-AUDIT-3): both signatures are the
// supplier's, the evidence answers the audit's challenge, the leaf shown is the one the supplier
// signed at that place and the one the challenge picks there, and it does not verify against the
// committed root. Anything else is refused: a valid leaf proves no failure.
func CheckAuditEvidence(chainID string, a *AuditResult) error {
	ev := a.Evidence
	c := &ev.Commitment
	if !VerifyCommitment(chainID, c) {
		return fmt.Errorf("the storage commitment is not signed by the supplier %s", c.Supplier)
	}
	ch := ev.Challenge(chainID, a.Number)
	if ch.Digest() != a.ChallengeDigest {
		return errors.New("the evidence answers another challenge than the audit's (its challenge_digest and number)")
	}
	if !verify(c.Supplier, AnswerBytes(chainID, ch, ev.LeafDigests), ev.AnswerSig) {
		return fmt.Errorf("the answer is not signed by the supplier %s", c.Supplier)
	}
	if ev.Proof.Digest() != ev.LeafDigests[ev.Failing] {
		return fmt.Errorf("leaf %d shown is not the one the supplier signed at that place", ev.Failing)
	}
	if want := ch.Indices(shard.LeafCount(c.Size, c.LeafSize))[ev.Failing]; ev.Proof.Index != want {
		return fmt.Errorf("leaf index %d is not the one the challenge picks at place %d (%d)", ev.Proof.Index, ev.Failing, want)
	}
	err := ev.Proof.Verify(c)
	if err == nil {
		return errors.New("the supplier's leaf verifies against its commitment: it proves no failure")
	}
	if !errors.Is(err, shard.ErrMismatch) {
		return err
	}
	return nil
}
