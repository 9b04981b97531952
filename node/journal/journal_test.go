package journal

import (
	"crypto/sha256"
	"errors"
	"os"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

func st(kind Kind, name, digest string) Statement {
	return Statement{Kind: kind, Name: sha256.Sum256([]byte(name)), Digest: sha256.Sum256([]byte(digest)), What: name}
}

// TestRecord: the same statement twice is fine; another under the same name is refused, by this
// journal and by another opened on the same file (another process), also after reopening; other
// names, kinds and signers are independent.
func TestRecord(t *testing.T) {
	dir := t.TempDir()
	alice, bob := ledger.PubKey{1}, ledger.PubKey{2}
	j := Open(dir)
	steps := []struct {
		j      *Journal
		signer ledger.PubKey
		st     Statement
		want   error
	}{
		{j, alice, st(KindReceipt, "r1", "a"), nil},
		{j, alice, st(KindReceipt, "r1", "a"), nil},
		{j, alice, st(KindReceipt, "r1", "b"), ErrEquivocation},
		{j, alice, st(KindReceipt, "r2", "b"), nil},
		{j, alice, st(KindAnswer, "r1", "b"), nil},
		{j, bob, st(KindReceipt, "r1", "b"), nil},
		{Open(dir), alice, st(KindReceipt, "r1", "c"), ErrEquivocation},
		{Open(dir), alice, st(KindCommitment, "s", "x"), nil},
		{j, alice, st(KindCommitment, "s", "y"), ErrEquivocation}, // written by the other journal
	}
	for i, s := range steps {
		if err := s.j.Record(s.signer, s.st); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("step %d: got %v, want %v", i, err, s.want)
		}
	}
	if fi, err := os.Stat(j.Path()); err != nil || fi.Size() != 5*recordLen || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal file: %v %v, want %d bytes of mode 0600", fi, err, 5*recordLen)
	}
}

// TestTornAndDamaged: a record torn at the end (a crash mid-write, never synced) is dropped and
// the next record lands aligned; a bad record before the end refuses every signature.
func TestTornAndDamaged(t *testing.T) {
	dir := t.TempDir()
	j := Open(dir)
	if err := j.Record(ledger.PubKey{1}, st(KindReceipt, "r1", "a")); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(make([]byte, 40)) // half a record
	f.Close()
	j2 := Open(dir)
	if err := j2.Record(ledger.PubKey{1}, st(KindReceipt, "r2", "a")); err != nil {
		t.Fatalf("after a torn tail: %v", err)
	}
	if err := Open(dir).Record(ledger.PubKey{1}, st(KindReceipt, "r1", "other")); !errors.Is(err, ErrEquivocation) {
		t.Fatalf("the record before the torn tail was lost: %v", err)
	}
	b, _ := os.ReadFile(j.Path())
	if len(b) != 2*recordLen {
		t.Fatalf("journal is %d bytes, want %d", len(b), 2*recordLen)
	}
	b[10] ^= 1 // damage the first record
	os.WriteFile(j.Path(), b, 0o600)
	if err := Open(dir).Record(ledger.PubKey{1}, st(KindReceipt, "r3", "a")); !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged journal: %v, want ErrDamaged", err)
	}
}

// TestStatements: receipts are named by kind, contract and number, not content; commitments by
// contract and shard; answers by challenge.
func TestStatements(t *testing.T) {
	r1 := &ledger.StorageReceipt{ContractID: ledger.ID{1}, Number: 5, ByteSeconds: 10}
	r2 := &ledger.StorageReceipt{ContractID: ledger.ID{1}, Number: 5, ByteSeconds: 11}
	b := &ledger.BandwidthReceipt{ContractID: ledger.ID{1}, Number: 5}
	s1, _ := Receipt("c", r1)
	s2, _ := Receipt("c", r2)
	sb, _ := Receipt("c", b)
	if s1.Name != s2.Name || s1.Digest == s2.Digest || sb.Name == s1.Name {
		t.Fatal("receipt names or digests")
	}
	if _, err := Receipt("c", &ledger.Payment{}); err == nil {
		t.Fatal("a payment named as a receipt")
	}
	c1 := &ledger.StorageCommitment{ContractID: ledger.ID{1}, ShardID: ledger.ID{2}, Root: ledger.ID{3}}
	c2 := *c1
	c2.Root = ledger.ID{4}
	if Commitment("c", c1).Name != Commitment("c", &c2).Name || Commitment("c", c1).Digest == Commitment("c", &c2).Digest {
		t.Fatal("commitment names or digests")
	}
	a1 := &ledger.AuditResult{ContractID: ledger.ID{1}, Number: 5, Passed: true}
	a2 := *a1
	a2.Passed = false
	a3 := *a1
	a3.Number = 6
	if Audit("c", a1).Name != Audit("c", &a2).Name || Audit("c", a1).Digest == Audit("c", &a2).Digest || Audit("c", &a3).Name == Audit("c", a1).Name {
		t.Fatal("audit result names or digests: one name per contract and number, the outcome in the digest")
	}
	m1 := &ledger.MisbehaviorReport{Accused: ledger.PubKey{1}, Misconduct: ledger.MisconductDataCorrupted, EvidenceDigest: ledger.ID{2}}
	m2 := *m1
	m2.Misconduct = ledger.MisconductDataLost
	m3 := *m1
	m3.EvidenceDigest = ledger.ID{3}
	if Report("c", m1).Name != Report("c", &m2).Name || Report("c", m1).Digest == Report("c", &m2).Digest || Report("c", &m3).Name == Report("c", m1).Name {
		t.Fatal("report names or digests: one name per accused and evidence, the claim in the digest")
	}
}
