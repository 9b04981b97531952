package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

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
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true}}
	var suppliers []*Host
	for i := 0; i < 6; i++ {
		k := testKey(fmt.Sprintf("supplier %d", i))
		reg.reg[pub(k)] = true
		h := newHost(t, k, reg)
		serveSupplier(t, h, Terms{Space: 16 << 20})
		suppliers = append(suppliers, h)
	}
	host := newHost(t, alice, reg)
	customer := NewCustomer(host, chain, journal.Open(t.TempDir()))
	ctx := context.Background()
	var contracts []ledger.ID
	for i, s := range suppliers {
		connect(t, host, s)
		open, err := customer.Offer(ctx, s.ID(), offer(alice, testKey(fmt.Sprintf("supplier %d", i)), fmt.Sprint("file contract ", i), 16<<20, 0, 86400))
		if err != nil {
			t.Fatal(err)
		}
		contracts = append(contracts, open.ContractID)
	}
	key, err := stripe.Key(alice)
	if err != nil {
		t.Fatal(err)
	}
	data := shardData(StripeSize+1_500_000, 9) // two stripes
	rec, err := customer.PutFile(ctx, key, ledger.ID{1}, data, contracts, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Stripes) != 2 || len(rec.Stripes[0].Shards) != 6 {
		t.Fatalf("record: %d stripes, %d shards in the first", len(rec.Stripes), len(rec.Stripes[0].Shards))
	}
	if _, err := customer.PutFile(ctx, key, ledger.ID{2}, data[:10], append(contracts[:5:5], contracts[0]), 4, 2); err == nil {
		t.Fatal("a file with two shards of a stripe on one supplier was placed")
	}

	for _, lost := range []int{1, 4} {
		if err := suppliers[lost].Close(); err != nil {
			t.Fatal(err)
		}
	}
	before := customer.receivedTotal()
	got, err := customer.GetFile(ctx, key, rec)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("with two suppliers gone: %v", err)
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
	if _, err := customer.GetFile(ctx, key, rec); !errors.Is(err, ErrFileLost) {
		t.Fatalf("with three suppliers gone: %v, want ErrFileLost", err)
	}
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
