// Package reputation computes each node's own trust in every other node from the ledger's public
// history, and the supplier policy built on it. It is pure: events in, scores out; no I/O, no
// clock. The algorithm, its reasons and its parameters are in specs/trust.md (rules T-1 .. T-5).
//
// Using it:
//  1. NewEngine(DefaultPolicy()) and Apply every committed ledger.EventRecord in ledger order
//     (O(1) per event; a node feeds it as blocks commit).
//  2. View(observer) computes the observer's personalised PageRank over countersigned service,
//     warm-started from its previous view, so a view after one more block is cheap.
//  3. View.Score(subject) gives score, confidence, eligibility and its parts; Explain turns them
//     into plain sentences. View.All ranks everyone.
//  4. View.Choose(candidates, n, placement) and View.ShouldDrop(supplier) are what the supplier
//     manager asks when it hires and drops.
//
// The Engine is not safe for concurrent use; a node wraps it in a lock.
package reputation
