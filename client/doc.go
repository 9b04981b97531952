// Package client is the typed Go client of a trustledger node, for in-process and remote
// callers alike: it works over any CometBFT rpcclient.Client, the HTTP client of a remote node
// (Dial) or the local client of a node running in the same process (node.Node.Client).
//
// What it offers, in the order a caller meets it:
//   - Client: every read the CLI makes (Params, Node, Relation, Contract, Events and the
//     AllEvents iterator, Tx, the /trust/* answers, NextSequence), each with typed answers from
//     package api and typed errors (api.ErrNotFound, api.ErrServiceStopped, ErrUnreachable,
//     *RejectedError) to branch on with errors.Is and errors.As.
//   - Submitter: one signer's transactions, signed at sequences it keeps locally, several in
//     flight at once, each awaited through a shared Follower of committed blocks; after a
//     rejection or a lost tx it waits out what is in flight and resynchronises with the node.
//   - Verifier: proved reads, each value checked with its ICS23 proof against the app hash of
//     a header that CometBFT's light client verified (specs/state.md §5).
//
// Import rule: client links no storage engine and no node. It imports api, ledger and
// reputation (pure), and CometBFT's RPC client, light client and types; never storage, iavl,
// abci or CometBFT's node, consensus, mempool or state packages. Built as a client program is
// (without the badgerdb tag) it links no badger at all; with the tag, badger comes only through
// cometbft-db, which CometBFT's RPC types import (its config package). imports_test.go checks
// this with `go list -deps`, in `make test`.
package client
