package ledger

import (
	"crypto/sha256"
	"encoding/binary"
)

// Every key of the merkleized state is built here and nowhere else, so prefixes cannot collide.
// The table is mirrored in specs/state.md §2. Each prefix is one ASCII letter and a slash.
var (
	prefixGenesis   = []byte("g/") // g/params, g/chain_id
	prefixNode      = []byte("n/") // n/<node 32>                → NodeRecord
	prefixContract  = []byte("c/") // c/<contract id 32>         → ContractRecord
	prefixUnique    = []byte("u/") // u/<kind 1><id 32>          → UniqueRecord (receipt and payment ids)
	prefixNodeAgg   = []byte("a/") // a/<subject 32>             → Aggregate of everything about the node
	prefixPairAgg   = []byte("p/") // p/<subject 32><counterparty 32> → Aggregate of one direction of a relation
	prefixLogRoot   = []byte("l/") // l/<height 8, big-endian>   → LogRoot of the block's events
	prefixValidator = []byte("v/") // v/<consensus address 20>   → validator ed25519 public key
	keyParams       = []byte("g/params")
	keyChainID      = []byte("g/chain_id")
	keyLogTotal     = []byte("g/log_total")  // total events ever appended, big-endian uint64
	keyValidators   = []byte("g/validators") // the validator set: ValidatorSet
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

// ContractKey is the state key of a contract record.
func ContractKey(id ID) []byte { return cat(prefixContract, id[:]) }

// UniqueKey is the state key that marks a receipt or payment id as used.
func UniqueKey(k Kind, id ID) []byte { return cat(prefixUnique, []byte{byte(k)}, id[:]) }

// NodeAggKey is the state key of a node's aggregate, as the subject of events.
func NodeAggKey(n PubKey) []byte { return cat(prefixNodeAgg, n[:]) }

// PairAggKey is the state key of the aggregate of events about subject, with counterparty.
func PairAggKey(subject, counterparty PubKey) []byte {
	return cat(prefixPairAgg, subject[:], counterparty[:])
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

// NodeKeyPrefix, ContractKeyPrefix and NodeAggKeyPrefix are the prefixes of every node record,
// contract record and node aggregate: for scans of the whole state (the explorer's totals).
func NodeKeyPrefix() []byte     { return cat(prefixNode) }
func ContractKeyPrefix() []byte { return cat(prefixContract) }
func NodeAggKeyPrefix() []byte  { return cat(prefixNodeAgg) }

// LogTotalKey is the state key of the number of events ever appended (big-endian uint64).
func LogTotalKey() []byte { return cat(keyLogTotal) }
