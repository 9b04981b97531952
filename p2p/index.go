package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// Index is what a customer keeps of its backups: the records of its files (P-10). Saved sealed
// on its suppliers, it comes back with the key alone.
type Index struct {
	Version uint64       `json:"version"`
	Files   []FileRecord `json:"files"`
}

// indexHeader is what every supplier of the index keeps whole: where the index is.
type indexHeader struct {
	Version uint64     `json:"version"`
	Index   FileRecord `json:"index"`
}

// ErrNoIndex: none of the suppliers holds an index header that opens with this key.
var ErrNoIndex = errors.New("no index of this customer found on its suppliers")

func (c *Customer) indexID(version uint64) ledger.ID {
	return sha256.Sum256(binary.BigEndian.AppendUint64(append([]byte("trustledger index\x00"), c.h.key[:]...), version))
}

// headerShard is the shard id of version v's header: a prefix of the customer's own, then the
// version, so that a restore recognises headers in a supplier's list and knows their version.
// Each version has its own id: a supplier never commits twice under one shard id (its journal
// refuses, R-EVID-3), so a header is never replaced in place.
func (c *Customer) headerShard(v uint64) ledger.ID {
	id := c.headerPrefix()
	binary.BigEndian.PutUint64(id[24:], v)
	return id
}

// IsIndexHeader reports whether a shard id is one of the customer's index headers (of any
// version): a shard no file record lists, that is the customer's all the same.
func (c *Customer) IsIndexHeader(id ledger.ID) bool {
	p := c.headerPrefix()
	return bytes.Equal(id[:24], p[:24])
}

func (c *Customer) headerPrefix() ledger.ID {
	id := sha256.Sum256(append([]byte("trustledger index header\x00"), c.h.key[:]...))
	clear(id[24:])
	return id
}

// Adopt records a contract the customer opened before (read back from the ledger after the
// customer lost its disk), so that its shards can be read again.
func (c *Customer) Adopt(open ledger.ContractOpen) error {
	if open.Customer != c.h.key {
		return fmt.Errorf("contract %s is %s's, not this customer's", open.ContractID, open.Customer)
	}
	c.mu.Lock()
	_, known := c.contracts[open.ContractID]
	if !known {
		c.contracts[open.ContractID] = &customerContract{open: open, signed: map[[2]uint64][32]byte{}}
	}
	c.mu.Unlock()
	if known {
		return nil
	}
	return c.record()
}

// SaveIndex places idx as a file on spread's suppliers, then replaces on every supplier that
// holds a shard of it the index header (sealed whole: any one supplier suffices to find the
// index). A header that could not be replaced on some suppliers is reported; the others hold
// the new one, and the newest version found wins on restore.
func (c *Customer) SaveIndex(ctx context.Context, key [32]byte, idx Index, spread Spread) error {
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	rec, err := c.PutFile(ctx, key, c.indexID(idx.Version), bytes.NewReader(raw), spread, nil)
	if err != nil {
		return fmt.Errorf("index version %d: %w", idx.Version, err)
	}
	var contracts []ledger.ID // where the index went (a spare may have taken a shard)
	for _, cm := range rec.Stripes[0].Shards {
		contracts = append(contracts, cm.ContractID)
	}
	hraw, err := json.Marshal(indexHeader{Version: idx.Version, Index: rec})
	if err != nil {
		return err
	}
	hid := c.headerShard(idx.Version)
	header, err := stripe.SealWhole(key, hid, hraw)
	if err != nil {
		return err
	}
	var errs []error
	for _, cid := range contracts {
		if _, err := c.Put(ctx, cid, hid, bytes.NewReader(header), uint64(len(header)), ShardLeafSize); err != nil {
			errs = append(errs, fmt.Errorf("contract %s: index header %d: %w", cid, idx.Version, err))
			continue
		}
		// The new header is there: the previous one can go (best effort; a restore takes the
		// newest it finds).
		if idx.Version > 0 {
			if err := c.Delete(ctx, cid, c.headerShard(idx.Version-1)); err != nil && !isRefusal(err, CodeNoShard) {
				errs = append(errs, fmt.Errorf("contract %s: removing index header %d: %w", cid, idx.Version-1, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // the previous index stays: some headers may still point to it
	}
	// Every header points to the new index: the previous one's shards can go.
	c.mu.Lock()
	prev := c.index
	c.index = &rec
	c.mu.Unlock()
	if prev != nil {
		for _, sr := range prev.Stripes {
			for _, cm := range sr.Shards {
				if err := c.Delete(ctx, cm.ContractID, cm.ShardID); err != nil && !isRefusal(err, CodeNoShard) {
					errs = append(errs, fmt.Errorf("removing a shard of the previous index: %w", err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// IndexRecord is where the index last saved or restored is (nil: none yet); SetIndexRecord
// tells a customer after a restart, so that the next SaveIndex deletes that index's shards.
func (c *Customer) IndexRecord() *FileRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.index
}

// SetIndexRecord: see IndexRecord.
func (c *Customer) SetIndexRecord(rec *FileRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index = rec
}

func isRefusal(err error, code string) bool {
	var r *RefusedError
	return errors.As(err, &r) && r.Code == code
}

// RestoreIndex finds the newest index header on the suppliers of contracts (adopted or offered
// through this customer), opens it with key, and reads the index back.
func (c *Customer) RestoreIndex(ctx context.Context, key [32]byte, contracts []ledger.ID) (Index, error) {
	var best *indexHeader
	var errs []error
	for _, cid := range contracts {
		cc, err := c.contract(cid)
		if err != nil {
			return Index{}, err
		}
		to, err := PeerID(cc.open.Supplier)
		if err != nil {
			return Index{}, err
		}
		list, err := c.h.ListShards(ctx, to, cid)
		if err != nil {
			errs = append(errs, fmt.Errorf("contract %s: %w", cid, err))
			continue
		}
		prefix := c.headerPrefix()
		for _, info := range list {
			if !bytes.Equal(info.ShardID[:24], prefix[:24]) {
				continue
			}
			version := binary.BigEndian.Uint64(info.ShardID[24:])
			if best != nil && version <= best.Version {
				continue
			}
			var buf bytes.Buffer
			if err := c.h.GetShard(ctx, to, info.Commitment, &buf); err != nil {
				errs = append(errs, fmt.Errorf("contract %s: index header: %w", cid, err))
				continue
			}
			plain, err := stripe.OpenWhole(key, info.ShardID, buf.Bytes())
			if err != nil {
				errs = append(errs, fmt.Errorf("contract %s: index header: %w", cid, err))
				continue
			}
			var h indexHeader
			if err := json.Unmarshal(plain, &h); err != nil {
				errs = append(errs, fmt.Errorf("contract %s: index header: %w", cid, err))
				continue
			}
			if h.Version == version {
				best = &h
			}
		}
	}
	if best == nil {
		return Index{}, fmt.Errorf("%w: %w", ErrNoIndex, errors.Join(errs...))
	}
	var raw bytes.Buffer
	if err := c.GetFile(ctx, key, best.Index, &raw, nil); err != nil {
		return Index{}, fmt.Errorf("index version %d: %w", best.Version, err)
	}
	c.mu.Lock()
	c.index = &best.Index
	c.mu.Unlock()
	var idx Index
	if err := json.Unmarshal(raw.Bytes(), &idx); err != nil {
		return Index{}, fmt.Errorf("index version %d: %w", best.Version, err)
	}
	return idx, nil
}
