// Package api is the wire contract between a trustledger node and its clients: the ABCI query
// paths, their request and answer types, the query codes and the errors they map to, and the
// check of the ICS23 proofs that /store answers carry (specs/state.md §5).
//
// Both sides import it: package abci and the node's trust service answer with these types;
// package client, the CLI, the load generator and the explorer read them. So that every client
// stays light, api imports only pure packages: ledger, reputation, CometBFT's merkle proof
// runtime and proto types, and ics23. It never imports storage, iavl, badger or the CometBFT
// node (checked by client/imports_test.go, which `make test` runs).
//
// Adding a query path: its constant and answer type here, its handler in abci (or in a node
// service, registered with abci.App.HandleQuery), its typed method in client, its row in
// specs/state.md §5.
package api
