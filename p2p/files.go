package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

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
	ID ledger.ID `json:"id"`
	// Name and Stored (unix seconds) are the customer's: the name it gave the file and when the
	// put ended. Sealed in the index like the rest, they never leave the device in clear.
	Name    string         `json:"name,omitempty"`
	Stored  int64          `json:"stored,omitempty"`
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

// Spread is where a file's shards go: shard i of every stripe under Contracts[i], one contract
// per supplier, K data and M parity shards (K+M contracts, all distinct suppliers: no two shards
// of a stripe on one peer).
type Spread struct {
	Contracts []ledger.ID
	K, M      int
}

// PutFile reads r to its end a stripe at a time, seals each stripe under key and places its
// shards as spread says, the shards of a stripe in parallel; progress, if set, is told the
// plaintext bytes placed so far after each stripe. Memory stays about one stripe whatever the
// file's size. It returns the file's record; nothing is recorded by the customer unless every
// shard was placed.
func (c *Customer) PutFile(ctx context.Context, key [32]byte, id ledger.ID, r io.Reader, spread Spread, progress func(uint64)) (FileRecord, error) {
	rec := FileRecord{ID: id}
	k, m := spread.K, spread.M
	if len(spread.Contracts) != k+m {
		return rec, fmt.Errorf("a %d+%d file needs %d contracts, not %d", k, m, k+m, len(spread.Contracts))
	}
	seen := map[ledger.PubKey]bool{}
	for _, cid := range spread.Contracts {
		cc, err := c.contract(cid)
		if err != nil {
			return rec, err
		}
		if seen[cc.open.Supplier] {
			return rec, fmt.Errorf("supplier %s holds two shards of each stripe: one per supplier", cc.open.Supplier)
		}
		seen[cc.open.Supplier] = true
	}
	hash := sha256.New()
	buf := make([]byte, StripeSize)
	for s := 0; ; s++ {
		n, err := io.ReadFull(r, buf)
		switch {
		case errors.Is(err, io.EOF) && s > 0:
			copy(rec.Hash[:], hash.Sum(nil)) // the file ended on a stripe's boundary
			return rec, nil
		case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
			return rec, fmt.Errorf("reading stripe %d: %w", s, err)
		}
		plain := buf[:n]
		hash.Write(plain)
		sr, perr := c.putStripe(ctx, key, id, s, plain, spread)
		if perr != nil {
			return rec, perr
		}
		rec.Stripes = append(rec.Stripes, sr)
		rec.Size += uint64(n)
		if progress != nil {
			progress(rec.Size)
		}
		if n < StripeSize {
			break // the last stripe (or the only one, of an empty file)
		}
	}
	copy(rec.Hash[:], hash.Sum(nil))
	return rec, nil
}

// stripeID names stripe s of file id: the stripe's AEAD binds it, so stripes cannot be swapped.
func stripeID(id ledger.ID, s int) ledger.ID {
	return sha256.Sum256(binary.BigEndian.AppendUint32(append([]byte("trustledger stripe\x00"), id[:]...), uint32(s)))
}

// putStripe seals stripe s and places its shards, in parallel.
func (c *Customer) putStripe(ctx context.Context, key [32]byte, id ledger.ID, s int, plain []byte, spread Spread) (StripeRecord, error) {
	st, shards, err := stripe.Seal(key, stripeID(id, s), plain, spread.K, spread.M)
	if err != nil {
		return StripeRecord{}, err
	}
	sr := StripeRecord{Stripe: st, Shards: make([]ledger.StorageCommitment, len(shards))}
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		wg.Go(func() {
			cm, err := c.Put(ctx, spread.Contracts[i], shardID(id, s, i), bytes.NewReader(sh), uint64(len(sh)), ShardLeafSize)
			if err != nil {
				errs[i] = fmt.Errorf("stripe %d shard %d: %w", s, i, err)
			}
			sr.Shards[i] = cm
		})
	}
	wg.Wait()
	return sr, errors.Join(errs...)
}

// GetFile writes a file back to w a stripe at a time: for each stripe it reads shards until it
// has k intact ones (an unreachable supplier or a shard that does not match its commitment
// counts as lost), rebuilds and decrypts the stripe; progress, if set, is told the bytes written
// so far. Each stripe is authenticated before it is written, and the whole file's hash is
// checked at the end: what w received is the file only when GetFile returns nil. ErrFileLost
// says which stripe had too few shards.
func (c *Customer) GetFile(ctx context.Context, key [32]byte, rec FileRecord, w io.Writer, progress func(uint64)) error {
	hash := sha256.New()
	var written uint64
	for s, sr := range rec.Stripes {
		if sr.K+sr.M != len(sr.Shards) {
			return fmt.Errorf("file %s stripe %d: %d shards recorded for a %d+%d stripe", rec.ID, s, len(sr.Shards), sr.K, sr.M)
		}
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
			return fmt.Errorf("%w: stripe %d: %d of %d shards read, %d needed: %w", ErrFileLost, s, intact, len(sr.Shards), sr.K, errors.Join(errs...))
		}
		plain, err := stripe.Open(key, sr.Stripe, shards)
		if err != nil {
			return fmt.Errorf("stripe %d: %w", s, err)
		}
		hash.Write(plain)
		if _, err := w.Write(plain); err != nil {
			return err
		}
		written += uint64(len(plain))
		if progress != nil {
			progress(written)
		}
	}
	if written != rec.Size || !bytes.Equal(hash.Sum(nil), rec.Hash[:]) {
		return fmt.Errorf("file %s: the bytes read back are not the file that was put", rec.ID)
	}
	return nil
}
