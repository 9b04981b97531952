package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
)

// Every key of the merkleized state is built here and nowhere else, so prefixes cannot collide.
// The table is mirrored in specs/state.md §2. Each prefix is one ASCII letter and a slash.
//
// What a node's events change lives under that node's key, n/<node>: its record, its aggregate,
// its aggregates with each counterparty and, for a supplier, its contracts. A receipt or an
// audit changes its supplier's aggregate, the pair's aggregate and the contract; side by side in
// the tree they share one path from the root instead of one each (specs/state.md §2).
var (
	prefixGenesis   = []byte("g/") // g/params, g/chain_id
	prefixNode      = []byte("n/") // n/<node 32>                          → NodeRecord
	prefixContract  = []byte("c/") // c/<contract id 32>                   → ContractParties
	prefixUnique    = []byte("u/") // u/<kind 1><id 32>                    → UniqueRecord (payment and proposal ids)
	prefixLogRoot   = []byte("l/") // l/<height 8, big-endian>             → LogRoot of the block's events
	prefixValidator = []byte("v/") // v/<consensus address 20>             → validator ed25519 public key
	keyParams       = []byte("g/params")
	keyChainID      = []byte("g/chain_id")
	keyLogTotal     = []byte("g/log_total")  // total events ever appended, big-endian uint64
	keyValidators   = []byte("g/validators") // the validator set: ValidatorSet
)

// The parts after n/<node 32>: nothing for the record, then one letter.
const (
	partNodeAgg  = 'a' // n/<subject 32>a                          → Aggregate of everything about the node
	partContract = 'c' // n/<supplier 32>c<customer 32><id 32>     → ContractRecord
	partPairAgg  = 'p' // n/<subject 32>p<counterparty 32>         → Aggregate of one direction of a relation
)

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// NodeKey is the state key of a node's registration record.
func NodeKey(n PubKey) []byte { return cat(prefixNode, n[:]) }

// ContractKey is the state key of a contract record: under its supplier's node key.
func ContractKey(id ID, customer, supplier PubKey) []byte {
	return cat(prefixNode, supplier[:], []byte{partContract}, customer[:], id[:])
}

// ContractIDKey is the state key of a contract's parties (ContractParties), written once when it
// is opened: it keeps contract ids unique and finds a contract from its id alone.
func ContractIDKey(id ID) []byte { return cat(prefixContract, id[:]) }

// UniqueKey is the state key that marks a payment or proposal id as used.
func UniqueKey(k Kind, id ID) []byte { return cat(prefixUnique, []byte{byte(k)}, id[:]) }

// NodeAggKey is the state key of a node's aggregate, as the subject of events.
func NodeAggKey(n PubKey) []byte { return cat(prefixNode, n[:], []byte{partNodeAgg}) }

// PairAggKey is the state key of the aggregate of events about subject, with counterparty.
func PairAggKey(subject, counterparty PubKey) []byte {
	return cat(prefixNode, subject[:], []byte{partPairAgg}, counterparty[:])
}

// LogRootKey is the state key of the Merkle root of the events committed at height.
func LogRootKey(height int64) []byte {
	return binary.BigEndian.AppendUint64(cat(prefixLogRoot), uint64(height))
}

// ValidatorKey is the state key mapping a consensus address to its ed25519 public key.
func ValidatorKey(addr []byte) []byte { return cat(prefixValidator, addr) }

// ValidatorsKey is the state key of the current validator set.
func ValidatorsKey() []byte { return cat(keyValidators) }

// ConsensusAddress is CometBFT's address of an ed25519 key: the first 20 bytes of its SHA-256.
func ConsensusAddress(k PubKey) []byte {
	h := sha256.Sum256(k[:])
	return h[:20]
}

// ParamsKey and ChainIDKey hold the genesis parameters.
func ParamsKey() []byte  { return cat(keyParams) }
func ChainIDKey() []byte { return cat(keyChainID) }

// NodeKeyPrefix is the prefix of every key under a node (its record, aggregates and contracts):
// for scans of the whole state (the explorer's totals), read with NodeKeyPart.
func NodeKeyPrefix() []byte { return cat(prefixNode) }

// NodeKeyPart is what a key under NodeKeyPrefix holds.
type NodeKeyPart int

const (
	PartUnknown   NodeKeyPart = iota // not a key of this layout
	PartRecord                       // n/<node>: NodeRecord
	PartAggregate                    // n/<node>a: Aggregate
	PartPair                         // n/<subject>p<counterparty>: Aggregate
	PartContract                     // n/<supplier>c<customer><id>: ContractRecord
)

// ParseNodeKey says what a key under NodeKeyPrefix holds, and whose it is.
func ParseNodeKey(key []byte) (part NodeKeyPart, node PubKey) {
	rest, ok := bytes.CutPrefix(key, prefixNode)
	if !ok || len(rest) < len(node) {
		return PartUnknown, node
	}
	copy(node[:], rest)
	rest = rest[len(node):]
	switch {
	case len(rest) == 0:
		return PartRecord, node
	case len(rest) == 1 && rest[0] == partNodeAgg:
		return PartAggregate, node
	case len(rest) == 1+len(node) && rest[0] == partPairAgg:
		return PartPair, node
	case len(rest) == 1+len(node)+len(ID{}) && rest[0] == partContract:
		return PartContract, node
	}
	return PartUnknown, node
}

// LogTotalKey is the state key of the number of events ever appended (big-endian uint64).
func LogTotalKey() []byte { return cat(keyLogTotal) }
