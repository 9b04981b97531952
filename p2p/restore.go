package p2p

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trustledger/trustledger/ledger"
)

// OpenContract is a contract open in the ledger with this supplier, and the highest storage
// receipt number recorded for it.
type OpenContract struct {
	Open ledger.ContractOpen
	// StorageReceipts and BandwidthReceipts are the highest receipt numbers of each kind the
	// ledger has recorded: numbering goes on after them.
	StorageReceipts, BandwidthReceipts uint64
}

// Restore gives a supplier that has not served yet the contracts it agreed to that are open in
// the ledger (its countersignature is on each), and takes back from its directory the shards it
// keeps under them: after a restart of the node it answers as before. A shard is taken back
// when its commitment file verifies as the supplier's own and its bytes are there; leftovers of
// a put that a crash interrupted (temporary files, a commitment without its shard) are removed,
// and so are the shards of contracts no longer open. Storage receipts go on from the ledger's
// highest number, counting from now (the customer's records of before are gone with its own
// restart, or hold what it already countersigned). It returns how many shards it took back.
func (s *Supplier) Restore(key ledger.PubKey, open []OpenContract) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h != nil || len(s.contracts) > 0 {
		return 0, errors.New("restore a supplier before it serves")
	}
	now := s.now().Unix()
	for _, oc := range open {
		o := oc.Open
		if o.Supplier != key {
			return 0, fmt.Errorf("contract %s is %s's, not this supplier's", o.ContractID, o.Supplier)
		}
		o.Countersig = ledger.Sig{}
		s.contracts[o.ContractID] = &agreement{open: o, digest: sha256.Sum256(ledger.CountersignBytes(s.cfg.ChainID, &o)),
			nextReceipt: oc.StorageReceipts + 1, periodEnd: now, nextBandwidth: oc.BandwidthReceipts + 1}
		s.committed += o.Bytes
	}
	dirs, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return 0, err
	}
	kept := 0
	for _, d := range dirs {
		var contract ledger.ID
		if err := contract.UnmarshalJSON([]byte(`"` + d.Name() + `"`)); err != nil || !d.IsDir() {
			continue // not ours
		}
		dir := filepath.Join(s.cfg.Dir, d.Name())
		ag, open := s.contracts[contract]
		if !open {
			if err := os.RemoveAll(dir); err != nil {
				return kept, err
			}
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			return kept, err
		}
		for _, f := range files {
			name := f.Name()
			path := filepath.Join(dir, name)
			switch {
			case strings.HasPrefix(name, "."): // an interrupted put, or commitment write
				_ = os.Remove(path)
				continue
			case !strings.HasSuffix(name, ".commitment"):
				continue
			}
			shardPath := strings.TrimSuffix(path, ".commitment")
			c, err := readCommitment(path)
			info, statErr := os.Stat(shardPath)
			if err != nil || statErr != nil || c.ContractID != contract || c.Supplier != key || c.Customer != ag.open.Customer ||
				!ledger.VerifyCommitment(s.cfg.ChainID, &c) || uint64(info.Size()) != c.Size {
				_ = os.Remove(path) // the shard never became the supplier's (or is not what it signed)
				_ = os.Remove(shardPath)
				continue
			}
			s.shards[c.Digest(s.cfg.ChainID)] = &heldShard{commitment: c, path: shardPath, since: now}
			ag.used += c.Size
			kept++
		}
	}
	return kept, nil
}

func readCommitment(path string) (ledger.StorageCommitment, error) {
	var c ledger.StorageCommitment
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}
