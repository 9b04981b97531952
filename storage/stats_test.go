package storage

import (
	"testing"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

func registerRecord(h int64, tx uint32, node ledger.PubKey, moniker string, capacity uint64, time int64) ledger.EventRecord {
	ev := &ledger.RegisterNode{Moniker: moniker, Capacity: capacity}
	return ledger.EventRecord{Height: h, TxIndex: tx, Time: time, TxHash: ledger.ID{byte(h), byte(tx)}, Signer: node, Subject: node,
		Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
}

// commitBlock commits one block: the node records its registrations make (as the state machine
// writes them), then the records.
func commitBlock(t *testing.T, s *AppStore, h int64, recs ...ledger.EventRecord) {
	t.Helper()
	for _, r := range recs {
		if ev, ok := r.Event.(*ledger.RegisterNode); ok {
			if err := s.Set(ledger.NodeKey(r.Signer), (&ledger.NodeRecord{Moniker: ev.Moniker, Capacity: ev.Capacity}).Encode()); err != nil {
				t.Fatal(err)
			}
		}
		if !r.Subject.IsZero() && !r.Counterparty.IsZero() {
			if err := s.Set(ledger.PairAggKey(r.Subject, r.Counterparty), (&ledger.Aggregate{Events: 1}).Encode()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Commit(h, recs); err != nil {
		t.Fatal(err)
	}
}

// TestNetworkStats checks the explorer's block stats (specs/state.md §4, x/b): totals carried
// across blocks, a re-registration replacing its capacity, activity per minute ending with the
// latest block, and the totals a reopened store derives from its state when it lacks them.
func TestNetworkStats(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	a, b, c := ledger.PubKey{1}, ledger.PubKey{2}, ledger.PubKey{3}
	const t0 = 1_800_000_000 - 1_800_000_000%60
	commitBlock(t, s, 1, registerRecord(1, 0, a, "Alice", 100, t0), registerRecord(1, 1, b, "bob", 50, t0))
	commitBlock(t, s, 2) // no events: no entry
	r := receiptRecord(3, 0, 0, ledger.ID{9}, a, b, 1000)
	r.Time = t0 + 61
	commitBlock(t, s, 3, r, registerRecord(3, 1, a, "alice", 300, t0+61), registerRecord(3, 2, c, "carol", 7, t0+61))
	st, err := s.Stats(3, 100)
	if err != nil {
		t.Fatal(err)
	}
	tot := st.Totals
	if st.StatsAt != 3 || tot.Events != 5 || tot.Nodes != 3 || tot.SpaceOffered != 357 || tot.BytesServed != 1000 {
		t.Fatalf("totals %+v at %d, want 5 events, 3 nodes, 357 bytes offered, 1000 served at 3", tot, st.StatsAt)
	}
	if len(st.Minutes) != 3 || st.Minutes[0].Start != t0-60 || st.Minutes[1].Events["register_node"] != 2 ||
		st.Minutes[2].Events["bandwidth_receipt"] != 1 || st.Minutes[2].Events["register_node"] != 2 || len(st.Minutes[0].Events) != 0 {
		t.Fatalf("minutes %+v", st.Minutes)
	}
	// Without its stats (a database from before them), the next block's totals come from the state.
	if err := s.deleteStatsAbove(0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	r4 := receiptRecord(4, 0, 0, ledger.ID{10}, b, a, 5)
	commitBlock(t, s, 4, r4)
	st, err = s.Stats(60, 100)
	if err != nil {
		t.Fatal(err)
	}
	if st.Totals.Nodes != 3 || st.Totals.SpaceOffered != 357 || st.Totals.Events != 1 {
		// log_total is the state machine's: these synthetic blocks never wrote it, so only block 4 counts.
		t.Fatalf("totals from state %+v, want 3 nodes and 357 bytes offered", st.Totals)
	}
}

// TestNewestFirstAndCounterparts checks newest-first listings with cursors, a node's
// counterparts, and the moniker search (specs/state.md §4).
func TestNewestFirstAndCounterparts(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	a, b, c := ledger.PubKey{1}, ledger.PubKey{2}, ledger.PubKey{3}
	commitBlock(t, s, 1, registerRecord(1, 0, a, "Alice", 1, 0), registerRecord(1, 1, b, "Bob", 1, 0), registerRecord(1, 2, c, "al", 1, 0))
	for h := int64(2); h <= 6; h++ {
		commitBlock(t, s, h, receiptRecord(h, 0, 0, ledger.ID{byte(h)}, a, b, uint64(h)), receiptRecord(h, 1, 0, ledger.ID{byte(h), 1}, c, a, uint64(h)))
	}
	var got []int64
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		p, err := s.Events(Filter{Pair: &[2]ledger.PubKey{a, b}, Newest: true}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			got = append(got, r.Height)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if len(got) != 5 || got[0] != 6 || got[4] != 2 {
		t.Fatalf("newest first: heights %v, want 6..2", got)
	}
	p, err := s.Events(Filter{Node: &a, Newest: true}, "", 3)
	if err != nil || len(p.Records) != 3 || p.Records[0].Height != 6 || p.Records[0].TxIndex != 1 || p.Records[2].Height != 5 {
		t.Fatalf("node newest first: %+v, %v", p.Records, err)
	}
	cp, err := s.Counterparts(a, "", 1)
	if err != nil || len(cp.Counterparts) != 1 || cp.Counterparts[0].Node != b || cp.Next == "" || cp.Counterparts[0].Moniker != "Bob" {
		t.Fatalf("first page of counterparts: %+v, %v", cp, err)
	}
	cp, err = s.Counterparts(a, cp.Next, 10)
	if err != nil || len(cp.Counterparts) != 1 || cp.Counterparts[0].Node != c || cp.Next != "" || cp.Counterparts[0].AboutPartner == nil {
		t.Fatalf("second page of counterparts: %+v, %v", cp, err)
	}
	if _, err := s.Counterparts(a, "zz", 10); err == nil {
		t.Fatal("a bad cursor was accepted")
	}
	// Newest is the position a newest-first page of one starts with, for every kind of filter.
	reg, rcpt := ledger.KindRegisterNode, ledger.KindStorageReceipt
	d := ledger.PubKey{4}
	for _, f := range []Filter{{}, {Node: &a}, {Node: &b}, {Node: &c}, {Pair: &[2]ledger.PubKey{a, b}}, {Pair: &[2]ledger.PubKey{b, c}},
		{Kind: &reg}, {Kind: &rcpt}, {Node: &a, Kind: &reg}, {Node: &c, Kind: &rcpt}, {Node: &d}} {
		got, err := s.Newest(f)
		if err != nil {
			t.Fatal(err)
		}
		f.Newest = true
		p, err := s.Events(f, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if len(p.Records) == 1 {
			want = api.CursorAfter(&p.Records[0])
		}
		if got != want {
			t.Errorf("Newest(%+v) = %q, a page of one starts at %q", f, got, want)
		}
	}
	hits, err := s.SearchMonikers("AL", 10)
	if err != nil || len(hits) != 2 || hits[0].Moniker != "al" || hits[1].Moniker != "Alice" {
		t.Fatalf("search al: %+v, %v", hits, err)
	}
}

// TestMigrateIndex opens a database whose explorer indexes are missing (as one written before
// them) and finds its counterparts and monikers built from the pair index and the state.
func TestMigrateIndex(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	a, b := ledger.PubKey{1}, ledger.PubKey{2}
	commitBlock(t, s, 1, registerRecord(1, 0, a, "Alice", 1, 0))
	commitBlock(t, s, 2, receiptRecord(2, 0, 0, ledger.ID{2}, a, b, 1))
	for _, p := range [][]byte{prefixCounterpart, prefixMoniker, keyIndexVersion} {
		if err := s.db.Badger().DropPrefix(p); err != nil {
			t.Fatal(err)
		}
	}
	if cp, _ := s.Counterparts(b, "", 10); len(cp.Counterparts) != 0 {
		t.Fatal("counterparts survived their deletion")
	}
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	cp, err := s.Counterparts(b, "", 10)
	if err != nil || len(cp.Counterparts) != 1 || cp.Counterparts[0].Node != a {
		t.Fatalf("migrated counterparts of b: %+v, %v", cp, err)
	}
	if hits, _ := s.SearchMonikers("ali", 5); len(hits) != 1 || hits[0].Node != a {
		t.Fatalf("migrated monikers: %+v", hits)
	}
}
