// Package shard commits to the bytes of a stored shard and proves pieces of it (specs/audit.md):
// the RFC 6962 Merkle tree hash over fixed-size leaves (the last one may be short), the leaves an
// audit challenge picks from a nonce, inclusion paths built from a few kept subtree hashes, and
// their check against a committed root.
//
// It is pure, like package ledger: bytes in (through an io.Reader or io.ReaderAt the caller
// gives), hashes out, no clock, no randomness. The ledger checks audit evidence with it and the
// storage exchange builds commitments and answers with it, so both compute exactly the same
// bytes. Tree hashing and inclusion checks are transparency-dev/merkle's (RFC 6962), not ours.
package shard
