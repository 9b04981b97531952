// Package stripe turns a customer's bytes into shards that strangers can keep and back (specs/
// p2p.md P-9): encrypted on the device with a key only the customer's node key yields
// (XChaCha20-Poly1305, so suppliers see noise and the ledger sees only sizes and hashes), then
// erasure-coded into k data and m parity shards (Reed-Solomon), any k of which give the bytes
// back. It is pure: no I/O, no clock; randomness only for the nonce.
package stripe
