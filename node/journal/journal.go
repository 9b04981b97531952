// Package journal keeps, for every key of a home, each statement it signed that could become
// evidence against it (receipts it countersigned, storage commitments, audit answers, audit
// results and reports it filed, payments it made or acknowledged), under the
// statement's name, before the signature exists. A node never signs two different statements
// under one name: Record refuses the second with ErrEquivocation, also across processes and
// after a crash (specs/events.md R-EVID-3).
//
// The journal is <home>/journal/signed.log: fixed records of kind (1 byte), signer (32), name
// (32), digest (32) and a CRC-32C of those (4), appended under an exclusive flock and fsynced
// before Record returns. A record torn by a crash is at the end and was never fsynced, so no
// signature followed it; it is dropped on the next open. A bad record elsewhere is damage, and
// the journal refuses to sign rather than guess.
package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/trustledger/trustledger/ledger"
)

// Kind is the kind of a journaled statement.
type Kind uint8

const (
	KindReceipt    Kind = 1 // a storage or bandwidth receipt countersigned (R-EVID-2)
	KindCommitment Kind = 2 // a storage commitment signed (R-AUDIT-1)
	KindAnswer     Kind = 3 // an audit answer signed (R-AUDIT-2)
	KindAudit      Kind = 4 // an audit result claimed by the customer (R-AUD-2: one result a number)
	KindReport     Kind = 5 // a misbehaviour report on a piece of evidence
	KindPayment    Kind = 6 // a payment made or acknowledged (one payment an id)
)

func (k Kind) String() string {
	switch k {
	case KindReceipt:
		return "receipt"
	case KindCommitment:
		return "storage commitment"
	case KindAnswer:
		return "audit answer"
	case KindAudit:
		return "audit result"
	case KindReport:
		return "misbehaviour report"
	case KindPayment:
		return "payment"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// Statement is one thing a key signs: its kind, its name (what two statements must not share)
// and the digest of exactly what is signed.
type Statement struct {
	Kind   Kind
	Name   ledger.ID
	Digest ledger.ID
	What   string // for messages: the statement's name in words
}

// ErrEquivocation is returned when a key already signed another statement under the name.
var ErrEquivocation = errors.New("refusing to sign a second, different statement under a name already signed")

// ErrDamaged is returned when the journal holds a bad record before its end.
var ErrDamaged = errors.New("signing journal damaged")

const recordLen = 1 + 32 + 32 + 32 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type slot struct {
	kind   Kind
	signer ledger.PubKey
	name   ledger.ID
}

// Journal is a home's signing journal. It is safe for concurrent use, and several processes
// may use the same file.
type Journal struct {
	path string

	mu     sync.Mutex
	seen   map[slot]ledger.ID
	offset int64 // bytes of the file already read into seen
}

// Open returns the journal in dir (created at the first Record).
func Open(dir string) *Journal {
	return &Journal{path: filepath.Join(dir, "signed.log"), seen: map[slot]ledger.ID{}}
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Record writes that signer is about to sign st, durably, or refuses with ErrEquivocation if
// signer signed another statement under st's name. The same statement again is fine (a signature
// lost in a crash can be made again: ed25519 gives the same one). Sign only after it returns nil.
func (j *Journal) Record(signer ledger.PubKey, st Statement) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("signing journal: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock signing journal: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := j.catchUp(f); err != nil {
		return err
	}
	key := slot{st.Kind, signer, st.Name}
	if prev, ok := j.seen[key]; ok {
		if prev == st.Digest {
			return nil
		}
		return fmt.Errorf("%w: key %s already signed another %s (%s; signed %s, now asked %s)",
			ErrEquivocation, signer, st.Kind, st.What, short(prev), short(st.Digest))
	}
	rec := make([]byte, 0, recordLen)
	rec = append(rec, byte(st.Kind))
	rec = append(rec, signer[:]...)
	rec = append(rec, st.Name[:]...)
	rec = append(rec, st.Digest[:]...)
	rec = binary.BigEndian.AppendUint32(rec, crc32.Checksum(rec, castagnoli))
	if _, err := f.WriteAt(rec, j.offset); err != nil {
		return fmt.Errorf("write signing journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync signing journal: %w", err)
	}
	if j.offset == 0 {
		syncDir(filepath.Dir(j.path))
	}
	j.seen[key] = st.Digest
	j.offset += recordLen
	return nil
}

// catchUp reads the records other processes appended since the last call. A torn record at the
// end is cut off; a bad one before the end is ErrDamaged.
func (j *Journal) catchUp(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size < j.offset {
		return fmt.Errorf("%w: %s shrank from %d to %d bytes", ErrDamaged, j.path, j.offset, size)
	}
	buf := make([]byte, size-j.offset)
	if _, err := f.ReadAt(buf, j.offset); err != nil {
		return fmt.Errorf("read signing journal: %w", err)
	}
	for len(buf) >= recordLen {
		rec := buf[:recordLen]
		if crc32.Checksum(rec[:recordLen-4], castagnoli) != binary.BigEndian.Uint32(rec[recordLen-4:]) {
			if len(buf) == recordLen { // the last record, torn: never synced, never signed
				break
			}
			return fmt.Errorf("%w: bad record at byte %d of %s", ErrDamaged, j.offset, j.path)
		}
		var s slot
		s.kind = Kind(rec[0])
		copy(s.signer[:], rec[1:33])
		copy(s.name[:], rec[33:65])
		var d ledger.ID
		copy(d[:], rec[65:97])
		j.seen[s] = d
		j.offset += recordLen
		buf = buf[recordLen:]
	}
	if j.offset < size { // a torn tail: drop it so the next record lands aligned
		if err := f.Truncate(j.offset); err != nil {
			return fmt.Errorf("cut torn record of signing journal: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func short(id ledger.ID) string { return id.String()[:16] }

func name(parts ...[]byte) ledger.ID {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var id ledger.ID
	copy(id[:], h.Sum(nil))
	return id
}

// Receipt is the statement of countersigning a storage or bandwidth receipt: named by its kind,
// contract and number (the double-sign slot of R-EVID-2).
func Receipt(chainID string, ev ledger.Event) (Statement, error) {
	contract, number, ok := ledger.ReceiptSlot(ev)
	if !ok {
		return Statement{}, fmt.Errorf("%s is not a receipt", ev.Kind())
	}
	return Statement{Kind: KindReceipt,
		Name:   name([]byte("receipt"), []byte{byte(ev.Kind())}, contract[:], binary.BigEndian.AppendUint64(nil, number)),
		Digest: sha256.Sum256(ledger.CountersignBytes(chainID, ev)),
		What:   fmt.Sprintf("%s number %d of contract %s", ev.Kind(), number, contract)}, nil
}

// Commitment is the statement of a storage commitment: named by its contract and shard.
func Commitment(chainID string, c *ledger.StorageCommitment) Statement {
	return Statement{Kind: KindCommitment, Name: name([]byte("commitment"), c.ContractID[:], c.ShardID[:]),
		Digest: c.Digest(chainID), What: fmt.Sprintf("shard %s of contract %s", c.ShardID, c.ContractID)}
}

// Answer is the statement of an audit answer: named by its challenge.
func Answer(chainID string, a *ledger.AuditAnswer) Statement {
	ch := a.Challenge
	d := ch.Digest()
	return Statement{Kind: KindAnswer, Name: name([]byte("answer"), d[:]),
		Digest: sha256.Sum256(ledger.AnswerBytes(chainID, ch, a.LeafDigests())),
		What:   fmt.Sprintf("challenge %s (audit %d)", d, ch.Number)}
}

// Audit is the statement of an audit result the customer submits: named by its contract and
// number, so that a customer never claims two outcomes of one audit.
func Audit(chainID string, r *ledger.AuditResult) Statement {
	return Statement{Kind: KindAudit,
		Name:   name([]byte("audit result"), r.ContractID[:], binary.BigEndian.AppendUint64(nil, r.Number)),
		Digest: sha256.Sum256(ledger.CountersignBytes(chainID, r)),
		What:   fmt.Sprintf("audit %d of contract %s", r.Number, r.ContractID)}
}

// Report is the statement of a misbehaviour report: named by the accused and the evidence
// digest, so that a node never files two different reports on one piece of evidence.
func Report(chainID string, r *ledger.MisbehaviorReport) Statement {
	return Statement{Kind: KindReport, Name: name([]byte("report"), r.Accused[:], r.EvidenceDigest[:]),
		Digest: sha256.Sum256(ledger.CountersignBytes(chainID, r)),
		What:   fmt.Sprintf("report on %s with evidence %s", r.Accused, r.EvidenceDigest)}
}

// Payment is the statement of a payment, signed by its payer or acknowledged by its payee:
// named by the payment id, so that neither party signs two different payments under one id.
func Payment(chainID string, p *ledger.Payment) Statement {
	return Statement{Kind: KindPayment, Name: name([]byte("payment"), p.PaymentID[:]),
		Digest: sha256.Sum256(ledger.CountersignBytes(chainID, p)),
		What:   fmt.Sprintf("payment %s of %d to %s", p.PaymentID, p.Amount, p.Payee)}
}
