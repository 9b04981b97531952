package reputation

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ManagerPolicy is the supplier manager's part of the policy, trust.toml's [manager] table
// (specs/p2p.md P-12): how often each shard is audited and how long a silent supplier is
// kept. The hire threshold and the hysteresis of the drop rule are Policy's HireThreshold and
// DropOdds.
type ManagerPolicy struct {
	// AuditLoss, AuditWindow and AuditConfidence fix the audit schedule: a supplier that
	// silently lost AuditLoss of a shard is caught within AuditWindow with probability at least
	// AuditConfidence (0.01, 24h, 0.95: about 300 leaves of every shard a day).
	AuditLoss       float64       `json:"audit_loss" toml:"audit_loss"`
	AuditWindow     time.Duration `json:"audit_window" toml:"audit_window"`
	AuditConfidence float64       `json:"audit_confidence" toml:"audit_confidence"`
	// Grace is how long a supplier holding shards may go without answering before it is
	// fired (1h).
	Grace time.Duration `json:"grace" toml:"grace"`
}

// DefaultManagerPolicy returns the documented defaults.
func DefaultManagerPolicy() ManagerPolicy {
	return ManagerPolicy{AuditLoss: 0.01, AuditWindow: 24 * time.Hour, AuditConfidence: 0.95, Grace: time.Hour}
}

// ErrManagerPolicy wraps every validation error of a ManagerPolicy.
var ErrManagerPolicy = errors.New("invalid [manager] policy")

// Validate rejects values that give no schedule.
func (p ManagerPolicy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrManagerPolicy, fmt.Sprintf(format, args...))
	}
	switch {
	case !(p.AuditLoss > 0 && p.AuditLoss < 1):
		return bad("audit_loss %v must be in (0, 1)", p.AuditLoss)
	case !(p.AuditConfidence > 0 && p.AuditConfidence < 1):
		return bad("audit_confidence %v must be in (0, 1)", p.AuditConfidence)
	case p.AuditWindow < time.Second:
		return bad("audit_window %s must be a second or more", p.AuditWindow)
	case p.Grace < 0:
		return bad("grace %s must not be negative", p.Grace)
	case p.AuditInterval(16) < time.Millisecond:
		return bad("audit_window %s is too short for %d leaves a shard", p.AuditWindow, p.AuditLeaves())
	}
	return nil
}

// AuditLeaves is how many challenged leaves of a shard catch a loss of AuditLoss with
// probability AuditConfidence: the least n with 1 − (1 − loss)^n ≥ confidence, each leaf drawn
// uniformly and independently (specs/audit.md §3). 299 for the defaults.
func (p ManagerPolicy) AuditLeaves() int {
	n := math.Log(1-p.AuditConfidence) / math.Log(1-p.AuditLoss)
	return int(math.Ceil(n - 1e-9))
}

// AuditInterval is how long apart two audits of one shard are, each challenging perAudit
// leaves, to reach AuditLeaves within AuditWindow: the window divided by the audits it needs
// (24h / ⌈299/16⌉ = 24h/19 ≈ 75 min 47 s for the defaults).
func (p ManagerPolicy) AuditInterval(perAudit int) time.Duration {
	audits := (p.AuditLeaves() + perAudit - 1) / perAudit
	return p.AuditWindow / time.Duration(max(audits, 1))
}

// DueAudits returns the indexes, in order, of the shards whose last audit (unix nanoseconds,
// 0: never) is interval or more before now: what an audit round challenges.
func DueAudits(last []int64, now int64, interval time.Duration) []int {
	var due []int
	for i, l := range last {
		if now-l >= int64(interval) {
			due = append(due, i)
		}
	}
	return due
}
