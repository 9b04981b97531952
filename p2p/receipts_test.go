package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
)

// TestReceipts (P-8, R-EVID-2): a customer countersigns a supplier's storage receipt when its own
// records show the bytes held over the period, and a bandwidth receipt for bytes it received and
// has not receipted; it refuses claims beyond its records, overlapping periods and a second,
// different receipt under one number, and gives the same signature for the same receipt again.
func TestReceipts(t *testing.T) {
	alice, bob := testKey("alice"), testKey("bob")
	supplierHost, _, customerHost, customer, open, clock := receiptPair(t, "receipts")
	t0 := *clock
	customer.ServeReceipts()
	ctx := context.Background()
	data := shardData(100_000, 4)
	cm, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	*clock = t0.Add(2 * time.Hour)
	storage := func(number uint64, from, to time.Duration, byteSeconds uint64) *ledger.StorageReceipt {
		return &ledger.StorageReceipt{ContractID: open.ContractID, Number: number, Customer: pub(alice), Supplier: pub(bob),
			PeriodStart: t0.Add(from).Unix(), PeriodEnd: t0.Add(to).Unix(), ByteSeconds: byteSeconds}
	}
	ask := func(ev ledger.Event) error { return supplierHost.RequestReceipt(ctx, customerHost.ID(), chain, ev) }
	first := storage(1, 0, time.Hour, 100_000*3600)
	if err := ask(first); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(alice.Public().(ed25519.PublicKey), ledger.CountersignBytes(chain, first), first.Countersig[:]) {
		t.Fatal("the storage receipt's countersignature does not verify")
	}
	again := storage(1, 0, time.Hour, 100_000*3600)
	if err := ask(again); err != nil || again.Countersig != first.Countersig {
		t.Fatalf("the same receipt again: %v", err)
	}
	for _, c := range []struct {
		name string
		ev   ledger.Event
		code string
	}{
		{"another receipt under number 1", storage(1, 0, time.Hour, 1), CodeDuplicate},
		{"a period overlapping the first", storage(2, 30*time.Minute, 90*time.Minute, 1), CodeBadRequest},
		{"more byte-seconds than held", storage(2, time.Hour, 2*time.Hour, 100_001*3600), CodeBadRequest},
		{"a period in the future", storage(2, time.Hour, 3*time.Hour, 1), CodeBadRequest},
		{"bytes never received", &ledger.BandwidthReceipt{ContractID: open.ContractID, Number: 1, Customer: pub(alice), Supplier: pub(bob), Bytes: 1}, CodeBadRequest},
	} {
		refusedWith(t, c.name, ask(c.ev), c.code)
	}
	if err := ask(storage(2, time.Hour, 2*time.Hour, 100_000*3600)); err != nil {
		t.Fatalf("the next hour: %v", err)
	}
	// Bandwidth: what the customer read back, once.
	if err := customer.Get(ctx, cm, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	bw := &ledger.BandwidthReceipt{ContractID: open.ContractID, Number: 1, Customer: pub(alice), Supplier: pub(bob), Bytes: 100_000}
	if err := ask(bw); err != nil {
		t.Fatal(err)
	}
	more := &ledger.BandwidthReceipt{ContractID: open.ContractID, Number: 2, Customer: pub(alice), Supplier: pub(bob), Bytes: 1}
	refusedWith(t, "bytes already receipted", ask(more), CodeBadRequest)
	// After the delete the shard is held no more: an hour after it claims nothing.
	if err := customer.Delete(ctx, open.ContractID, ledger.ID{1}); err != nil {
		t.Fatal(err)
	}
	*clock = t0.Add(4 * time.Hour)
	err = ask(storage(3, 3*time.Hour, 4*time.Hour, 1))
	refusedWith(t, "storage after the delete", err, CodeBadRequest)
	if !strings.Contains(err.Error(), "show 0 held") {
		t.Fatalf("refusal does not say what the records show: %v", err)
	}
	// A receipt between others is not the customer's to sign.
	wrong := storage(3, 2*time.Hour, 3*time.Hour, 1)
	wrong.Customer = pub(bob)
	if err := ask(wrong); err == nil {
		t.Fatal("a receipt naming another customer was countersigned")
	}
}

// TestSupplierReceiptSchedule (P-8): due storage receipts cover each contract from the end of
// its last countersigned period (a shard counting from the second after its put) to now, are
// numbered in turn, and a customer that refuses leaves the next round to cover a longer period
// under the same number.
func TestSupplierReceiptSchedule(t *testing.T) {
	_, supplier, _, customer, open, clock := receiptPair(t, "schedule")
	t0 := *clock
	ctx := context.Background()
	if due := supplier.DueReceipts(); len(due) != 0 {
		t.Fatalf("receipts due before any shard: %+v", due)
	}
	if _, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(shardData(1000, 5)), 1000, 64); err != nil {
		t.Fatal(err)
	}
	*clock = t0.Add(101 * time.Second)
	// The customer does not serve receipts yet: refused, nothing advances.
	signed, errs := supplier.CollectReceipts(ctx)
	if len(signed) != 0 || len(errs) != 1 {
		t.Fatalf("with the customer not answering: %d signed, errors %v", len(signed), errs)
	}
	customer.ServeReceipts()
	*clock = t0.Add(201 * time.Second)
	signed, errs = supplier.CollectReceipts(ctx)
	if len(errs) != 0 || len(signed) != 1 {
		t.Fatalf("round 1: %d signed, errors %v", len(signed), errs)
	}
	r := signed[0]
	if r.Number != 1 || r.PeriodStart != t0.Unix()+1 || r.PeriodEnd != t0.Unix()+201 || r.ByteSeconds != 1000*200 {
		t.Fatalf("receipt 1: %+v", r)
	}
	*clock = t0.Add(261 * time.Second)
	signed, errs = supplier.CollectReceipts(ctx)
	if len(errs) != 0 || len(signed) != 1 || signed[0].Number != 2 || signed[0].PeriodStart != r.PeriodEnd || signed[0].ByteSeconds != 1000*60 {
		t.Fatalf("round 2: %+v, %v", signed, errs)
	}
	if due := supplier.DueReceipts(); len(due) != 0 {
		t.Fatalf("due right after a round: %+v", due)
	}
}

// receiptPair: bob's supplier (1 MiB) and alice's customer side on loopback, with a contract
// between them of the given name and one clock, at t0, that the test moves. The customer does
// not answer receipt requests until ServeReceipts.
func receiptPair(t *testing.T, name string) (*Host, *Supplier, *Host, *Customer, ledger.ContractOpen, *time.Time) {
	t.Helper()
	alice, bob := testKey("alice"), testKey("bob")
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true, pub(bob): true}}
	supplierHost := newHost(t, bob, reg)
	supplier := serveSupplier(t, supplierHost, Terms{Space: 1 << 20})
	customerHost := newHost(t, alice, reg)
	connect(t, customerHost, supplierHost)
	customer := NewCustomer(customerHost, chain, journal.Open(t.TempDir()))
	clock := time.Unix(1_800_000_000, 0)
	customer.now = func() time.Time { return clock }
	supplier.now = func() time.Time { return clock }
	open, err := customer.Offer(context.Background(), supplierHost.ID(), offer(alice, bob, name, 1<<20, 0, 86400))
	if err != nil {
		t.Fatal(err)
	}
	return supplierHost, supplier, customerHost, customer, open, &clock
}

// TestCustomerRecordsOutliveARestart (P-8, issue 13's supplier side): the customer's records,
// saved by its recorder (placements at the next flush, the rest at once), let a new customer
// on the same key countersign what the first one saw and refuse what it had countersigned
// already; a recorder that fails fails the countersignature. Records of another customer are
// refused.
func TestCustomerRecordsOutliveARestart(t *testing.T) {
	alice, bob := testKey("alice"), testKey("bob")
	supplierHost, _, customerHost, customer, open, clock := receiptPair(t, "records")
	t0 := *clock
	var saved CustomerRecords
	saves := 0
	customer.SetRecorder(func(r CustomerRecords) error { saved, saves = r, saves+1; return nil })
	customer.ServeReceipts()
	ctx := context.Background()
	if _, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(shardData(1000, 1)), 1000, 64); err != nil {
		t.Fatal(err)
	}
	if free, err := customer.Free(open.ContractID); err != nil || free != 1<<20-1000 {
		t.Fatalf("free after a put of 1000 bytes: %d, %v", free, err)
	}
	// A placement waits for the next save (Flush, or one that must happen now).
	if saves != 0 {
		t.Fatalf("%d saves after a put, want none yet", saves)
	}
	if err := customer.Flush(); err != nil || saves != 1 || len(saved.Contracts[0].Placed) != 1 {
		t.Fatalf("flush: %d saves, %+v, %v", saves, saved, err)
	}
	if err := customer.Flush(); err != nil || saves != 1 {
		t.Fatalf("a flush with nothing new saved again: %d saves, %v", saves, err)
	}
	*clock = t0.Add(time.Hour)
	storage := func(number uint64, from, to time.Duration, byteSeconds uint64) *ledger.StorageReceipt {
		return &ledger.StorageReceipt{ContractID: open.ContractID, Number: number, Customer: pub(alice), Supplier: pub(bob),
			PeriodStart: t0.Add(from).Unix(), PeriodEnd: t0.Add(to).Unix(), ByteSeconds: byteSeconds}
	}
	ask := func(ev ledger.Event) error { return supplierHost.RequestReceipt(ctx, customerHost.ID(), chain, ev) }
	if err := ask(storage(1, 0, 30*time.Minute, 1000*1800)); err != nil {
		t.Fatal(err)
	}
	if saves != 2 || len(saved.Contracts) != 1 || len(saved.Contracts[0].Placed) != 1 || len(saved.Contracts[0].Signed) != 1 {
		t.Fatalf("after a put and a receipt: %d saves, %+v", saves, saved)
	}
	customer.StopReceipts()

	restarted := NewCustomer(customerHost, chain, journal.Open(t.TempDir()))
	restarted.now = customer.now
	if err := restarted.LoadRecords(saved); err != nil {
		t.Fatal(err)
	}
	restarted.ServeReceipts()
	refusedWith(t, "a period overlapping one countersigned before the restart", ask(storage(2, 0, time.Hour, 1)), CodeBadRequest)
	if err := ask(storage(2, 30*time.Minute, time.Hour, 1000*1800)); err != nil {
		t.Fatalf("the next half hour, after the restart: %v", err)
	}
	restarted.SetRecorder(func(CustomerRecords) error { return errors.New("disk full") })
	*clock = t0.Add(2 * time.Hour)
	refusedWith(t, "a receipt the records could not be saved for", ask(storage(3, time.Hour, 2*time.Hour, 1)), CodeFailed)

	var mallory CustomerRecords
	mallory.Contracts = append(mallory.Contracts, ContractRecord{Open: ledger.ContractOpen{ContractID: ledger.ID{9}, Customer: pub(bob)}})
	if err := NewCustomer(customerHost, chain, journal.Open(t.TempDir())).LoadRecords(mallory); err == nil {
		t.Fatal("records of another customer were loaded")
	}
}

// TestBandwidthReceipts (P-6, P-8): a supplier counts as served only what the customer read
// back and acknowledged as verified, asks for a bandwidth receipt for exactly that, and stops
// serving reads under a contract whose customer owes more than MaxUnreceipted.
func TestBandwidthReceipts(t *testing.T) {
	_, supplier, _, customer, open, _ := receiptPair(t, "bandwidth")
	customer.ServeReceipts()
	ctx := context.Background()
	data := shardData(300_000, 7)
	cm, err := customer.Put(ctx, open.ContractID, ledger.ID{1}, bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if due := supplier.DueBandwidth(); len(due) != 0 {
		t.Fatalf("bandwidth due before any read: %+v", due)
	}
	// A read the customer gives up on at once counts for neither side.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := customer.Get(cancelled, cm, io.Discard); err == nil {
		t.Fatal("a cancelled read succeeded")
	}
	for range 2 {
		if err := customer.Get(ctx, cm, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	var due []*ledger.BandwidthReceipt
	for deadline := time.Now().Add(5 * time.Second); len(due) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		due = supplier.DueBandwidth() // the second read's acknowledgement may still be on its way
		if len(due) == 1 && due[0].Bytes < 2*uint64(len(data)) {
			due = nil
		}
	}
	if len(due) != 1 || due[0].Bytes != 2*uint64(len(data)) || due[0].Number != 1 {
		t.Fatalf("due after two reads: %+v", due)
	}
	signed, errs := supplier.CollectBandwidth(ctx)
	if len(errs) != 0 || len(signed) != 1 || signed[0].Countersig == (ledger.Sig{}) {
		t.Fatalf("collect: %+v, %v", signed, errs)
	}
	if due := supplier.DueBandwidth(); len(due) != 0 {
		t.Fatalf("due after the receipt: %+v", due)
	}
	// A customer that owes more than MaxUnreceipted is refused reads until it countersigns.
	supplier.noteServed(open.ContractID, MaxUnreceipted+1)
	select {
	case <-supplier.BandwidthDue():
	default:
		t.Fatal("crossing the step did not signal a collection")
	}
	refusedWith(t, "a read while owing", customer.Get(ctx, cm, io.Discard), CodeReceiptDue)
	if _, errs := supplier.CollectBandwidth(ctx); len(errs) != 1 {
		t.Fatalf("a receipt for bytes the customer never read was countersigned: %v", errs)
	}
}
