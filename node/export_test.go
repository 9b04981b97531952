package node

import "github.com/trustledger/trustledger/ledger"

// ApplyForTest feeds records straight into the trust engine (history a test could not commit in
// time, such as 10^5 synthetic events); they must come before any committed height.
func (s *TrustService) ApplyForTest(recs []ledger.EventRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range recs {
		if err := s.engine.Apply(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

// FailCommitForTest makes the application's Commit fail with f's error (a storage failure).
func (n *Node) FailCommitForTest(f func(height int64) error) { n.app.SetFailCommit(f) }
