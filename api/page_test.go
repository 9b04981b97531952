package api

import (
	"reflect"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// TestPageEncoding: a binary page (specs/state.md §5, /events with encoding "records") decodes to
// the page encoded, and a page cut anywhere is refused, never half read.
func TestPageEncoding(t *testing.T) {
	ev := &ledger.BandwidthReceipt{ContractID: ledger.ID{7}, Number: 3, Customer: ledger.PubKey{1}, Supplier: ledger.PubKey{2}, Bytes: 99}
	rec := ledger.EventRecord{Height: 5, TxIndex: 1, EventIndex: 2, Time: 1700000000, TxHash: ledger.ID{9}, Signer: ledger.PubKey{2},
		Subject: ledger.PubKey{2}, Counterparty: ledger.PubKey{1}, Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
	page := Page{Records: []ledger.EventRecord{rec, rec}, Next: CursorAfter(&rec)}
	b := EncodePage(page)
	got, err := DecodePage(b)
	if err != nil || !reflect.DeepEqual(got, page) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, page)
	}
	// A cut at a record boundary is a shorter page; anywhere else it is refused.
	head, one := 2+len(page.Next), 4+len(rec.Encode())
	for cut := 0; cut < len(b); cut++ {
		p, err := DecodePage(b[:cut])
		switch cut {
		case head, head + one:
			if err != nil || len(p.Records) != (cut-head)/one {
				t.Fatalf("cut at a boundary (%d): %d records, %v", cut, len(p.Records), err)
			}
		default:
			if err == nil {
				t.Fatalf("a page cut at %d of %d bytes was read", cut, len(b))
			}
		}
	}
}
