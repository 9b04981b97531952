package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
)

func testKey(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("node test " + name))
	return ed25519.NewKeyFromSeed(s[:])
}

// register makes a submitter for priv and registers its key.
func register(t *testing.T, c *client.Client, priv ed25519.PrivateKey) *client.Submitter {
	t.Helper()
	ctx := context.Background()
	p, err := c.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.NewSubmitter(client.SubmitterConfig{ChainID: p.ChainID, Key: priv, Endpoints: []*client.Client{c}, CommitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	k := keystore.PubKey(priv)
	if _, _, err := s.SubmitAndWait(ctx, &ledger.RegisterNode{PeerID: "p-" + k.String()[:8], Capacity: 1 << 30,
		PowNonce: ledger.SolvePoW(p.ChainID, k, int(p.Params.PowDifficulty))}); err != nil {
		t.Fatal(err)
	}
	return s
}

// openContract opens a contract from customer (who submits through s) to supplier, countersigned.
func openContract(t *testing.T, c *client.Client, s *client.Submitter, customer, supplier ed25519.PrivateKey) ledger.ID {
	t.Helper()
	ctx := context.Background()
	chain, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256([]byte("contract " + keystore.PubKey(customer).String() + keystore.PubKey(supplier).String()))
	open := &ledger.ContractOpen{ContractID: id, Customer: keystore.PubKey(customer), Supplier: keystore.PubKey(supplier),
		Bytes: 1 << 20, DurationSeconds: 86400, PricePerGiBMonth: 1}
	open.Countersig = ledger.Countersign(supplier, chain, open)
	if _, _, err := s.SubmitAndWait(ctx, open); err != nil {
		t.Fatal(err)
	}
	return id
}
