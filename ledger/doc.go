// Package ledger is trustledger's deterministic state machine: the service events, their
// canonical encoding and signatures, and the rules that accept or reject them. It does no I/O.
//
// The contract is written in specs/events.md (encoding, signatures, event kinds, rejection codes,
// test vectors) and specs/state.md (genesis parameters, state keys, aggregates). Rule ids such as
// R-TX-4 in comments point there.
//
// Event kinds: register_node, contract_open, contract_close, storage_receipt, bandwidth_receipt,
// audit_result, payment, misbehavior_report. A transaction (Tx) is one signer, one sequence number
// and one or more events under one ed25519 signature; bilateral events also carry the other
// party's countersignature.
//
// Using it, in order:
//  1. InitGenesis writes the chain id and Params into an empty Store.
//  2. For each block, NewBlock(store, chainID, params, BlockInfo{Height, Time}, true), then
//     ApplyTx for each transaction (a rejection is a TxResult code, never a Go error), then Finish,
//     which writes the block's event-log root and flushes every write in sorted key order.
//  3. The caller persists the store (the abci package commits the IAVL tree) and indexes the
//     EventRecords that Records returns.
//
// The mempool uses the same Block with enforceSignerCap false, so CheckTx and FinalizeBlock share
// one set of rules. Time comes only from the block header; nothing iterates a map unsorted; there
// is no floating point.
package ledger
