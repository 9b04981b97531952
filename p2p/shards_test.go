package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
)

// shardData is n deterministic pseudo-random bytes.
func shardData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func refusedWith(t *testing.T, what string, err error, code string) {
	t.Helper()
	var r *RefusedError
	if !errors.As(err, &r) || r.Code != code || r.Reason == "" {
		t.Fatalf("%s: %v, want a refusal with code %s and a reason", what, err, code)
	}
}

// TestShardsAndAudits (P-6, P-7, specs/audit.md): a customer puts a shard under its contract and
// gets a signed commitment to exactly those bytes, reads it back byte for byte, and audits it;
// a supplier that changed the bytes answers with leaves that prove it (evidence the ledger
// accepts), never with a second, different answer to one challenge, and gives back bytes the
// customer refuses.
func TestShardsAndAudits(t *testing.T) {
	alice, bob, carol := testKey("alice"), testKey("bob"), testKey("carol")
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true, pub(bob): true, pub(carol): true}}
	supplierHost := newHost(t, bob, reg)
	supplier := serveSupplier(t, supplierHost, Terms{Space: 10 << 20})
	customer := newHost(t, alice, reg)
	connect(t, customer, supplierHost)
	ctx := context.Background()
	open, err := customer.OfferContract(ctx, supplierHost.ID(), chain, offer(alice, bob, "shards", 3<<20, 0, 86400))
	if err != nil {
		t.Fatal(err)
	}
	contract := open.ContractID
	data := shardData(1<<20+100, 1) // a last leaf of 100 bytes
	id := ledger.ID(sha256.Sum256([]byte("shard 1")))

	// A root that is not the bytes' is refused and takes no space; the right one is kept.
	_, err = customer.exchangePut(ctx, supplierHost, contract, id, data, ledger.ID{1})
	refusedWith(t, "put with another root", err, CodeMismatch)
	c, err := customer.PutShard(ctx, supplierHost.ID(), chain, contract, id, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if !ledger.VerifyCommitment(chain, &c) || c.Size != uint64(len(data)) || c.Supplier != pub(bob) || c.Customer != pub(alice) {
		t.Fatalf("commitment %+v", c)
	}
	_, err = customer.PutShard(ctx, supplierHost.ID(), chain, contract, id, bytes.NewReader(data), uint64(len(data)), 1024)
	refusedWith(t, "the same shard id again", err, CodeDuplicate)
	big := shardData(2<<20, 2) // 1 MiB + 100 of the contract's 3 MiB is used
	_, err = customer.PutShard(ctx, supplierHost.ID(), chain, contract, ledger.ID{2}, bytes.NewReader(big), uint64(len(big)), 1024)
	refusedWith(t, "beyond the contract's bytes", err, CodeNoSpace)
	stranger := newHost(t, carol, reg)
	connect(t, stranger, supplierHost)
	_, err = stranger.PutShard(ctx, supplierHost.ID(), chain, contract, ledger.ID{3}, bytes.NewReader(data[:4096]), 4096, 1024)
	refusedWith(t, "a put by someone else under alice's contract", err, CodeNoContract)

	list, err := customer.ListShards(ctx, supplierHost.ID(), contract)
	if err != nil || len(list) != 1 || list[0].ShardID != id || list[0].Commitment != c {
		t.Fatalf("list: %+v, %v", list, err)
	}
	var back bytes.Buffer
	if err := customer.GetShard(ctx, supplierHost.ID(), c, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("get: %v (%d bytes back, equal %v)", err, back.Len(), bytes.Equal(back.Bytes(), data))
	}

	challenge := func(n uint64) ledger.AuditChallenge {
		return ledger.AuditChallenge{Commitment: c.Digest(chain), Number: n, Nonce: sha256.Sum256([]byte{byte(n)}), Count: ledger.MaxChallengeLeaves}
	}
	if _, failing, err := customer.Audit(ctx, supplierHost.ID(), chain, c, challenge(1)); err != nil || failing != -1 {
		t.Fatalf("audit of an intact shard: failing leaf %d, %v", failing, err)
	}

	// The supplier's disk loses the shard's bytes (zeroed): its signed answer shows it, and the
	// evidence built from the answer is what the ledger takes as proof (R-AUDIT-3).
	path := filepath.Join(supplier.cfg.Dir, contract.String(), id.String())
	if err := os.WriteFile(path, make([]byte, len(data)), 0o600); err != nil {
		t.Fatal(err)
	}
	ans, failing, err := customer.Audit(ctx, supplierHost.ID(), chain, c, challenge(2))
	if err != nil || failing < 0 {
		t.Fatalf("audit of a zeroed shard: failing leaf %d, %v", failing, err)
	}
	result := &ledger.AuditResult{ContractID: contract, Number: 2, Customer: pub(alice), Supplier: pub(bob),
		ChallengeDigest: challenge(2).Digest(), Evidence: ledger.NewAuditEvidence(&c, &ans, failing)}
	if err := ledger.CheckAuditEvidence(chain, result); err != nil {
		t.Fatalf("the ledger would not take the answer as proof: %v", err)
	}
	err = customer.GetShard(ctx, supplierHost.ID(), c, &bytes.Buffer{})
	if !errors.Is(err, ErrShardMismatch) {
		t.Fatalf("get of a zeroed shard: %v, want ErrShardMismatch", err)
	}
	// The bytes come back, and the same challenge again would need a second, different answer:
	// the journal refuses to sign it.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = customer.Audit(ctx, supplierHost.ID(), chain, c, challenge(2))
	refusedWith(t, "a second answer to challenge 2", err, CodeFailed)
	if !strings.Contains(err.Error(), "refusing to sign a second") {
		t.Fatalf("refused, but not by the journal: %v", err)
	}
	if _, failing, err := customer.Audit(ctx, supplierHost.ID(), chain, c, challenge(3)); err != nil || failing != -1 {
		t.Fatalf("audit after the bytes came back: failing leaf %d, %v", failing, err)
	}

	// Delete: gone from the list and the disk, its space free again.
	if err := customer.DeleteShard(ctx, supplierHost.ID(), contract, id); err != nil {
		t.Fatal(err)
	}
	if list, err := customer.ListShards(ctx, supplierHost.ID(), contract); err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %+v, %v", list, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("shard file after delete: %v", err)
	}
	err = customer.GetShard(ctx, supplierHost.ID(), c, &bytes.Buffer{})
	refusedWith(t, "get after delete", err, CodeNoShard)
	if _, err := customer.PutShard(ctx, supplierHost.ID(), chain, contract, ledger.ID{2}, bytes.NewReader(big), uint64(len(big)), 1024); err != nil {
		t.Fatalf("2 MiB after the delete freed the contract's space: %v", err)
	}
}

// exchangePut sends a put announcing root for data, bypassing PutShard's own hashing.
func (h *Host) exchangePut(ctx context.Context, to *Host, contract, id ledger.ID, data []byte, root ledger.ID) (ledger.StorageCommitment, error) {
	var c ledger.StorageCommitment
	req := ShardRequest{Op: OpPut, ContractID: contract, ShardID: id, Size: uint64(len(data)), LeafSize: 1024, Root: root}
	err := h.exchange(ctx, to.ID(), ProtocolShard, req, func(s network.Stream) error {
		_, err := s.Write(data)
		return err
	}, &c, MaxMessage, h.cfg.RequestTimeout)
	return c, err
}

// TestSupplierOutlivesItsHost: a node's p2p service can restart under its supplier; contracts and
// shards stay, and the supplier serves only on hosts with its own key.
func TestSupplierOutlivesItsHost(t *testing.T) {
	alice, bob := testKey("alice"), testKey("bob")
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true, pub(bob): true}}
	first := newHost(t, bob, reg)
	supplier := serveSupplier(t, first, Terms{Space: 1 << 20})
	customer := newHost(t, alice, reg)
	connect(t, customer, first)
	ctx := context.Background()
	open, err := customer.OfferContract(ctx, first.ID(), chain, offer(alice, bob, "restart", 1<<20, 0, 86400))
	if err != nil {
		t.Fatal(err)
	}
	data := shardData(50_000, 3)
	c, err := customer.PutShard(ctx, first.ID(), chain, open.ContractID, ledger.ID{9}, bytes.NewReader(data), uint64(len(data)), 64)
	if err != nil {
		t.Fatal(err)
	}
	supplier.Stop()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := supplier.Serve(newHost(t, alice, reg)); err == nil {
		t.Fatal("the supplier served on a host with another key")
	}
	second := newHost(t, bob, reg)
	if err := supplier.Serve(second); err != nil {
		t.Fatal(err)
	}
	// Until the customer has seen the first host's connection close, a connect to the second
	// (the same peer id) finds the dead one and dials nothing.
	for i := 0; i < 500 && customer.h.Network().Connectedness(second.ID()) == network.Connected; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	connect(t, customer, second)
	if list, err := customer.ListShards(ctx, second.ID(), open.ContractID); err != nil || len(list) != 1 || list[0].Commitment != c {
		t.Fatalf("after the host restarted: %+v, %v", list, err)
	}
	ch := ledger.AuditChallenge{Commitment: c.Digest(chain), Number: 1, Nonce: ledger.ID{1}, Count: 8}
	if _, failing, err := customer.Audit(ctx, second.ID(), chain, c, ch); err != nil || failing != -1 {
		t.Fatalf("audit after the restart: %d, %v", failing, err)
	}
}

// TestRestoreTakesBackWhatItSigned (P-4): after a restart a supplier takes back the shards of its
// open contracts whose commitment it signed and whose bytes are all there; a put a crash
// interrupted, a truncated shard and the shards of contracts no longer open are removed.
func TestRestoreTakesBackWhatItSigned(t *testing.T) {
	alice, bob := testKey("alice"), testKey("bob")
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true, pub(bob): true}}
	dir := t.TempDir()
	cfg := SupplierConfig{ChainID: chain, Terms: Terms{Space: 4 << 20}, Dir: dir, Journal: journal.Open(t.TempDir())}
	first := newHost(t, bob, reg)
	supplier, err := first.ServeSupplier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	customer := newHost(t, alice, reg)
	connect(t, customer, first)
	ctx := context.Background()
	open, err := customer.OfferContract(ctx, first.ID(), chain, offer(alice, bob, "kept", 2<<20, 0, 86400))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := customer.OfferContract(ctx, first.ID(), chain, offer(alice, bob, "closed since", 1<<20, 0, 86400))
	if err != nil {
		t.Fatal(err)
	}
	put := func(contract ledger.ID, id byte, n int) ledger.StorageCommitment {
		data := shardData(n, uint64(id))
		c, err := customer.PutShard(ctx, first.ID(), chain, contract, ledger.ID{id}, bytes.NewReader(data), uint64(n), 256)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	kept := put(open.ContractID, 1, 100_000)
	truncated := put(open.ContractID, 2, 50_000)
	put(gone.ContractID, 3, 10_000)
	supplier.Stop()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	contractDir := filepath.Join(dir, open.ContractID.String())
	// A crash in the middle of a put, after the commitment file and before the rename; another
	// before anything but the temporary file; and a shard that lost its tail.
	if err := os.WriteFile(filepath.Join(contractDir, ledger.ID{4}.String()+".commitment"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(contractDir, "."+ledger.ID{5}.String()+".123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(contractDir, truncated.ShardID.String()), 1000); err != nil {
		t.Fatal(err)
	}

	again, err := NewSupplier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := again.Restore(pub(bob), []OpenContract{{Open: open}}) // "closed since" is no longer open
	if err != nil || n != 1 {
		t.Fatalf("restored %d shards, %v; want 1", n, err)
	}
	entries, _ := os.ReadDir(contractDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{kept.ShardID.String(), kept.ShardID.String() + ".commitment"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files after restore: %v, want %v", names, want)
	}
	if _, err := os.Stat(filepath.Join(dir, gone.ContractID.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the closed contract's shards are still there: %v", err)
	}
	if again.Committed() != 2<<20 {
		t.Fatalf("committed %d after restore, want the open contract's 2 MiB", again.Committed())
	}
	second := newHost(t, bob, reg)
	if err := again.Serve(second); err != nil {
		t.Fatal(err)
	}
	connect(t, customer, second)
	list, err := customer.ListShards(ctx, second.ID(), open.ContractID)
	if err != nil || len(list) != 1 || list[0].Commitment != kept {
		t.Fatalf("list after restore: %+v, %v", list, err)
	}
	ch := ledger.AuditChallenge{Commitment: kept.Digest(chain), Number: 1, Nonce: ledger.ID{7}, Count: 16}
	if _, failing, err := customer.Audit(ctx, second.ID(), chain, kept, ch); err != nil || failing != -1 {
		t.Fatalf("audit after restore: %d, %v", failing, err)
	}
	if _, err := again.Restore(pub(bob), nil); err == nil {
		t.Fatal("a second restore of a serving supplier succeeded")
	}
}

// TestSupplierQuits (P-4, issue 13's supplier side): a supplier quitting a contract takes no
// more shards under it but still serves those it holds until the ledger has the close; then
// Forget deletes them from disk and frees the space.
func TestSupplierQuits(t *testing.T) {
	_, supplier, _, customer, open, _ := receiptPair(t, "quit")
	ctx := context.Background()
	data := shardData(5000, 3)
	cm, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if list := supplier.Contracts(); len(list) != 1 || list[0].Shards != 1 || list[0].Used != 5000 {
		t.Fatalf("contracts: %+v", list)
	}
	closing, err := supplier.Quit(open.ContractID)
	if err != nil || closing.Reason != ledger.CloseQuit || closing.Supplier != open.Supplier || closing.Customer != open.Customer {
		t.Fatalf("quit: %+v, %v", closing, err)
	}
	_, err = customer.Put(ctx, open.ContractID, ledger.ID{2}, bytes.NewReader(data), uint64(len(data)), 1024)
	refusedWith(t, "a put while quitting", err, CodeNoContract)
	if err := customer.Get(ctx, cm, io.Discard); err != nil {
		t.Fatalf("a get while quitting: %v", err)
	}
	before := supplier.Committed()
	if err := supplier.Forget(open.ContractID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(supplier.cfg.Dir, open.ContractID.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the contract's shards are still on disk: %v", err)
	}
	if supplier.Committed() != before-open.Bytes || len(supplier.Contracts()) != 0 {
		t.Fatalf("after forget: committed %d (was %d), contracts %+v", supplier.Committed(), before, supplier.Contracts())
	}
	refusedWith(t, "a get after forget", customer.Get(ctx, cm, io.Discard), CodeNoContract)
	if _, err := supplier.Quit(open.ContractID); err == nil {
		t.Fatal("quit a contract forgotten")
	}
}
