package p2p

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trustledger/trustledger/ledger"
)

// ErrNotLedgerKey: a peer id that does not carry an ed25519 key, so it names no ledger node.
var ErrNotLedgerKey = errors.New("peer id does not carry an ed25519 ledger key")

// PeerID is the libp2p peer id of a ledger key (P-1); it equals ledger.PeerIDOf(k).
func PeerID(k ledger.PubKey) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(k[:])
	if err != nil {
		return "", fmt.Errorf("ledger key %s: %w", k, err)
	}
	return peer.IDFromPublicKey(pk)
}

// KeyOf is the ledger key a peer id carries (P-1). ed25519 peer ids inline their key, so no
// lookup is needed and the key is what the peer proved in the security handshake.
func KeyOf(id peer.ID) (ledger.PubKey, error) {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return ledger.PubKey{}, fmt.Errorf("%w: %s: %v", ErrNotLedgerKey, id, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return ledger.PubKey{}, fmt.Errorf("%w: %s carries a %s key", ErrNotLedgerKey, id, pk.Type())
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return ledger.PubKey{}, fmt.Errorf("%w: %s", ErrNotLedgerKey, id)
	}
	var k ledger.PubKey
	copy(k[:], raw)
	return k, nil
}

// libp2pKey turns the node's ledger signing key into its libp2p identity.
func libp2pKey(priv ed25519.PrivateKey) (crypto.PrivKey, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("node key: %d bytes, want an ed25519 private key of %d", len(priv), ed25519.PrivateKeySize)
	}
	return crypto.UnmarshalEd25519PrivateKey(priv)
}
