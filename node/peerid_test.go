package node_test

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
)

// TestPeerIDOf: the ledger's peer id of a key (R-REG-3) is go-libp2p's, for several keys.
func TestPeerIDOf(t *testing.T) {
	for _, name := range []string{"alice", "bob", "carol", "a key with a longer name"} {
		k := keystore.PubKey(nodetest.Key(name))
		pk, err := crypto.UnmarshalEd25519PublicKey(k[:])
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPublicKey(pk)
		if err != nil {
			t.Fatal(err)
		}
		if got := ledger.PeerIDOf(k); got != id.String() {
			t.Errorf("%s: PeerIDOf %s, go-libp2p %s", name, got, id)
		}
	}
}
