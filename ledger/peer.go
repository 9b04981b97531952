package ledger

import (
	"bytes"
	"fmt"

	"github.com/mr-tron/base58"
)

// PeerIDOf is the libp2p peer id of a node key (R-REG-3): the base58btc encoding of the identity
// multihash of the key's libp2p protobuf encoding (type Ed25519 = 1, 32 bytes of data), as
// go-libp2p's peer.IDFromPublicKey computes it for ed25519 keys ("12D3KooW…"). A node's ledger
// key is its libp2p identity, so anyone can check that a peer id belongs to a registered node.
func PeerIDOf(k PubKey) string {
	b := make([]byte, 0, 38)
	b = append(b, 0x00, 36)             // multihash: identity, 36 bytes
	b = append(b, 0x08, 0x01, 0x12, 32) // protobuf PublicKey{Type: Ed25519, Data: 32 bytes}
	b = append(b, k[:]...)
	return base58.Encode(b)
}

// PubKeyOfPeerID is the node key whose peer id is id (the inverse of PeerIDOf), or an error
// naming why id is not the peer id of an ed25519 key.
func PubKeyOfPeerID(id string) (PubKey, error) {
	b, err := base58.Decode(id)
	if err != nil {
		return PubKey{}, fmt.Errorf("peer id %q is not base58: %v", id, err)
	}
	head := []byte{0x00, 36, 0x08, 0x01, 0x12, 32}
	if len(b) != len(head)+32 || !bytes.Equal(b[:len(head)], head) {
		return PubKey{}, fmt.Errorf("peer id %q is not the identity of an ed25519 key", id)
	}
	var k PubKey
	copy(k[:], b[len(head):])
	return k, nil
}
