// Package storage holds trustledger's badger-backed stores.
//
//   - BadgerDB adapts badger to iavl's db.DB contract (tested against iavl's memdb with one suite).
//   - AppStore is the application database: the IAVL tree whose root is the app hash (prefix "i"),
//     the synced commit marker written last at every Commit ("m/commit"), and the browsing
//     indexes by node, pair, kind and tx ("x/"), derived from committed blocks and outside the
//     app hash. api.VerifyProof checks the ICS23 proofs that AppStore.Prove returns.
//
// CometBFT's own block, state and evidence stores are badger databases too (cometbft-db with
// the badgerdb build tag); they live beside this one in the node's data directory.
//
// Layout and crash rules: specs/state.md §4.
package storage
