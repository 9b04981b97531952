package ledger

import (
	"errors"
	"fmt"
	"testing"
)

// TestReceiptWindow is R-RCPT-1 on one window: each step records a number and expects
// the outcome, then the window's state.
func TestReceiptWindow(t *testing.T) {
	type step struct {
		number          uint64
		want            error // nil, errNumberRecorded or errNumberTooOld
		highest, recent uint64
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{1, nil, 1, 0b1}, {2, nil, 2, 0b11}, {3, nil, 3, 0b111}}},
		{"a gap, then the missing one", []step{{1, nil, 1, 0b1}, {4, nil, 4, 0b1001}, {2, nil, 4, 0b1101}, {3, nil, 4, 0b1111}}},
		{"the same number again", []step{{5, nil, 5, 1}, {5, errNumberRecorded, 5, 1}}},
		{"an old one already recorded", []step{{2, nil, 2, 1}, {9, nil, 9, 1<<7 | 1}, {2, errNumberRecorded, 9, 1<<7 | 1}}},
		{"63 below the highest is still in the window", []step{{100, nil, 100, 1}, {37, nil, 100, 1<<63 | 1}}},
		{"64 below the highest is too old", []step{{100, nil, 100, 1}, {36, errNumberTooOld, 100, 1}}},
		{"a jump of 64 or more clears the window", []step{{1, nil, 1, 1}, {65, nil, 65, 1}, {2, nil, 65, 1<<63 | 1}, {1, errNumberTooOld, 65, 1<<63 | 1}}},
		{"a jump past the whole window", []step{{3, nil, 3, 1}, {1000, nil, 1000, 1}, {3, errNumberTooOld, 1000, 1}}},
		{"a number far ahead is refused (R-RCPT-2)", []step{{^uint64(0), errNumberTooFar, 0, 0}, {3, nil, 3, 1}, {3 + MaxNumberStep + 1, errNumberTooFar, 3, 1}}},
		{"the largest step is recorded", []step{{3, nil, 3, 1}, {3 + MaxNumberStep, nil, 3 + MaxNumberStep, 1}, {3 + MaxNumberStep - 63, nil, 3 + MaxNumberStep, 1<<63 | 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w NumberWindow
			for i, s := range c.steps {
				if err := w.Record(s.number); !errors.Is(err, s.want) || (err == nil) != (s.want == nil) {
					t.Fatalf("step %d: Record(%d) = %v, want %v", i, s.number, err, s.want)
				}
				if w.Highest != s.highest || w.Recent != s.recent {
					t.Fatalf("step %d: window (%d, %b), want (%d, %b)", i, w.Highest, w.Recent, s.highest, s.recent)
				}
			}
		})
	}
	var w NumberWindow
	if w.Next() != 1 || w.Missing() != nil {
		t.Fatalf("empty window: next %d, missing %v", w.Next(), w.Missing())
	}
	for _, n := range []uint64{1, 4, 2, 70} {
		_ = w.Record(n)
	}
	// 70 moved the window to 7..70: 1, 2 and 4 fell out, 7..69 were never recorded.
	if got := w.Missing(); w.Next() != 71 || len(got) != 63 || got[0] != 7 || got[62] != 69 {
		t.Fatalf("after 1, 4, 2, 70: next %d, missing %v", w.Next(), got)
	}
	w = NumberWindow{}
	for _, n := range []uint64{1, 4, 2} {
		_ = w.Record(n)
	}
	if got := w.Missing(); w.Next() != 5 || fmt.Sprint(got) != "[3]" {
		t.Fatalf("after 1, 4, 2: next %d, missing %v, want 5 and [3]", w.Next(), got)
	}
	w = NumberWindow{}
	if err := w.Record(0); err == nil || w != (NumberWindow{}) {
		t.Fatalf("Record(0) = %v, window %+v; want an error and no change", err, w)
	}
}

// TestReceiptsOutOfOrder: receipts of one contract may be committed out of order within the
// window, storage and bandwidth receipts are numbered apart, and the windows survive in the
// contract record across blocks.
func TestReceiptsOutOfOrder(t *testing.T) {
	w := newWorld(t)
	bandwidth := func(n uint64) Event {
		return countersigned(&BandwidthReceipt{ContractID: w.contract, Number: n, Customer: pub(w.alice), Supplier: pub(w.bob), Bytes: 1}, w.alice)
	}
	w.mustApply(w.tx(w.bob, countersigned(w.receipt(5, 1), w.alice), bandwidth(5)))
	w.mustApply(w.tx(w.bob, countersigned(w.receipt(3, 1), w.alice), bandwidth(1)))
	w.mustApply(w.tx(w.bob, countersigned(w.receipt(4, 1), w.alice)))
	if r := w.block(w.tx(w.bob, countersigned(w.receipt(3, 7), w.alice)).Encode())[0]; r.Code != CodeReplayedReceipt {
		t.Fatalf("receipt 3 again: got %s (%s), want replayed_receipt", r.Code, r.Log)
	}
	raw, err := w.store.Get(ContractKey(w.contract, pub(w.alice), pub(w.bob)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeContractRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := [2]NumberWindow{{Highest: 5, Recent: 0b111}, {Highest: 5, Recent: 0b10001}}
	if got := [2]NumberWindow{c.StorageReceipts, c.BandwidthReceipts}; got != want {
		t.Fatalf("windows %+v, want %+v", got, want)
	}
}
