package p2p

import (
	"context"
	"fmt"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// Repair moves a file's shards off contract from (a supplier fired or gone) onto contract to,
// with another supplier that holds no shard of the file (P-12): for each stripe with a shard
// under from, K other shards are read (the supplier being replaced is never asked), the lost
// shard is rebuilt and checked against the stripe's hash, and put under to. It returns the
// file's new record; the shards under from are left for the caller to delete once the new
// record is saved. A lost shard that the supplier of to holds already, committed with the same
// root (put by a repair a crash interrupted), is taken as it is, not put again. A stripe that cannot be rebuilt is ErrFileLost, and the record is returned
// as far as it was repaired.
func (c *Customer) Repair(ctx context.Context, rec FileRecord, from, to ledger.ID) (FileRecord, error) {
	target, err := c.contract(to)
	if err != nil {
		return rec, err
	}
	toPeer, err := PeerID(target.open.Supplier)
	if err != nil {
		return rec, err
	}
	out := rec
	out.Stripes = make([]StripeRecord, len(rec.Stripes))
	for s, sr := range rec.Stripes {
		out.Stripes[s] = sr
		out.Stripes[s].Shards = append([]ledger.StorageCommitment(nil), sr.Shards...)
		for _, cm := range sr.Shards {
			if cm.Supplier == target.open.Supplier && cm.ContractID != from {
				return rec, fmt.Errorf("the supplier of contract %s holds a shard of file %s already: one shard a stripe per supplier", to, rec.ID)
			}
		}
	}
	// What the new supplier holds already under to (a repair a crash interrupted put it
	// there): a lost shard it holds with the same root, committed by it, is taken as it is.
	held := map[ledger.ID]ledger.StorageCommitment{}
	if list, err := c.h.ListShards(ctx, toPeer, to); err == nil {
		for _, info := range list {
			cm := info.Commitment
			if cm.ContractID == to && cm.ShardID == info.ShardID && cm.Supplier == target.open.Supplier && ledger.VerifyCommitment(c.chainID, &cm) {
				held[info.ShardID] = cm
			}
		}
	}
	// One set of shard buffers serves every stripe: a stripe's rebuilt shards are placed before
	// the next one is read.
	var bufs [][]byte
	for s, sr := range out.Stripes {
		var lost []int
		for i, cm := range sr.Shards {
			if cm.ContractID != from {
				continue
			}
			if had, ok := held[cm.ShardID]; ok && had.Root == cm.Root && had.Size == cm.Size && had.LeafSize == cm.LeafSize {
				out.Stripes[s].Shards[i] = had
				c.placedAgain(to, cm.ShardID, cm.Size)
				continue
			}
			lost = append(lost, i)
		}
		if len(lost) == 0 {
			continue
		}
		isLost := func(i int) bool { return out.Stripes[s].Shards[i].ContractID == from }
		have, err := c.readShardsInto(ctx, sr, isLost, &bufs) // the lost ones come back as room to rebuild them in
		if err != nil {
			return out, fmt.Errorf("file %s stripe %d: %w", rec.ID, s, err)
		}
		rebuilt, err := stripe.Rebuild(sr.Stripe, have, lost)
		if err != nil {
			return out, fmt.Errorf("file %s stripe %d: %w", rec.ID, s, err)
		}
		for j, i := range lost {
			cm, err := c.putShardOf(ctx, to, sr.Stripe, i, sr.Shards[i].ShardID, rebuilt[j])
			if err != nil {
				return out, fmt.Errorf("file %s stripe %d shard %d onto %s: %w", rec.ID, s, i, toPeer, err)
			}
			out.Stripes[s].Shards[i] = cm
		}
	}
	return out, c.Flush()
}
