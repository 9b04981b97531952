package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// TestFileSurvivesLosingSuppliers (P-9; the mission's "any supplier can be dropped, no data
// lost"): a file of two stripes, 4+2 on six suppliers on loopback, comes back byte for byte with
// two suppliers gone, reading no more than four shards a stripe; with three gone it is lost, and
// GetFile says so.
func TestFileSurvivesLosingSuppliers(t *testing.T) {
	alice := testKey("alice")
	w := sixSuppliers(t, alice, 16<<20, "file contract")
	customer, suppliers, contracts := w.customer, w.suppliers, w.contracts
	ctx := context.Background()
	key, err := stripe.Key(alice)
	if err != nil {
		t.Fatal(err)
	}
	data := shardData(StripeSize+1_500_000, 9) // two stripes
	spread := Spread{Contracts: contracts, K: 4, M: 2}
	var told []uint64
	rec, err := customer.PutFile(ctx, key, ledger.ID{1}, bytes.NewReader(data), spread, func(n uint64) { told = append(told, n) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(told, []uint64{StripeSize, uint64(len(data))}) {
		t.Fatalf("progress told %v", told)
	}
	if held := rec.Stripes[0].Shards[0].Size + rec.Stripes[1].Shards[0].Size; held != FileShardBytes(rec.Size, 4) {
		t.Fatalf("each supplier holds %d bytes; FileShardBytes says %d", held, FileShardBytes(rec.Size, 4))
	}
	if len(rec.Stripes) != 2 || len(rec.Stripes[0].Shards) != 6 {
		t.Fatalf("record: %d stripes, %d shards in the first", len(rec.Stripes), len(rec.Stripes[0].Shards))
	}
	if _, err := customer.PutFile(ctx, key, ledger.ID{2}, bytes.NewReader(data[:10]), Spread{Contracts: append(contracts[:5:5], contracts[0]), K: 4, M: 2}, nil); err == nil {
		t.Fatal("a file with two shards of a stripe on one supplier was placed")
	}
	// Files of no bytes and of exactly one stripe come back as they went; a reader that fails
	// fails the put with its error.
	for i, size := range []int{0, StripeSize} {
		r, err := customer.PutFile(ctx, key, ledger.ID{3, byte(i)}, bytes.NewReader(data[:size]), spread, nil)
		if err != nil || len(r.Stripes) != 1 || r.Size != uint64(size) {
			t.Fatalf("a file of %d bytes: %d stripes, size %d, %v", size, len(r.Stripes), r.Size, err)
		}
		if got := getBytes(t, customer, key, r); !bytes.Equal(got, data[:size]) {
			t.Fatalf("a file of %d bytes came back as %d bytes", size, len(got))
		}
	}
	// A reader that fails after the first stripe fails the put, and the first stripe's shards are
	// deleted again: a file is kept whole or not at all.
	broken := io.MultiReader(bytes.NewReader(data[:StripeSize+100]), iotest.ErrReader(errors.New("disk on fire")))
	if _, err := customer.PutFile(ctx, key, ledger.ID{4}, broken, spread, nil); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("a failing reader: %v", err)
	}
	for i, h := range suppliers {
		list, err := customer.h.ListShards(ctx, h.ID(), contracts[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range list {
			if info.ShardID == shardID(ledger.ID{4}, 0, i) {
				t.Fatalf("supplier %d still holds a shard of the failed put", i)
			}
		}
	}

	for _, lost := range []int{1, 4} {
		if err := suppliers[lost].Close(); err != nil {
			t.Fatal(err)
		}
	}
	before := customer.receivedTotal()
	if got := getBytes(t, customer, key, rec); !bytes.Equal(got, data) {
		t.Fatal("with two suppliers gone the file came back different")
	}
	var most uint64
	for _, sr := range rec.Stripes {
		most += uint64(sr.K) * sr.Shards[0].Size
	}
	if read := customer.receivedTotal() - before; read != most {
		t.Fatalf("read %d bytes of shards; four shards a stripe is %d", read, most)
	}
	if err := suppliers[0].Close(); err != nil {
		t.Fatal(err)
	}
	if err := customer.GetFile(ctx, key, rec, io.Discard, nil); !errors.Is(err, ErrFileLost) {
		t.Fatalf("with three suppliers gone: %v, want ErrFileLost", err)
	}
}

// getBytes reads a file back whole, failing the test on an error.
func getBytes(t *testing.T, c *Customer, key [32]byte, rec FileRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.GetFile(context.Background(), key, rec, &buf, nil); err != nil {
		t.Fatalf("file %s: %v", rec.ID, err)
	}
	return buf.Bytes()
}

func (c *Customer) receivedTotal() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n uint64
	for _, cc := range c.contracts {
		n += cc.received
	}
	return n
}

// TestRestoreWithTheKeyAlone (P-10; issue 13's "lose the disk, keep the key"): a customer saves
// its index on its six suppliers; a fresh customer with only the key (and its contracts, which
// the ledger holds) finds the newest index, with two suppliers gone, and reads every file back.
func TestRestoreWithTheKeyAlone(t *testing.T) {
	alice := testKey("alice")
	w := sixSuppliers(t, alice, 8<<20, "index contract")
	customer, suppliers, contracts, opens, host, reg := w.customer, w.suppliers, w.contracts, w.opens, w.host, w.reg
	ctx := context.Background()
	key, err := stripe.Key(alice)
	if err != nil {
		t.Fatal(err)
	}
	files := map[ledger.ID][]byte{{1}: shardData(300_000, 1), {2}: shardData(5, 2)}
	var idx Index
	for _, id := range []ledger.ID{{1}, {2}} {
		rec, err := customer.PutFile(ctx, key, id, bytes.NewReader(files[id]), Spread{Contracts: contracts, K: 4, M: 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		idx.Version++
		idx.Files = append(idx.Files, rec)
		if err := customer.SaveIndex(ctx, key, idx, Spread{Contracts: contracts, K: 4, M: 2}); err != nil {
			t.Fatalf("index version %d: %v", idx.Version, err)
		}
	}
	// Each supplier holds the two files' shards, the newest index's shard and its header: the
	// first index and its header are gone.
	for i, s := range suppliers {
		list, err := customer.h.ListShards(ctx, s.ID(), contracts[i])
		if err != nil || len(list) != 4 {
			t.Fatalf("supplier %d holds %d shards (%v), want 4: two files, the index, its header", i, len(list), err)
		}
	}
	host.Close()
	for _, lost := range []int{2, 5} {
		suppliers[lost].Close()
	}

	fresh := newHost(t, alice, reg)
	restored := NewCustomer(fresh, chain, journal.Open(t.TempDir()))
	for i, open := range opens {
		if i != 2 && i != 5 {
			connect(t, fresh, suppliers[i])
		}
		if err := restored.Adopt(open); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewCustomer(fresh, chain, journal.Open(t.TempDir())).RestoreIndex(ctx, key, contracts); err == nil {
		t.Fatal("restored through a customer that adopted no contracts")
	}
	got, err := restored.RestoreIndex(ctx, key, contracts)
	if err != nil || got.Version != 2 || len(got.Files) != 2 {
		t.Fatalf("restored index: version %d, %d files, %v", got.Version, len(got.Files), err)
	}
	for _, rec := range got.Files {
		if b := getBytes(t, restored, key, rec); !bytes.Equal(b, files[rec.ID]) {
			t.Fatalf("file %s after restore is not the file put", rec.ID)
		}
	}
	other, err := stripe.Key(testKey("mallory"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restored.RestoreIndex(ctx, other, contracts); !errors.Is(err, ErrNoIndex) {
		t.Fatalf("restore with another key: %v, want ErrNoIndex", err)
	}
}

// supplierSet is six suppliers on loopback and the customer side of key, with a contract of
// space bytes with each.
type supplierSet struct {
	reg       *mapRegistry
	host      *Host
	customer  *Customer
	suppliers []*Host
	served    []*Supplier // the suppliers on those hosts
	contracts []ledger.ID
	opens     []ledger.ContractOpen
}

func sixSuppliers(t testing.TB, key ed25519.PrivateKey, space uint64, name string) supplierSet {
	t.Helper()
	return suppliersOf(t, key, space, name, 6)
}

// suppliersOf is sixSuppliers with n suppliers.
func suppliersOf(t testing.TB, key ed25519.PrivateKey, space uint64, name string, n int) supplierSet {
	t.Helper()
	return suppliersWith(t, key, space, name, n, nil)
}

// suppliersWith is suppliersOf with supplier i's config changed by edit (nil: none changed).
func suppliersWith(t testing.TB, key ed25519.PrivateKey, space uint64, name string, n int, edit func(i int, c *SupplierConfig)) supplierSet {
	t.Helper()
	w := supplierSet{reg: &mapRegistry{reg: map[ledger.PubKey]bool{pub(key): true}}}
	w.host = newHost(t, key, w.reg)
	w.customer = NewCustomer(w.host, chain, journal.Open(t.TempDir()))
	for i := 0; i < n; i++ {
		k := testKey(fmt.Sprintf("supplier %d", i))
		w.reg.reg[pub(k)] = true
		h := newHost(t, k, w.reg)
		cfg := SupplierConfig{ChainID: chain, Terms: Terms{Space: space}, Dir: t.TempDir(), Journal: journal.Open(t.TempDir())}
		if edit != nil {
			edit(i, &cfg)
		}
		sup, err := h.ServeSupplier(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.served = append(w.served, sup)
		connect(t, w.host, h)
		open, err := w.customer.Offer(context.Background(), h.ID(), offer(key, k, fmt.Sprint(name, " ", i), space, 0, 86400))
		if err != nil {
			t.Fatal(err)
		}
		w.suppliers, w.contracts, w.opens = append(w.suppliers, h), append(w.contracts, open.ContractID), append(w.opens, open)
	}
	return w
}

// TestLongTail (P-9, issue 13's long tails): a supplier that stalls is given up on once K shards
// of the stripe are placed and twice their time has passed (StallAfter shortened here), and its
// shard goes to a spare, which holds that shard for the rest of the file; a supplier that is
// gone is replaced at once. The file reads back whole.
func TestLongTail(t *testing.T) {
	alice := testKey("alice")
	w := suppliersOf(t, alice, 16<<20, "long tail", 8)
	w.customer.stallAfter = 300 * time.Millisecond
	// Supplier 2 reads the shard and never answers; supplier 5 is gone.
	w.suppliers[2].h.SetStreamHandler(ProtocolShard, func(s network.Stream) { _, _ = io.Copy(io.Discard, s) })
	if err := w.suppliers[5].Close(); err != nil {
		t.Fatal(err)
	}
	key, err := stripe.Key(alice)
	if err != nil {
		t.Fatal(err)
	}
	data := shardData(StripeSize+1000, 11) // two stripes
	spread := Spread{Contracts: w.contracts[:6], K: 4, M: 2, Spares: w.contracts[6:]}
	start := time.Now()
	rec, err := w.customer.PutFile(context.Background(), key, ledger.ID{9}, bytes.NewReader(data), spread, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the put took %s: the stalled shard waited for its timeout instead of moving", took)
	}
	for s, sr := range rec.Stripes {
		for i, cm := range sr.Shards {
			want := w.contracts[i]
			switch i {
			case 2, 5:
				want = w.contracts[6] // whichever spare took it: the other one
				if cm.ContractID == w.contracts[7] {
					want = w.contracts[7]
				}
			}
			if cm.ContractID != want || cm.ContractID == w.contracts[2] || cm.ContractID == w.contracts[5] {
				t.Fatalf("stripe %d shard %d is under contract %s", s, i, cm.ContractID)
			}
		}
		if sr.Shards[2].ContractID == sr.Shards[5].ContractID {
			t.Fatalf("stripe %d: one spare holds two shards", s)
		}
	}
	if got := getBytes(t, w.customer, key, rec); !bytes.Equal(got, data) {
		t.Fatal("the file read back is not the file put")
	}
	if !slices.Equal(spread.Contracts, w.contracts[:6]) {
		t.Fatal("PutFile changed the caller's spread")
	}
}

// TestSlowSupplier (P-9, issue 13's long tails): a supplier that takes shards in at 512 KiB/s
// (its 4 MiB shard of a stripe takes eight seconds, where the others take a fraction of one, or
// a second or two under the race detector) is
// slow once its shard is still in flight SlowAfter behind the K-th (shortened here): its shard of
// the first stripe goes on there in the background while the next stripes' shards of its slot
// go to the spare, instead of every stripe waiting for it, and once the rest of the file is
// placed that shard goes to the spare too. The stall rule (StallAfter, long here) never has to
// move anything; without the slow rule every stripe would wait for the slow supplier and leave
// its shard there. The slow supplier is asked to delete what it got, and the file reads back
// whole.
func TestSlowSupplier(t *testing.T) {
	alice := testKey("alice")
	const slow = 3
	w := suppliersWith(t, alice, 64<<20, "slow supplier", 7, func(i int, c *SupplierConfig) {
		if i == slow {
			c.ReceiveRate = 512 << 10
		}
	})
	w.customer.slowAfter = 300 * time.Millisecond
	w.customer.slowRuleMin = 3 * StripeSize // SlowRuleMin is four stripes: three do here
	w.customer.stallAfter = time.Minute
	key, err := stripe.Key(alice)
	if err != nil {
		t.Fatal(err)
	}
	data := shardData(3*StripeSize, 12) // three stripes
	spread := Spread{Contracts: w.contracts[:6], K: 4, M: 2, Spares: w.contracts[6:], Size: uint64(len(data))}
	var placed []uint64
	rec, err := w.customer.PutFile(context.Background(), key, ledger.ID{12}, bytes.NewReader(data), spread, func(n uint64) { placed = append(placed, n) })
	if err != nil {
		t.Fatal(err)
	}
	for s, sr := range rec.Stripes {
		for i, cm := range sr.Shards {
			want := w.contracts[i]
			if i == slow {
				want = w.contracts[6] // the spare
			}
			if cm.ContractID != want || cm.Size == 0 {
				t.Fatalf("stripe %d shard %d is under contract %s (size %d), want %s", s, i, cm.ContractID, cm.Size, want)
			}
		}
	}
	if len(placed) != 3 || placed[2] != uint64(len(data)) {
		t.Fatalf("progress told %v", placed)
	}
	if got := getBytes(t, w.customer, key, rec); !bytes.Equal(got, data) {
		t.Fatal("the file read back is not the file put")
	}
	// What it was still taking in is given up on, and nothing of the file stays counted there.
	held := func() (used uint64, shards int) {
		for _, sc := range w.served[slow].Contracts() {
			if sc.Open.ContractID == w.contracts[slow] {
				return sc.Used, sc.Shards
			}
		}
		return 0, 0
	}
	for range 100 {
		if used, shards := held(); used == 0 && shards == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	used, shards := held()
	t.Fatalf("the slow supplier still counts %d bytes and %d shards of the file", used, shards)
}

// TestRepair (P-12, issue 14): a supplier is gone; its shard of each stripe is rebuilt from the
// others (it is never asked) onto a new supplier, exactly as it was, and the file then survives
// losing two more of the original suppliers. A supplier that holds a shard of the file already
// cannot take another. Done again (a crash before the new record was saved), the repair takes
// what the new supplier holds.
func TestRepair(t *testing.T) {
	alice := testKey("alice")
	w := suppliersOf(t, alice, 16<<20, "repair", 7)
	key, err := stripe.Key(alice)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := shardData(StripeSize+70_000, 21)
	rec, err := w.customer.PutFile(ctx, key, ledger.ID{5}, bytes.NewReader(data), Spread{Contracts: w.contracts[:6], K: 4, M: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.customer.Repair(ctx, rec, w.contracts[1], w.contracts[2]); err == nil {
		t.Fatal("a shard was moved to a supplier holding another shard of the same stripe")
	}
	if err := w.suppliers[1].Close(); err != nil {
		t.Fatal(err)
	}
	repaired, err := w.customer.Repair(ctx, rec, w.contracts[1], w.contracts[6])
	if err != nil {
		t.Fatal(err)
	}
	for s, sr := range repaired.Stripes {
		cm := sr.Shards[1]
		if cm.ContractID != w.contracts[6] || cm.Size != rec.Stripes[s].Shards[1].Size || cm.Root != rec.Stripes[s].Shards[1].Root {
			t.Fatalf("stripe %d: shard 1 after the repair: %+v, before %+v", s, cm, rec.Stripes[s].Shards[1])
		}
		if rec.Stripes[s].Shards[1].ContractID != w.contracts[1] {
			t.Fatal("Repair changed the record it was given")
		}
	}
	// The same repair again, as after a crash before the new record was saved: the new
	// supplier holds the rebuilt shards already, and they are taken as they are (a second put
	// of one shard id would be refused), with the supplier's own commitments.
	again, err := w.customer.Repair(ctx, rec, w.contracts[1], w.contracts[6])
	if err != nil {
		t.Fatalf("the repair done again: %v", err)
	}
	for s := range again.Stripes {
		if again.Stripes[s].Shards[1] != repaired.Stripes[s].Shards[1] {
			t.Fatalf("stripe %d: the repair done again took %+v, the first %+v", s, again.Stripes[s].Shards[1], repaired.Stripes[s].Shards[1])
		}
	}
	for _, i := range []int{4, 5} {
		if err := w.suppliers[i].Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := getBytes(t, w.customer, key, repaired); !bytes.Equal(got, data) {
		t.Fatal("the repaired file read back is not the file put")
	}
}
