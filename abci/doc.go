// Package abci is the thin CometBFT ABCI 2.0 adapter around the ledger state machine.
//
// It decodes transactions and calls package ledger; it persists through package storage;
// it owns nothing else. The stages follow stage-then-commit (specs/state.md §3):
//
//   - CheckTx: stateless checks and signatures once, then the mempool's view of pending txs.
//   - PrepareProposal / ProcessProposal: the same rules on a throwaway block.
//   - FinalizeBlock: apply to the IAVL working tree, return its root; nothing on disk.
//   - Commit: index, save the tree version, write the synced commit marker.
//   - Info: the marker's height and app hash, so CometBFT replays what the app lacks.
//   - Query: /store (with ICS23 proofs), /node, /relation, /events, /tx, /params.
//
// A bad transaction is a non-zero code (the ledger's rejection codes, specs/events.md §6); a Go
// error means the node must stop. Prometheus series are in metrics.go.
package abci
