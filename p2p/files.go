package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// StripeSize is the most plaintext one stripe of a file holds (16 MiB: a 4+2 stripe is then six
// shards of 4 MiB).
const StripeSize = 16 << 20

// ShardLeafSize is the leaf size of the shards' commitments (specs/audit.md).
const ShardLeafSize = 1024

// FileRecord is what a customer keeps of a file it backed up: its stripes, and for each shard
// where it is and the supplier's commitment to it (P-9). With the key it gives the file back.
type FileRecord struct {
	ID      ledger.ID      `json:"id"`
	Size    uint64         `json:"size"`
	Hash    ledger.ID      `json:"hash"` // SHA-256 of the plaintext, checked after a restore
	Stripes []StripeRecord `json:"stripes"`
}

// StripeRecord is one stripe of a file and where each of its shards went.
type StripeRecord struct {
	stripe.Stripe
	Shards []ledger.StorageCommitment `json:"shards"` // shard i's commitment (its contract and supplier)
}

// ErrFileLost: too few shards of a stripe could be read back.
var ErrFileLost = errors.New("too few shards of the file could be read back")

// shardID names shard i of stripe s of file f.
func shardID(file ledger.ID, s, i int) ledger.ID {
	buf := append([]byte("trustledger shard\x00"), file[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(s))
	buf = binary.BigEndian.AppendUint32(buf, uint32(i))
	return sha256.Sum256(buf)
}

// PutFile seals data as stripes of k data and m parity shards under key and places shard i of
// every stripe under contracts[i] (one contract per supplier, k+m of them, all distinct
// suppliers: no two shards of a stripe on one peer). It returns the file's record; nothing is
// kept by the customer unless every shard was placed.
func (c *Customer) PutFile(ctx context.Context, key [32]byte, id ledger.ID, data []byte, contracts []ledger.ID, k, m int) (FileRecord, error) {
	rec := FileRecord{ID: id, Size: uint64(len(data)), Hash: sha256.Sum256(data)}
	if len(contracts) != k+m {
		return rec, fmt.Errorf("a %d+%d file needs %d contracts, not %d", k, m, k+m, len(contracts))
	}
	seen := map[ledger.PubKey]bool{}
	for _, cid := range contracts {
		cc, err := c.contract(cid)
		if err != nil {
			return rec, err
		}
		if seen[cc.open.Supplier] {
			return rec, fmt.Errorf("supplier %s holds two shards of each stripe: one per supplier", cc.open.Supplier)
		}
		seen[cc.open.Supplier] = true
	}
	for s, off := 0, 0; off < len(data) || s == 0; s++ {
		end := min(off+StripeSize, len(data))
		sid := sha256.Sum256(binary.BigEndian.AppendUint32(append([]byte("trustledger stripe\x00"), id[:]...), uint32(s)))
		st, shards, err := stripe.Seal(key, sid, data[off:end], k, m)
		if err != nil {
			return rec, err
		}
		sr := StripeRecord{Stripe: st, Shards: make([]ledger.StorageCommitment, len(shards))}
		for i, sh := range shards {
			cm, err := c.Put(ctx, contracts[i], shardID(id, s, i), bytes.NewReader(sh), uint64(len(sh)), ShardLeafSize)
			if err != nil {
				return rec, fmt.Errorf("stripe %d shard %d: %w", s, i, err)
			}
			sr.Shards[i] = cm
		}
		rec.Stripes = append(rec.Stripes, sr)
		off = end
	}
	return rec, nil
}

// GetFile reads a file back: for each stripe it reads shards until it has k intact ones (an
// unreachable supplier or a shard that does not match its commitment counts as lost), rebuilds
// and decrypts the stripe, and checks the whole file's hash. ErrFileLost says which stripe had
// too few.
func (c *Customer) GetFile(ctx context.Context, key [32]byte, rec FileRecord) ([]byte, error) {
	out := make([]byte, 0, rec.Size)
	for s, sr := range rec.Stripes {
		shards := make([][]byte, len(sr.Shards))
		intact := 0
		var errs []error
		for i, cm := range sr.Shards {
			if intact == sr.K {
				break // any k suffice: never read more than needed
			}
			var buf bytes.Buffer
			if err := c.Get(ctx, cm, &buf); err != nil {
				errs = append(errs, fmt.Errorf("shard %d: %w", i, err))
				continue
			}
			shards[i] = buf.Bytes()
			intact++
		}
		if intact < sr.K {
			return nil, fmt.Errorf("%w: stripe %d: %d of %d shards read, %d needed: %w", ErrFileLost, s, intact, len(sr.Shards), sr.K, errors.Join(errs...))
		}
		plain, err := stripe.Open(key, sr.Stripe, shards)
		if err != nil {
			return nil, fmt.Errorf("stripe %d: %w", s, err)
		}
		out = append(out, plain...)
	}
	if uint64(len(out)) != rec.Size || sha256.Sum256(out) != rec.Hash {
		return nil, fmt.Errorf("file %s: the bytes read back are not the file that was put", rec.ID)
	}
	return out, nil
}
