package p2p

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// CustomerRecords is what a customer knows of its contracts that no one else can tell it: the
// shards it placed and when, the bytes it read back, and the receipts it countersigned. Kept
// across restarts (Customer.SetRecorder), it lets the customer countersign truthfully after
// one; lost, the customer only countersigns less.
type CustomerRecords struct {
	Contracts []ContractRecord `json:"contracts"`
}

// ContractRecord is one contract's records.
type ContractRecord struct {
	Open      ledger.ContractOpen `json:"open"`
	Placed    []PlacedShard       `json:"placed,omitempty"`
	Received  uint64              `json:"received"`
	Receipted uint64              `json:"receipted"`
	PeriodEnd int64               `json:"period_end"`
	Signed    []SignedReceipt     `json:"signed,omitempty"`
	// ByteSeconds is the storage the countersigned storage receipts cover; Paid what was paid
	// for it, in Payments payments; Pending the payment under way, made again as it is after a
	// crash (P-13).
	ByteSeconds uint64          `json:"byte_seconds,omitempty"`
	Paid        uint64          `json:"paid,omitempty"`
	Payments    uint64          `json:"payments,omitempty"`
	Pending     *ledger.Payment `json:"pending_payment,omitempty"`
}

// PlacedShard is a shard the supplier held, From its acknowledged put To the delete the
// customer decided (0: still held), in unix seconds.
type PlacedShard struct {
	Shard ledger.ID `json:"shard"`
	Size  uint64    `json:"size"`
	From  int64     `json:"from"`
	To    int64     `json:"to,omitempty"`
}

// SignedReceipt is a receipt countersigned: its kind, number and digest.
type SignedReceipt struct {
	Kind   uint64    `json:"kind"`
	Number uint64    `json:"number"`
	Digest ledger.ID `json:"digest"`
}

// SetRecorder makes the customer hand its records to save whenever they change in a way that
// matters for what it would countersign: a contract offered or adopted, before a delete is sent,
// before a countersignature leaves. An error from save fails that operation (a countersignature
// is then refused), so nothing is signed that the records do not hold. Shards placed are saved
// with the next of those, or by Flush (PutFile flushes at its end): one save a shard would
// rewrite the records hundreds of times a GiB, and a placement lost to a crash only means the
// customer countersigns less of it.
func (c *Customer) SetRecorder(save func(CustomerRecords) error) {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.save = save
}

// record saves the records, if a recorder is set. c.mu must not be held.
func (c *Customer) record() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if c.save == nil {
		return nil
	}
	c.mu.Lock()
	recs := c.recordsLocked()
	c.dirty = false
	c.mu.Unlock()
	if err := c.save(recs); err != nil {
		return fmt.Errorf("saving the customer's records: %w", err)
	}
	return nil
}

// Flush saves the records if shards were placed since the last save.
func (c *Customer) Flush() error {
	c.mu.Lock()
	dirty := c.dirty
	c.mu.Unlock()
	if !dirty {
		return nil
	}
	return c.record()
}

// Records returns the customer's records, contracts in id order.
func (c *Customer) Records() CustomerRecords {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recordsLocked()
}

func (c *Customer) recordsLocked() CustomerRecords {
	var out CustomerRecords
	for _, cc := range c.contracts {
		r := ContractRecord{Open: cc.open, Received: cc.received, Receipted: cc.receipted, PeriodEnd: cc.periodEnd,
			ByteSeconds: cc.byteSeconds, Paid: cc.paid, Payments: cc.payments, Pending: cc.pending}
		for _, p := range cc.placed {
			r.Placed = append(r.Placed, PlacedShard{Shard: p.shard, Size: p.size, From: p.from, To: p.to})
		}
		for slot, d := range cc.signed {
			r.Signed = append(r.Signed, SignedReceipt{Kind: slot[0], Number: slot[1], Digest: d})
		}
		slices.SortFunc(r.Signed, func(a, b SignedReceipt) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Number, b.Number))
		})
		out.Contracts = append(out.Contracts, r)
	}
	slices.SortFunc(out.Contracts, func(a, b ContractRecord) int { return compareID(a.Open.ContractID, b.Open.ContractID) })
	return out
}

func compareID(a, b ledger.ID) int { return slices.Compare(a[:], b[:]) }

// LoadRecords takes back records saved before; each contract must be this customer's. A
// contract known already keeps what the customer holds of it now.
func (c *Customer) LoadRecords(recs CustomerRecords) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs.Contracts {
		if r.Open.Customer != c.h.key {
			return fmt.Errorf("records of contract %s are %s's, not this customer's", r.Open.ContractID, r.Open.Customer)
		}
	}
	for _, r := range recs.Contracts {
		if _, ok := c.contracts[r.Open.ContractID]; ok {
			continue
		}
		cc := &customerContract{open: r.Open, received: r.Received, receipted: r.Receipted, periodEnd: r.PeriodEnd, signed: map[[2]uint64][32]byte{},
			byteSeconds: r.ByteSeconds, paid: r.Paid, payments: r.Payments, pending: r.Pending}
		for _, p := range r.Placed {
			cc.placed = append(cc.placed, placement{shard: p.Shard, size: p.Size, from: p.From, to: p.To})
		}
		for _, s := range r.Signed {
			cc.signed[[2]uint64{s.Kind, s.Number}] = s.Digest
		}
		c.contracts[r.Open.ContractID] = cc
	}
	return nil
}

// Free is what contract id has left for new shards by the customer's records: its bytes less
// the shards placed and not deleted.
func (c *Customer) Free(id ledger.ID) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.contracts[id]
	if !ok {
		return 0, fmt.Errorf("contract %s was not offered through this customer", id)
	}
	var used uint64
	for _, p := range cc.placed {
		if p.to == 0 {
			used += p.size
		}
	}
	return cc.open.Bytes - min(used, cc.open.Bytes), nil
}

// Contracts lists the contracts the customer knows (offered, adopted or loaded), in id order.
func (c *Customer) Contracts() []ledger.ContractOpen {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ledger.ContractOpen, 0, len(c.contracts))
	for _, cc := range c.contracts {
		out = append(out, cc.open)
	}
	slices.SortFunc(out, func(a, b ledger.ContractOpen) int { return compareID(a.ContractID, b.ContractID) })
	return out
}

// FileShardBytes is what each supplier of a file of size bytes, in k data shards per stripe,
// holds of it: the sum of its shards' sizes.
func FileShardBytes(size uint64, k int) uint64 {
	var total uint64
	for left := size; ; left -= min(left, StripeSize) {
		total += stripe.ShardSize(min(left, StripeSize), k)
		if left <= StripeSize {
			return total
		}
	}
}
