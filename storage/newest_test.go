package storage

import (
	"sync"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// TestNewestKeptIsNeverStale: Newest's kept answers (newestMemo) are what the indexes say after
// every block, after a rollback, and when asked while blocks commit.
func TestNewestKeptIsNeverStale(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	a, b, c, d := ledger.PubKey{1}, ledger.PubKey{2}, ledger.PubKey{3}, ledger.PubKey{4}
	rcpt, reg := ledger.KindBandwidthReceipt, ledger.KindRegisterNode
	filters := []Filter{{Node: &a}, {Node: &b}, {Node: &c}, {Node: &d}, {Pair: &[2]ledger.PubKey{a, b}}, {Pair: &[2]ledger.PubKey{b, a}},
		{Pair: &[2]ledger.PubKey{c, a}}, {Pair: &[2]ledger.PubKey{b, c}}, {Node: &a, Kind: &rcpt}, {Node: &c, Kind: &reg}, {Kind: &rcpt}, {}}
	check := func(when string) {
		t.Helper()
		for _, f := range filters {
			for range 2 { // the first may fill the memo, the second reads it
				got, err := s.Newest(f)
				want, werr := s.readNewest(f)
				if err != nil || werr != nil || got != want {
					t.Fatalf("%s: Newest(%+v) = %q (%v), the indexes say %q (%v)", when, f, got, err, want, werr)
				}
			}
		}
	}
	commitBlock(t, s, 1, registerRecord(1, 0, a, "Alice", 1, 0), registerRecord(1, 1, b, "Bob", 1, 0), registerRecord(1, 2, c, "Carol", 1, 0))
	check("after registrations")
	h := int64(2)
	for ; h <= 8; h++ {
		// a and b trade every block; c and a every other; d never.
		recs := []ledger.EventRecord{receiptRecord(h, 0, 0, ledger.ID{byte(h)}, a, b, uint64(h))}
		if h%2 == 0 {
			recs = append(recs, receiptRecord(h, 1, 0, ledger.ID{byte(h), 1}, c, a, uint64(h)))
		}
		commitBlock(t, s, h, recs...)
		check("after a block")
	}
	if _, err := s.Rollback(h - 2); err != nil {
		t.Fatal(err)
	}
	check("after a rollback")
	// Asked while blocks commit: after the last one, every answer is the indexes'.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, f := range filters {
					if _, err := s.Newest(f); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for h = h - 1; h <= 40; h++ {
		commitBlock(t, s, h, receiptRecord(h, 0, 0, ledger.ID{byte(h), 2}, ledger.PubKey{byte(1 + h%3)}, ledger.PubKey{byte(1 + (h+1)%3)}, uint64(h)))
	}
	close(stop)
	wg.Wait()
	check("after blocks committed while asked")
}
