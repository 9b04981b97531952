// Package memtree is the state tree kept in memory: an immutable, copy-on-write AVL tree that
// computes the same hashes, the same shape and the same ICS23 proofs as iavl v1.3.5, so that the
// app hash and every proof a client checks are the same whichever of the two holds the state.
//
// It is pure: no files, no clock, no randomness. What to persist (the changes of each version,
// and from time to time a whole version as Export writes it) is the caller's (storage.AppStore).
//
// The working tree is changed with Set and Remove and saved as the next version with
// SaveVersion; saved versions never change, so a View of one may be read (Get, Proof, Iterate,
// Export) from other goroutines while the working tree is changed, as long as the Tree itself is
// called from one goroutine at a time. A version is kept until DeleteVersionsTo drops it.
//
// Why it exists: iavl v1 keeps every node in its database and reads the paths a block rewrites
// back from it; with 10^5 nodes in the ledger that was most of each block (BENCHMARKS.md, issue
// 18). MemIAVL (cronos) made the same choice for the same reason.
//
// The hashing rules are iavl's (cosmos/iavl docs/node/node.md):
//
//	leaf:  sha256(varint(0) ‖ varint(1) ‖ varint(version) ‖ bytes(key) ‖ bytes(sha256(value)))
//	inner: sha256(varint(height) ‖ varint(size) ‖ varint(version) ‖ bytes(left) ‖ bytes(right))
//
// where varint is zigzag (Go's binary.PutVarint), bytes(b) is uvarint(len(b)) ‖ b, and version is
// the version the node was written in. An inner node's key is the smallest key of its right
// subtree. Balancing is iavl's rotations, node for node: a node that iavl would clone gets the new
// version here too, since the version is part of the hash.
package memtree
