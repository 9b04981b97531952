package reputation

import "math"

// AuditLeaves is how many challenged leaves of a shard catch a loss of the share loss of it with
// probability confidence: the least n with 1 − (1 − loss)^n ≥ confidence, each leaf drawn
// uniformly and independently (specs/audit.md §3; specs/p2p.md P-12's audit schedule). 299 for
// a loss of 1% at 95%. Both are in (0, 1).
func AuditLeaves(loss, confidence float64) int {
	n := math.Log(1-confidence) / math.Log(1-loss)
	return int(math.Ceil(n - 1e-9))
}

// AuditInterval is how long apart (in the window's unit) two audits of one shard are, each
// challenging perAudit leaves, to challenge leaves within window: the window divided by the
// audits it needs (a day / ⌈299/16⌉ = a day / 19 ≈ 75 min 47 s).
func AuditInterval(window int64, leaves, perAudit int) int64 {
	audits := (leaves + perAudit - 1) / perAudit
	return window / int64(max(audits, 1))
}

// DueAudits returns the indexes, in order, of the shards whose last audit is interval or more
// before now (all in one unit): what an audit round challenges.
func DueAudits(last []int64, now, interval int64) []int {
	var due []int
	for i, l := range last {
		if now-l >= interval {
			due = append(due, i)
		}
	}
	return due
}
