package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
	"github.com/trustledger/trustledger/p2p"
)

// TestSupplierService (specs/p2p.md; issue 13): a node with a [p2p] key and [supplier] space
// runs a libp2p host with its ledger identity and supplies space on it; a customer's host gets a
// contract countersigned, and the ledger accepts it; its shard survives a restart of the node's
// p2p service (the supplier's state is the node's, not the host's); stopping the supplier
// service stops the protocols and nothing else.
func TestSupplierService(t *testing.T) {
	bob, alice := nodetest.Key("bob"), nodetest.Key("alice")
	n := nodetest.New(t, nodetest.Options{P2PKey: bob, App: func(c *node.AppConfig) {
		c.Supplier.Space, c.Supplier.PricePerGiBMonth = "8MiB", 1
	}})
	if !n.Services().Running(node.ServiceP2P) || !n.Services().Running(node.ServiceSupplier) {
		t.Fatalf("services: %+v", n.Services().Statuses())
	}
	h := n.P2P()
	if h == nil || h.ID().String() != ledger.PeerIDOf(keystore.PubKey(bob)) {
		t.Fatalf("the node's host %v is not bob's peer id", h)
	}
	c := n.Client()
	ctx := context.Background()
	sa := nodetest.Register(t, c, alice)
	nodetest.Register(t, c, bob)
	chainID := chainOf(t, c)
	customer := hostFor(t, c, alice, h)
	open := ledger.ContractOpen{ContractID: sha256.Sum256([]byte("node supplier")), Customer: keystore.PubKey(alice),
		Supplier: keystore.PubKey(bob), Bytes: 4 << 20, DurationSeconds: 86400, PricePerGiBMonth: 1}
	_, err := customer.OfferContract(ctx, h.ID(), chainID, ledger.ContractOpen{ContractID: ledger.ID{1}, Customer: open.Customer,
		Supplier: open.Supplier, Bytes: 9 << 20, DurationSeconds: 86400, PricePerGiBMonth: 1})
	var refused *p2p.RefusedError
	if !errors.As(err, &refused) || refused.Code != p2p.CodeNoSpace {
		t.Fatalf("9 MiB of a supplier offering 8: %v", err)
	}
	if open, err = customer.OfferContract(ctx, h.ID(), chainID, open); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sa.SubmitAndWait(ctx, &open); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("trustledger "), 10_000)
	commitment, err := customer.PutShard(ctx, h.ID(), chainID, open.ContractID, ledger.ID{7}, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}

	// The p2p service restarts (the supplier with it, by cascade): a new host, the same identity,
	// the same contracts and shards.
	if _, err := n.Services().Restart(ctx, node.ServiceP2P, true); err != nil {
		t.Fatal(err)
	}
	h2 := n.P2P()
	if h2 == nil || h2 == h || h2.ID() != h.ID() || !n.Services().Running(node.ServiceSupplier) {
		t.Fatalf("after the restart: host %v (was %v), supplier running %v", h2, h, n.Services().Running(node.ServiceSupplier))
	}
	if err := customer.Connect(ctx, h2.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if err := customer.GetShard(ctx, h2.ID(), commitment, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("the shard after the restart: %v", err)
	}

	// Stopping the supplier stops its protocols; the host and consensus keep running.
	if _, err := n.Services().Stop(node.ServiceSupplier, false); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := customer.ListShards(ctx2, h2.ID(), open.ContractID); err == nil || errors.Is(err, p2p.ErrRefused) {
		t.Fatalf("a supplier request after the supplier stopped: %v, want the protocol gone", err)
	}
	if !n.Services().Running(node.ServiceP2P) || !n.Services().Running(node.ServiceConsensus) {
		t.Fatalf("services after stopping the supplier: %+v", n.Services().Statuses())
	}
}

// TestP2PNeedsAKey: without an unlocked [p2p] key the p2p and supplier services stay off, and
// starting p2p says why.
func TestP2PNeedsAKey(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	if n.Services().Running(node.ServiceP2P) || n.Services().Running(node.ServiceSupplier) || n.P2P() != nil {
		t.Fatalf("p2p runs without a key: %+v", n.Services().Statuses())
	}
	if _, err := n.Services().Start(context.Background(), node.ServiceP2P, false); !errors.Is(err, node.ErrNoP2PKey) {
		t.Fatalf("starting p2p without a key: %v, want ErrNoP2PKey", err)
	}
}

// TestLedgerRegistry (specs/p2p.md P-2) against a real node: a peer whose key is not registered
// is refused before its request is read, and served once it has registered (a no is asked
// again).
func TestLedgerRegistry(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	c := n.Client()
	ctx := context.Background()
	bob, mallory := nodetest.Key("bob"), nodetest.Key("mallory")
	nodetest.Register(t, c, bob)
	chainID := chainOf(t, c)
	supplier := hostFor(t, c, bob, nil)
	if _, err := supplier.ServeSupplier(p2p.SupplierConfig{ChainID: chainID, Terms: p2p.Terms{Space: 1 << 20},
		Dir: t.TempDir(), Journal: journal.Open(t.TempDir())}); err != nil {
		t.Fatal(err)
	}
	stranger := hostFor(t, c, mallory, supplier)
	open := ledger.ContractOpen{ContractID: ledger.ID{5}, Customer: keystore.PubKey(mallory), Supplier: keystore.PubKey(bob),
		Bytes: 1 << 10, DurationSeconds: 86400}
	_, err := stranger.OfferContract(ctx, supplier.ID(), chainID, open)
	var r *p2p.RefusedError
	if !errors.As(err, &r) || r.Code != p2p.CodeUnregistered {
		t.Fatalf("an unregistered peer's offer: %v, want refused as unregistered", err)
	}
	nodetest.Register(t, c, mallory)
	if _, err := stranger.OfferContract(ctx, supplier.ID(), chainID, open); err != nil {
		t.Fatalf("after registering: %v", err)
	}
}

// TestSupplierAcrossNodeRestart: the supplier's contracts come back from the ledger and its
// shards from disk when the node restarts: the customer lists, reads and audits its shard, and
// the space the contract holds is still taken.
func TestSupplierAcrossNodeRestart(t *testing.T) {
	bob, alice := nodetest.Key("bob"), nodetest.Key("alice")
	opts := nodetest.Options{P2PKey: bob, App: func(c *node.AppConfig) { c.Supplier.Space = "6MiB" }}
	home := nodetest.Init(t, opts)
	n := nodetest.Start(t, home, opts)
	c := n.Client()
	ctx := context.Background()
	sa := nodetest.Register(t, c, alice)
	nodetest.Register(t, c, bob)
	chainID := chainOf(t, c)
	customer := hostFor(t, c, alice, n.P2P())
	bobID := n.P2P().ID()
	open, err := customer.OfferContract(ctx, bobID, chainID, ledger.ContractOpen{ContractID: ledger.ID{8}, Customer: keystore.PubKey(alice),
		Supplier: keystore.PubKey(bob), Bytes: 4 << 20, DurationSeconds: 86400})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sa.SubmitAndWait(ctx, &open); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("restart "), 40_000)
	commitment, err := customer.PutShard(ctx, bobID, chainID, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 512)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = nodetest.Start(t, home, opts)
	c = n.Client()
	customer2 := hostFor(t, c, alice, n.P2P())
	list, err := customer2.ListShards(ctx, bobID, open.ContractID)
	if err != nil || len(list) != 1 || list[0].Commitment != commitment {
		t.Fatalf("shards after the restart: %+v, %v", list, err)
	}
	var back bytes.Buffer
	if err := customer2.GetShard(ctx, bobID, commitment, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("get after the restart: %v", err)
	}
	ch := ledger.AuditChallenge{Commitment: commitment.Digest(chainID), Number: 1, Nonce: ledger.ID{3}, Count: 16}
	if _, failing, err := customer2.Audit(ctx, bobID, chainID, commitment, ch); err != nil || failing != -1 {
		t.Fatalf("audit after the restart: %d, %v", failing, err)
	}
	_, err = customer2.OfferContract(ctx, bobID, chainID, ledger.ContractOpen{ContractID: ledger.ID{9}, Customer: keystore.PubKey(alice),
		Supplier: keystore.PubKey(bob), Bytes: 3 << 20, DurationSeconds: 86400})
	var r *p2p.RefusedError
	if !errors.As(err, &r) || r.Code != p2p.CodeNoSpace {
		t.Fatalf("3 MiB more of 6 with 4 under contract, after the restart: %v, want no_space", err)
	}
}

// TestReceiptsReachTheLedger (specs/p2p.md P-8): the storage and bandwidth receipts a customer
// countersigns for its supplier are accepted by a real ledger as they are, and count in the
// relation between the two.
func TestReceiptsReachTheLedger(t *testing.T) {
	bob, alice := nodetest.Key("bob"), nodetest.Key("alice")
	n := nodetest.New(t, nodetest.Options{P2PKey: bob, App: func(c *node.AppConfig) { c.Supplier.Space = "1MiB" }})
	c := n.Client()
	ctx := context.Background()
	customer, sa, sb := receiptCustomer(t, n, alice, bob)
	chainID := chainOf(t, c)
	open := hire(t, customer, n, sa, ledger.ID{6}, alice, bob, 1<<20)
	data := bytes.Repeat([]byte("receipt "), 8_000)
	start := time.Now().Unix()
	cm, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if err := customer.Get(ctx, cm, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // a period of at least a second after the put
	end := time.Now().Unix()
	storage := &ledger.StorageReceipt{ContractID: open.ContractID, Number: 1, Customer: keystore.PubKey(alice), Supplier: keystore.PubKey(bob),
		PeriodStart: start + 1, PeriodEnd: end, ByteSeconds: uint64(len(data)) * uint64(end-start-1)}
	bandwidth := &ledger.BandwidthReceipt{ContractID: open.ContractID, Number: 1, Customer: keystore.PubKey(alice), Supplier: keystore.PubKey(bob),
		Bytes: uint64(len(data))}
	// The supplier's side: bob's own host asks alice.
	alicePeer, err := p2p.PeerID(keystore.PubKey(alice))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []ledger.Event{storage, bandwidth} {
		if err := n.P2P().RequestReceipt(ctx, alicePeer, chainID, ev); err != nil {
			t.Fatalf("%s: %v", ev.Kind(), err)
		}
		if _, _, err := sb.SubmitAndWait(ctx, ev); err != nil {
			t.Fatalf("the ledger refused the countersigned %s: %v", ev.Kind(), err)
		}
	}
	rel, err := c.Relation(ctx, keystore.PubKey(bob), keystore.PubKey(alice))
	if err != nil || rel.AbB == nil || rel.AbB.StorageReceipts != 1 || rel.AbB.BandwidthReceipts != 1 {
		t.Fatalf("relation after the receipts: %+v, %v", rel.AbB, err)
	}
}

// TestSupplierSubmitsStorageReceipts (P-8): the supplier service asks its customer for a storage
// receipt every receipt_period and submits those countersigned; the ledger counts them, for no
// more byte-seconds than the shard could have been held.
func TestSupplierSubmitsStorageReceipts(t *testing.T) {
	bob, alice := nodetest.Key("bob"), nodetest.Key("alice")
	n := nodetest.New(t, nodetest.Options{P2PKey: bob, App: func(c *node.AppConfig) {
		c.Supplier.Space, c.Supplier.ReceiptPeriod = "1MiB", "1s"
	}})
	c := n.Client()
	ctx := context.Background()
	customer, sa, _ := receiptCustomer(t, n, alice, bob)
	open := hire(t, customer, n, sa, ledger.ID{12}, alice, bob, 1<<20)
	data := bytes.Repeat([]byte("held "), 2_000)
	put := time.Now()
	if _, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 1024); err != nil {
		t.Fatal(err)
	}
	var agg *ledger.Aggregate
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		rel, err := c.Relation(ctx, keystore.PubKey(bob), keystore.PubKey(alice))
		if err == nil && rel.AbB != nil && rel.AbB.StorageReceipts >= 2 {
			agg = rel.AbB
			break
		}
	}
	if agg == nil {
		t.Fatal("no two storage receipts in the ledger within 20 s")
	}
	if most := uint64(len(data)) * uint64(time.Since(put).Seconds()+1); agg.ByteSeconds == 0 || agg.ByteSeconds > most {
		t.Fatalf("%d byte-seconds in %d receipts; held at most %d", agg.ByteSeconds, agg.StorageReceipts, most)
	}
}

// chainOf is the chain id of the node behind c.
func chainOf(t *testing.T, c *client.Client) string {
	t.Helper()
	chainID, err := c.ChainID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return chainID
}

// hostFor starts a libp2p host with key on loopback that admits the registered nodes of c's
// ledger, connected to peer when it is not nil; closed when the test ends.
func hostFor(t *testing.T, c *client.Client, key ed25519.PrivateKey, peer *p2p.Host) *p2p.Host {
	t.Helper()
	h, err := p2p.New(key, p2p.NewLedgerRegistry(c), p2p.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if peer != nil {
		if err := h.Connect(context.Background(), peer.AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// receiptCustomer registers alice and bob (the node n's [p2p] key) and returns alice's customer
// side, connected to n's host and answering receipt requests, with her submitter.
func receiptCustomer(t *testing.T, n *node.Node, alice, bob ed25519.PrivateKey) (*p2p.Customer, *client.Submitter, *client.Submitter) {
	t.Helper()
	c := n.Client()
	sa := nodetest.Register(t, c, alice)
	sb := nodetest.Register(t, c, bob)
	customer := p2p.NewCustomer(hostFor(t, c, alice, n.P2P()), chainOf(t, c), journal.Open(t.TempDir()))
	customer.ServeReceipts()
	return customer, sa, sb
}

// hire has customer offer a contract of size bytes to the node n's supplier and submits the
// countersigned contract_open through sa.
func hire(t *testing.T, customer *p2p.Customer, n *node.Node, sa *client.Submitter, id ledger.ID, alice, bob ed25519.PrivateKey, size uint64) ledger.ContractOpen {
	t.Helper()
	ctx := context.Background()
	open, err := customer.Offer(ctx, n.P2P().ID(), ledger.ContractOpen{ContractID: id, Customer: keystore.PubKey(alice),
		Supplier: keystore.PubKey(bob), Bytes: size, DurationSeconds: 86400})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sa.SubmitAndWait(ctx, &open); err != nil {
		t.Fatal(err)
	}
	return open
}
