// Package p2p is a node's libp2p side (specs/p2p.md): a host whose identity is the node's ledger
// key, so that a peer id proves a ledger identity (P-1), that serves trustledger's protocols only
// to peers registered in the ledger (P-2), within explicit resource limits (P-3), and the
// protocols themselves: the contract offer (P-4), shards (P-6), audits (P-7) and receipts (P-8).
//
// Import rules (checked by client's TestImportRules): p2p links no storage engine and no node
// side but node/journal (the signing journal) and node/atomicfile, leaf packages of files; it learns what the
// ledger says through a Registry, which a node backs with the client library. Addresses stay
// off the ledger: peers find each other through libp2p, never through the public, immutable
// history.
package p2p
