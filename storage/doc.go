// Package storage holds trustledger's badger-backed stores.
//
//   - BadgerDB adapts badger to iavl's db.DB contract (tested against iavl's memdb with one suite).
//   - AppStore is the application database: the state tree whose root is the app hash, in memory
//     (storage/memtree, with its write log and checkpoints in files beside the database) for a
//     pruning node, or iavl on badger (prefix "i") for an archive (tree.go); the synced commit
//     marker written last at every Commit ("m/commit"); and the browsing
//     indexes by node, pair, kind and tx ("x/"), derived from committed blocks and outside the
//     app hash. api.VerifyProof checks the ICS23 proofs that AppStore.Prove returns.
//
// CometBFT's own block, state and evidence stores are badger databases too (cometbft-db with
// the badgerdb build tag); they live beside this one in the node's data directory.
//
// Layout and crash rules: specs/state.md §4.
package storage
