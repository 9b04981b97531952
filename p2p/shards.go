package p2p

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/ledger/shard"
	"github.com/trustledger/trustledger/node/atomicfile"
	"github.com/trustledger/trustledger/node/journal"
)

// ProtocolShard moves shards (P-6): put, get, delete and list, one operation per stream.
const ProtocolShard = protocol.ID("/trustledger/shard/1.0.0")

// Shard operations.
const (
	OpPut    = "put"
	OpGet    = "get"
	OpDelete = "delete"
	OpList   = "list"
)

// ShardRequest is the header of a shard operation. A put is followed on the stream by exactly
// Size bytes of the shard.
type ShardRequest struct {
	Op         string    `json:"op"`
	ContractID ledger.ID `json:"contract_id"`
	ShardID    ledger.ID `json:"shard_id,omitempty"`
	Size       uint64    `json:"size,omitempty"`      // put
	LeafSize   uint32    `json:"leaf_size,omitempty"` // put
	Root       ledger.ID `json:"root,omitempty"`      // put: the tree hash the customer computed
}

// ShardInfo is one shard a supplier holds, with the commitment it signed for it.
type ShardInfo struct {
	ShardID    ledger.ID                `json:"shard_id"`
	Size       uint64                   `json:"size"`
	Commitment ledger.StorageCommitment `json:"commitment"`
}

// ErrShardMismatch: a shard read back does not hash to its commitment's root.
var ErrShardMismatch = errors.New("shard does not match its commitment")

// heldShard is a shard on the supplier's disk and what answers its audits.
type heldShard struct {
	commitment ledger.StorageCommitment
	path       string
	tree       *shard.Tree // nil until first needed after a restart
	// since is when storage receipts start counting it (unix seconds): the second after the
	// put completed, so the supplier never claims a moment its customer did not see it hold.
	since int64
}

func (s *Supplier) shardPath(contract, id ledger.ID) string {
	return filepath.Join(s.cfg.Dir, contract.String(), id.String())
}

// serveShard answers one shard operation of from.
func (s *Supplier) serveShard(_ context.Context, from ledger.PubKey, st network.Stream) Reply {
	var req ShardRequest
	if err := readMsg(st, &req); err != nil {
		return refuse(CodeBadRequest, "shard request: %v", err)
	}
	s.mu.Lock()
	ag, ok := s.contracts[req.ContractID]
	var hostCfg Config
	if s.h != nil {
		hostCfg = s.h.cfg
	}
	s.mu.Unlock()
	if hostCfg.MinTransferRate == 0 {
		hostCfg = Config{}.withDefaults()
	}
	if !ok || ag.open.Customer != from {
		return refuse(CodeNoContract, "no contract %s agreed with %s", req.ContractID, from)
	}
	switch req.Op {
	case OpPut:
		_ = st.SetDeadline(time.Now().Add(hostCfg.transferTimeout(req.Size)))
		return s.put(ag, req, st)
	case OpGet:
		return s.get(ag, req, st, hostCfg)
	case OpDelete:
		return s.delete(ag, req)
	case OpList:
		return s.list(ag)
	}
	return refuse(CodeBadRequest, "unknown shard operation %q (put, get, delete, list)", req.Op)
}

// held finds the shard id of contract ag; call with mu held.
func (s *Supplier) held(ag *agreement, id ledger.ID) (ledger.ID, *heldShard) {
	for d, h := range s.shards {
		if h.commitment.ContractID == ag.open.ContractID && h.commitment.ShardID == id {
			return d, h
		}
	}
	return ledger.ID{}, nil
}

// put receives a shard: within the contract's bytes, hashed while it is written, kept only if
// it hashes to the root the customer announced, and then committed to with a journaled
// signature (R-AUDIT-1, R-EVID-3).
func (s *Supplier) put(ag *agreement, req ShardRequest, st network.Stream) Reply {
	if err := shard.CheckShape(req.Size, req.LeafSize); err != nil {
		return refuse(CodeBadRequest, "shard %s: %v", req.ShardID, err)
	}
	if req.ShardID.IsZero() {
		return refuse(CodeBadRequest, "shard id is zero")
	}
	s.mu.Lock()
	if ag.quitting {
		s.mu.Unlock()
		return refuse(CodeNoContract, "the supplier is quitting contract %s: it takes no more shards", req.ContractID)
	}
	if _, h := s.held(ag, req.ShardID); h != nil {
		s.mu.Unlock()
		return refuse(CodeDuplicate, "shard %s of contract %s is held already; delete it first", req.ShardID, req.ContractID)
	}
	if free := ag.open.Bytes - min(ag.open.Bytes, ag.used); req.Size > free {
		s.mu.Unlock()
		return refuse(CodeNoSpace, "%d bytes asked, %d left of contract %s's %d", req.Size, free, req.ContractID, ag.open.Bytes)
	}
	ag.used += req.Size // reserved now, released if the put fails
	s.mu.Unlock()
	kept := false
	defer func() {
		if !kept {
			s.mu.Lock()
			ag.used -= req.Size
			s.mu.Unlock()
		}
	}()
	path := s.shardPath(req.ContractID, req.ShardID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return refuse(CodeFailed, "shard directory: %v", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+req.ShardID.String()+".*")
	if err != nil {
		return refuse(CodeFailed, "shard file: %v", err)
	}
	defer func() {
		tmp.Close()
		if !kept {
			os.Remove(tmp.Name())
		}
	}()
	// Buffered both ways: the tree reads a leaf (1 KiB) at a time, and a write call a leaf would
	// cost more than the hashing. The file is written around the page cache where it can be
	// (shardfile.go).
	out := newShardWriter(tmp)
	defer out.Release()
	var in io.Reader = io.LimitReader(st, int64(req.Size))
	if s.cfg.ReceiveRate > 0 {
		in = &throttled{r: in, rate: s.cfg.ReceiveRate, start: time.Now()}
	}
	br := pooledReader(in)
	tree, err := shard.Build(io.TeeReader(br, out), req.Size, req.LeafSize)
	releaseReader(br)
	if err != nil {
		return refuse(CodeBadRequest, "receiving shard %s: %v", req.ShardID, err)
	}
	if err := out.Flush(); err != nil {
		return refuse(CodeFailed, "shard file: %v", err)
	}
	var root ledger.ID
	copy(root[:], tree.Root())
	if root != req.Root {
		return refuse(CodeMismatch, "the %d bytes received hash to %s, the request announced %s", req.Size, root, req.Root)
	}
	if err := tmp.Sync(); err != nil {
		return refuse(CodeFailed, "shard file: %v", err)
	}
	c := ledger.StorageCommitment{ContractID: req.ContractID, ShardID: req.ShardID, Customer: ag.open.Customer,
		Supplier: s.key, Size: req.Size, LeafSize: req.LeafSize, Root: root}
	if err := s.cfg.Journal.Record(s.key, journal.Commitment(s.cfg.ChainID, &c)); err != nil {
		return refuse(CodeFailed, "journal: %v", err)
	}
	ledger.SignCommitment(s.priv, s.cfg.ChainID, &c)
	cb, err := json.Marshal(c)
	if err != nil {
		return refuse(CodeFailed, "commitment: %v", err)
	}
	if err := atomicfile.Write(path+".commitment", cb, 0o600); err != nil {
		return refuse(CodeFailed, "commitment file: %v", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return refuse(CodeFailed, "shard file: %v", err)
	}
	s.mu.Lock()
	s.shards[c.Digest(s.cfg.ChainID)] = &heldShard{commitment: c, path: path, tree: tree, since: s.now().Unix() + 1}
	s.mu.Unlock()
	kept = true
	return accept(c)
}

// get sends a shard: an OK reply with its info, then its bytes.
func (s *Supplier) get(ag *agreement, req ShardRequest, st network.Stream, hostCfg Config) Reply {
	s.mu.Lock()
	_, h := s.held(ag, req.ShardID)
	owes, unreceipted := ag.owes(), ag.served-ag.receipted
	s.mu.Unlock()
	if owes {
		return refuse(CodeReceiptDue, "%d bytes served under contract %s are not covered by a bandwidth receipt: countersign one first", unreceipted, req.ContractID)
	}
	if h == nil {
		return refuse(CodeNoShard, "no shard %s of contract %s here", req.ShardID, req.ContractID)
	}
	f, err := os.Open(h.path)
	if err != nil {
		return refuse(CodeFailed, "shard file: %v", err)
	}
	defer f.Close()
	_ = st.SetDeadline(time.Now().Add(hostCfg.transferTimeout(h.commitment.Size)))
	done := Reply{answered: true}
	if err := writeMsg(st, accept(ShardInfo{ShardID: req.ShardID, Size: h.commitment.Size, Commitment: h.commitment})); err != nil {
		st.Reset()
		return done
	}
	if err := copyShard(st, f, int64(h.commitment.Size)); err != nil {
		st.Reset()
		return done
	}
	// The customer says whether the bytes matched the commitment: only then do they count as
	// served, for bandwidth receipts (P-8). A cancelled or failed read says nothing.
	var ack GetAck
	if err := readMsgMax(st, 64, &ack); err == nil && ack.Verified {
		s.noteServed(ag.open.ContractID, h.commitment.Size)
	}
	return done
}

// GetAck is the customer's word, after a shard's bytes, that they matched its commitment (P-6).
type GetAck struct {
	Verified bool `json:"verified"`
}

func (s *Supplier) delete(ag *agreement, req ShardRequest) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, h := s.held(ag, req.ShardID)
	if h == nil {
		return refuse(CodeNoShard, "no shard %s of contract %s here", req.ShardID, req.ContractID)
	}
	if err := os.Remove(h.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return refuse(CodeFailed, "removing shard: %v", err)
	}
	_ = os.Remove(h.path + ".commitment")
	delete(s.shards, d)
	ag.used -= h.commitment.Size
	return accept(struct{}{})
}

func (s *Supplier) list(ag *agreement) Reply {
	s.mu.Lock()
	var out []ShardInfo
	for _, h := range s.shards {
		if h.commitment.ContractID == ag.open.ContractID {
			out = append(out, ShardInfo{ShardID: h.commitment.ShardID, Size: h.commitment.Size, Commitment: h.commitment})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return bytes.Compare(out[a].ShardID[:], out[b].ShardID[:]) < 0 })
	return accept(out)
}

// PutShard stores size bytes of data (read twice: once to hash, once to send) as shard id of
// the contract on the supplier at to, and returns the supplier's signed commitment, checked
// against what was sent. The customer keeps the commitment: it is what audits and any
// evidence rest on.
func (h *Host) PutShard(ctx context.Context, to peer.ID, chainID string, contract, id ledger.ID, data io.ReaderAt, size uint64, leafSize uint32) (ledger.StorageCommitment, error) {
	root, err := shardRoot(data, size, leafSize)
	if err != nil {
		return ledger.StorageCommitment{}, err
	}
	return h.PutShardWithRoot(ctx, to, chainID, contract, id, data, size, leafSize, root)
}

// shardRoot is the root of the commitment tree of size bytes of data in leaves of leafSize.
func shardRoot(data io.ReaderAt, size uint64, leafSize uint32) (ledger.ID, error) {
	return shard.Root(io.NewSectionReader(data, 0, int64(size)), size, leafSize)
}

// PutShardWithRoot is PutShard for a shard whose tree root the caller has computed already (a
// stripe's shards are named by theirs, P-9): the bytes are read once, to send. A wrong root is
// refused by the supplier (CodeMismatch).
func (h *Host) PutShardWithRoot(ctx context.Context, to peer.ID, chainID string, contract, id ledger.ID, data io.ReaderAt, size uint64, leafSize uint32, root ledger.ID) (ledger.StorageCommitment, error) {
	supplier, err := KeyOf(to)
	if err != nil {
		return ledger.StorageCommitment{}, err
	}
	var c ledger.StorageCommitment
	req := ShardRequest{Op: OpPut, ContractID: contract, ShardID: id, Size: size, LeafSize: leafSize, Root: root}
	err = h.exchange(ctx, to, ProtocolShard, req, func(s network.Stream) error {
		_, err := io.Copy(s, io.NewSectionReader(data, 0, int64(size)))
		return err
	}, &c, MaxMessage, h.cfg.transferTimeout(size))
	if err != nil {
		return c, err
	}
	want := ledger.StorageCommitment{ContractID: contract, ShardID: id, Customer: h.key, Supplier: supplier, Size: size, LeafSize: leafSize, Root: root, Sig: c.Sig}
	if c != want || !ledger.VerifyCommitment(chainID, &c) {
		return c, fmt.Errorf("shard %s: the supplier's commitment does not match what was sent or is not signed by it", id)
	}
	return c, nil
}

// GetShard reads the shard of commitment c from the supplier at to into w, and checks it
// against c's root as it goes: ErrShardMismatch when it does not match (w has the bytes by
// then; write to a temporary file and keep it only on success).
func (h *Host) GetShard(ctx context.Context, to peer.ID, c ledger.StorageCommitment, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.transferTimeout(c.Size))
	defer cancel()
	s, err := h.h.NewStream(ctx, to, ProtocolShard)
	if err != nil {
		return fmt.Errorf("get shard %s from %s: %w", c.ShardID, to, err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	defer context.AfterFunc(ctx, func() { _ = s.Reset() })() // cancelled: the transfer ends now
	if err := writeMsg(s, ShardRequest{Op: OpGet, ContractID: c.ContractID, ShardID: c.ShardID}); err != nil {
		s.Reset()
		return err
	}
	var info ShardInfo
	if err := readReply(s, &info, MaxMessage); err != nil {
		return fmt.Errorf("get shard %s from %s: %w", c.ShardID, to, err)
	}
	if info.Size != c.Size {
		s.Reset()
		return fmt.Errorf("get shard %s: the supplier has %d bytes, the commitment %d: %w", c.ShardID, info.Size, c.Size, ErrShardMismatch)
	}
	br := pooledReader(io.LimitReader(s, int64(c.Size)))
	root, err := shard.Root(io.TeeReader(br, w), c.Size, c.LeafSize)
	releaseReader(br)
	if err != nil {
		s.Reset()
		return fmt.Errorf("get shard %s from %s: %w", c.ShardID, to, err)
	}
	if root != c.Root {
		s.Reset()
		return fmt.Errorf("get shard %s from %s: %w", c.ShardID, to, ErrShardMismatch)
	}
	// Verified: the supplier counts the bytes as served (P-6, P-8).
	if err := writeMsg(s, GetAck{Verified: true}); err == nil {
		_ = s.CloseWrite()
	}
	return nil
}

// DeleteShard asks the supplier at to to delete a shard of a contract.
func (h *Host) DeleteShard(ctx context.Context, to peer.ID, contract, id ledger.ID) error {
	return h.request(ctx, to, ProtocolShard, ShardRequest{Op: OpDelete, ContractID: contract, ShardID: id}, nil)
}

// ListShards lists the shards the supplier at to holds under a contract, by shard id.
func (h *Host) ListShards(ctx context.Context, to peer.ID, contract ledger.ID) ([]ShardInfo, error) {
	var out []ShardInfo
	err := h.request(ctx, to, ProtocolShard, ShardRequest{Op: OpList, ContractID: contract}, &out)
	return out, err
}

// throttled reads r at most rate bytes a second, on average since start.
type throttled struct {
	r     io.Reader
	rate  int64
	start time.Time
	n     int64
}

func (t *throttled) Read(p []byte) (int, error) {
	if len(p) > 32<<10 {
		p = p[:32<<10] // small reads, so that the rate holds over short spans too
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	if due := time.Duration(float64(t.n) / float64(t.rate) * float64(time.Second)); due > time.Since(t.start) {
		time.Sleep(due - time.Since(t.start))
	}
	return n, err
}
