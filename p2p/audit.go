package p2p

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/ledger/shard"
	"github.com/trustledger/trustledger/node/journal"
)

// ProtocolAudit carries audit challenges and the supplier's signed answers (P-7, specs/audit.md).
const ProtocolAudit = protocol.ID("/trustledger/audit/1.0.0")

// AuditRequest is a customer's challenge to a commitment the supplier signed.
type AuditRequest struct {
	Challenge ledger.AuditChallenge `json:"challenge"`
}

// serveAudit answers a challenge: the challenged leaves read from disk with their inclusion
// paths, signed after the journal has recorded the answer (R-AUDIT-2, R-EVID-3). The leaves are
// read, not remembered: a shard that changed on disk gives an answer that proves it.
func (s *Supplier) serveAudit(_ context.Context, from ledger.PubKey, st network.Stream) Reply {
	var req AuditRequest
	if err := readMsg(st, &req); err != nil {
		return refuse(CodeBadRequest, "audit request: %v", err)
	}
	ch := req.Challenge
	if ch.Count == 0 || ch.Count > ledger.MaxChallengeLeaves {
		return refuse(CodeBadRequest, "a challenge asks 1 to %d leaves, not %d", ledger.MaxChallengeLeaves, ch.Count)
	}
	s.mu.Lock()
	h, ok := s.shards[ch.Commitment]
	s.mu.Unlock()
	if !ok || h.commitment.Customer != from {
		return refuse(CodeNoShard, "no commitment %s to %s here", ch.Commitment, from)
	}
	f, err := os.Open(h.path)
	if err != nil {
		return refuse(CodeFailed, "shard file: %v", err)
	}
	defer f.Close()
	tree := h.tree
	if tree == nil { // after a restart: rebuilt from the file, which is what is answered from anyway
		if tree, err = shard.Build(bufio.NewReaderSize(f, 1<<20), h.commitment.Size, h.commitment.LeafSize); err != nil {
			return refuse(CodeFailed, "rebuilding the shard's tree: %v", err)
		}
		s.mu.Lock()
		h.tree = tree
		s.mu.Unlock()
	}
	ans := ledger.AuditAnswer{Challenge: ch}
	for _, i := range ch.Indices(tree.Leaves()) {
		leaf, path, err := tree.Prove(f, i)
		if err != nil {
			return refuse(CodeFailed, "reading leaf %d: %v", i, err)
		}
		p := ledger.LeafProof{Index: i, Leaf: leaf, Path: make([]ledger.ID, len(path))}
		for k := range path {
			copy(p.Path[k][:], path[k])
		}
		ans.Proofs = append(ans.Proofs, p)
	}
	if err := s.cfg.Journal.Record(s.key, journal.Answer(s.cfg.ChainID, &ans)); err != nil {
		return refuse(CodeFailed, "journal: %v", err)
	}
	ledger.SignAnswer(s.priv, s.cfg.ChainID, &ans)
	return accept(ans)
}

// Audit challenges the supplier at to on commitment c and returns its signed answer with the
// position of the first leaf that fails c's root (-1: the audit passed). An error means there
// is no answer to judge (unreachable, refused, or not the supplier's answer to this challenge):
// the customer records that audit as failed on its own word, with no evidence.
func (h *Host) Audit(ctx context.Context, to peer.ID, chainID string, c ledger.StorageCommitment, ch ledger.AuditChallenge) (ledger.AuditAnswer, int, error) {
	var ans ledger.AuditAnswer
	if ch.Commitment != c.Digest(chainID) {
		return ans, 0, fmt.Errorf("audit: the challenge names commitment %s, not %s", ch.Commitment, c.Digest(chainID))
	}
	if err := h.exchange(ctx, to, ProtocolAudit, AuditRequest{Challenge: ch}, nil, &ans, MaxAnswer, h.cfg.RequestTimeout); err != nil {
		return ans, 0, err
	}
	failing, err := ans.Check(chainID, &c, ch)
	if err != nil {
		return ans, 0, fmt.Errorf("audit %d of %s: %w", ch.Number, to, err)
	}
	return ans, failing, nil
}
