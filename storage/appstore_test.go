package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// forTreeKinds runs a test against a store of each kind of state tree.
func forTreeKinds(t *testing.T, test func(t *testing.T, opts []Option)) {
	for _, k := range treeKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.opts) })
	}
}

func openStore(t *testing.T, dir string, opts ...Option) *AppStore {
	t.Helper()
	s, err := OpenAppStore(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// receiptRecord is a committed bandwidth receipt of bytes at (h, tx, event) in the tx txHash,
// signed by the supplier, with its parties as the state machine derives them.
func receiptRecord(h int64, tx, event uint32, txHash ledger.ID, supplier, customer ledger.PubKey, bytes uint64) ledger.EventRecord {
	ev := &ledger.BandwidthReceipt{Number: bytes + 1, Customer: customer, Supplier: supplier, Bytes: bytes}
	r := ledger.EventRecord{Height: h, TxIndex: tx, EventIndex: event, TxHash: txHash, Signer: supplier,
		Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev}
	r.Subject, r.Counterparty = ledger.SubjectAndCounterparty(ev, r.Signer)
	return r
}

// TestAppStoreAgainstMap writes random keys over many versions, and after every commit (and
// after reopening) compares each committed version with a map model of that version.
func TestAppStoreAgainstMap(t *testing.T) { forTreeKinds(t, testAppStoreAgainstMap) }

func testAppStoreAgainstMap(t *testing.T, opts []Option) {
	dir := t.TempDir()
	s := openStore(t, dir, opts...)
	rng := rand.New(rand.NewSource(7))
	models := []map[string]string{{}}
	hashes := [][]byte{nil}
	for h := int64(1); h <= 15; h++ {
		m := map[string]string{}
		for k, v := range models[h-1] {
			m[k] = v
		}
		for i := 0; i < 40; i++ {
			k, v := fmt.Sprintf("k%03d", rng.Intn(100)), fmt.Sprintf("v%d.%d", h, i)
			if err := s.Set([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			m[k] = v
		}
		hash, err := s.Commit(h, nil)
		if err != nil {
			t.Fatal(err)
		}
		models, hashes = append(models, m), append(hashes, hash)
	}
	check := func(s *AppStore) {
		for h := int64(1); h <= 15; h++ {
			for i := 0; i < 100; i++ {
				k := fmt.Sprintf("k%03d", i)
				got, _, err := s.GetCommitted(h, []byte(k))
				if err != nil {
					t.Fatal(err)
				}
				want, ok := models[h][k]
				if (got == nil) == ok || (ok && string(got) != want) {
					t.Fatalf("height %d key %s: got %q, want %q", h, k, got, want)
				}
			}
		}
	}
	check(s)
	s.Close()
	s = openStore(t, dir, opts...)
	defer s.Close()
	if h, hash := s.LastCommit(); h != 15 || !bytes.Equal(hash, hashes[15]) {
		t.Fatalf("reopened at %d %X, want 15 %X", h, hash, hashes[15])
	}
	check(s)
}

// TestCrashBetweenSaveAndMarker saves a tree version without its marker, as a crash inside Commit
// would, and checks the store reopens at the marker with the version discarded.
func TestCrashBetweenSaveAndMarker(t *testing.T) { forTreeKinds(t, testCrashBetweenSaveAndMarker) }

func testCrashBetweenSaveAndMarker(t *testing.T, opts []Option) {
	dir := t.TempDir()
	s := openStore(t, dir, opts...)
	_ = s.Set([]byte("a"), []byte("1"))
	hash1, err := s.Commit(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Set([]byte("a"), []byte("2"))
	if _, _, err := s.tree.SaveVersion(); err != nil { // tree saved, marker never written
		t.Fatal(err)
	}
	s.Close()

	s = openStore(t, dir, opts...)
	if h, hash := s.LastCommit(); h != 1 || !bytes.Equal(hash, hash1) {
		t.Fatalf("reopened at %d %X, want 1 %X", h, hash, hash1)
	}
	if v, _ := s.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("a = %q after recovery, want 1", v)
	}
	// Replaying block 2 with different content commits cleanly at height 2.
	_ = s.Set([]byte("a"), []byte("3"))
	if _, err := s.Commit(2, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir, opts...)
	defer s.Close()
	if v, _ := s.Get([]byte("a")); string(v) != "3" {
		t.Fatalf("a = %q, want 3", v)
	}
}

func TestUncommittedWritesVanish(t *testing.T) { forTreeKinds(t, testUncommittedWritesVanish) }

func testUncommittedWritesVanish(t *testing.T, opts []Option) {
	dir := t.TempDir()
	s := openStore(t, dir, opts...)
	_ = s.Set([]byte("a"), []byte("1"))
	s.Close()
	s = openStore(t, dir, opts...)
	defer s.Close()
	if v, _ := s.Get([]byte("a")); v != nil {
		t.Fatalf("uncommitted write survived: %q", v)
	}
}

func TestProofs(t *testing.T) { forTreeKinds(t, testProofs) }

func testProofs(t *testing.T, opts []Option) {
	s := openStore(t, t.TempDir(), opts...)
	defer s.Close()
	for i := 0; i < 50; i++ {
		_ = s.Set([]byte(fmt.Sprintf("k%02d", i)), []byte(fmt.Sprintf("v%02d", i)))
	}
	hash, err := s.Commit(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Set([]byte("k07"), []byte("changed"))
	if _, err := s.Commit(2, nil); err != nil {
		t.Fatal(err)
	}
	v, proof, h, err := s.Prove(1, []byte("k07"))
	p7 := proof
	if err != nil || h != 1 || string(v) != "v07" {
		t.Fatalf("prove: %q %d %v", v, h, err)
	}
	if err := api.VerifyProof(hash, []byte("k07"), v, api.ProofOps([]byte("k07"), proof)); err != nil {
		t.Fatalf("valid proof rejected: %v", err)
	}
	cases := []struct {
		name       string
		root, k, v []byte
	}{
		{"tampered value", hash, []byte("k07"), []byte("v08")},
		{"other key", hash, []byte("k08"), v},
		{"other root", append([]byte{hash[0] ^ 1}, hash[1:]...), []byte("k07"), v},
	}
	for _, c := range cases {
		if err := api.VerifyProof(c.root, c.k, c.v, api.ProofOps([]byte("k07"), proof)); !errors.Is(err, api.ErrProofInvalid) {
			t.Errorf("%s: got %v, want api.ErrProofInvalid", c.name, err)
		}
	}
	absent, proof, _, err := s.Prove(1, []byte("nope"))
	if err != nil || absent != nil {
		t.Fatal(absent, err)
	}
	if err := api.VerifyProof(hash, []byte("nope"), nil, api.ProofOps([]byte("nope"), proof)); err != nil {
		t.Errorf("absence proof rejected: %v", err)
	}
	if err := api.VerifyProof(hash, []byte("nope"), []byte("x"), api.ProofOps([]byte("nope"), proof)); !errors.Is(err, api.ErrProofInvalid) {
		t.Errorf("absence proof passed off as a value: %v", err)
	}
	if err := api.VerifyProof(hash, []byte("k07"), nil, api.ProofOps([]byte("k07"), p7)); !errors.Is(err, api.ErrProofInvalid) {
		t.Errorf("existence proof passed off as absence: %v", err)
	}
}

func TestIndexPaging(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	a, b, c := ledger.PubKey{1}, ledger.PubKey{2}, ledger.PubKey{3}
	var recs []ledger.EventRecord
	for i := 0; i < 7; i++ {
		subj, cp := a, b
		if i%2 == 1 {
			subj, cp = b, a
		}
		if i == 6 {
			subj, cp = c, a
		}
		recs = append(recs, receiptRecord(1, uint32(i/2), uint32(i%2), ledger.ID{byte(i / 2)}, subj, cp, uint64(i)))
	}
	if err := s.index(recs); err != nil {
		t.Fatal(err)
	}
	pair := [2]ledger.PubKey{b, a}
	var got []uint64
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		p, err := s.Events(Filter{Pair: &pair}, cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			got = append(got, r.Event.(*ledger.BandwidthReceipt).Bytes)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[0 1 2 3 4 5]" {
		t.Errorf("pair a-b events: got %v, want [0 1 2 3 4 5]", got)
	}
	p, _ := s.Events(Filter{Node: &c}, "", 10)
	if len(p.Records) != 1 || p.Next != "" {
		t.Errorf("node c: got %d records, next %q", len(p.Records), p.Next)
	}
	txs, _ := s.TxEvents(ledger.ID{1})
	if len(txs) != 2 || txs[0].EventIndex != 0 || txs[1].EventIndex != 1 || txs[1].TxHash != (ledger.ID{1}) {
		t.Errorf("tx 1 events: got %+v", txs)
	}
	// One event per page: a page that starts at a tx's second event still gives the whole
	// record back (the tx hash is stored with the tx's first event only).
	cursor = ""
	for i := range recs {
		p, err := s.Events(Filter{}, cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(recs[i : i+1])
		if got, _ := json.Marshal(p.Records); string(got) != string(want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		cursor = p.Next
	}
	if _, err := s.Events(Filter{}, "zz", 5); err == nil {
		t.Error("bad cursor accepted")
	}
}

// TestNodeNumbers: the by-node and by-pair indexes name nodes by local numbers; numbers survive a
// reopen, new nodes continue the count, and a node in no event lists nothing.
func TestNodeNumbers(t *testing.T) {
	dir := t.TempDir()
	a, b, c := ledger.PubKey{1}, ledger.PubKey{2}, ledger.PubKey{3}
	rec := func(h int64, supplier, customer ledger.PubKey) ledger.EventRecord {
		return receiptRecord(h, 0, 0, ledger.ID{byte(h)}, supplier, customer, uint64(h))
	}
	s := openStore(t, dir)
	if _, err := s.Commit(1, []ledger.EventRecord{rec(1, a, b)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	second := rec(2, b, c)
	second.TxIndex, second.TxHash = 1, ledger.ID{9}
	if _, err := s.Commit(2, []ledger.EventRecord{rec(2, c, a), second}); err != nil {
		t.Fatal(err)
	}
	heights := func(f Filter) string {
		p, err := s.Events(f, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var hs []int64
		for _, r := range p.Records {
			hs = append(hs, r.Height)
		}
		return fmt.Sprint(hs)
	}
	for _, c := range []struct {
		name string
		f    Filter
		want string
	}{
		{"node a", Filter{Node: &a}, "[1 2]"},
		{"node b", Filter{Node: &b}, "[1 2]"},
		{"node c", Filter{Node: &c}, "[2 2]"},
		{"pair a-c", Filter{Pair: &[2]ledger.PubKey{a, c}}, "[2]"},
		{"pair c-a", Filter{Pair: &[2]ledger.PubKey{c, a}}, "[2]"},
		{"pair a-b", Filter{Pair: &[2]ledger.PubKey{b, a}}, "[1]"},
		{"a node in no event", Filter{Node: &ledger.PubKey{9}}, "[]"},
		{"a pair with such a node", Filter{Pair: &[2]ledger.PubKey{a, {9}}}, "[]"},
	} {
		if got := heights(c.f); got != c.want {
			t.Errorf("%s: heights %s, want %s", c.name, got, c.want)
		}
	}
	if raw, _ := s.db.Get(keyNodeCount); binary.BigEndian.Uint32(raw) != 3 {
		t.Errorf("node count %x, want 3", raw)
	}
}

func TestLayoutMarker(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if _, err := s.Commit(1, nil); err != nil {
		t.Fatal(err)
	}
	if raw, _ := s.db.Get(keyLayout); len(raw) != 4 || binary.BigEndian.Uint32(raw) != Layout {
		t.Fatalf("layout marker %x, want %d", raw, Layout)
	}
	// A database with committed state and no marker was written before layout 2.
	if err := s.db.Delete(keyLayout); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenAppStore(dir); err == nil || !strings.Contains(err.Error(), "layout 1") {
		t.Fatalf("opening a layout-1 database: %v, want an error naming layout 1", err)
	}
	re, err := OpenBadger(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = re.Set(keyLayout, []byte{0, 0, 0, 2})
	re.Close()
	if _, err := OpenAppStore(dir); err == nil || !strings.Contains(err.Error(), "layout 2") || !strings.Contains(err.Error(), "trustd reset") {
		t.Fatalf("opening a layout-2 database: %v, want an error naming layout 2 and what to do", err)
	}
	re, err = OpenBadger(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = re.Set(keyLayout, []byte{0, 0, 0, 9})
	re.Close()
	if _, err := OpenAppStore(dir); err == nil || !strings.Contains(err.Error(), "layout 00000009") {
		t.Fatalf("opening a layout-9 database: %v", err)
	}
}

func TestRollback(t *testing.T) { forTreeKinds(t, testRollback) }

func testRollback(t *testing.T, opts []Option) {
	dir := t.TempDir()
	s := openStore(t, dir, opts...)
	var hashes [][]byte
	for h := int64(1); h <= 3; h++ {
		_ = s.Set([]byte("k"), []byte{byte(h)})
		rec := receiptRecord(h, 0, 0, ledger.ID{byte(h)}, ledger.PubKey{1}, ledger.PubKey{2}, uint64(h))
		hash, err := s.Commit(h, []ledger.EventRecord{rec})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hash)
	}
	if _, err := s.Rollback(3); err == nil {
		t.Fatal("rollback to the current height accepted")
	}
	hash, err := s.Rollback(1)
	if err != nil || !bytes.Equal(hash, hashes[0]) {
		t.Fatalf("rollback: %X %v, want %X", hash, err, hashes[0])
	}
	page, _ := s.Events(Filter{}, "", 10)
	if len(page.Records) != 1 {
		t.Fatalf("%d events after rollback to 1, want 1", len(page.Records))
	}
	if evs, _ := s.TxEvents(ledger.ID{3}); evs != nil {
		t.Fatal("tx index of height 3 survived the rollback")
	}
	s.Close()
	s = openStore(t, dir, opts...)
	defer s.Close()
	if h, hh := s.LastCommit(); h != 1 || !bytes.Equal(hh, hashes[0]) {
		t.Fatalf("reopened at %d", h)
	}
	_ = s.Set([]byte("k"), []byte{2})
	if got, err := s.Commit(2, nil); err != nil || !bytes.Equal(got, hashes[1]) {
		t.Fatalf("recommit of height 2: %X %v, want %X", got, err, hashes[1])
	}
}

func TestReplaceIndex(t *testing.T) {
	rec := func(h int64, i uint32, b uint64) ledger.EventRecord {
		return receiptRecord(h, 0, i, ledger.ID{byte(h)}, ledger.PubKey{1}, ledger.PubKey{2}, b)
	}
	dst, src := openStore(t, t.TempDir()), openStore(t, t.TempDir())
	defer dst.Close()
	defer src.Close()
	for h := int64(1); h <= 2; h++ {
		if _, err := dst.Commit(h, []ledger.EventRecord{rec(h, 0, 1)}); err != nil { // a stale or damaged index
			t.Fatal(err)
		}
		if _, err := src.Commit(h, []ledger.EventRecord{rec(h, 0, 7), rec(h, 1, 8)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.ReplaceIndex(src); err != nil {
		t.Fatal(err)
	}
	a, _ := dst.Events(Filter{}, "", 100)
	b, _ := src.Events(Filter{}, "", 100)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if len(a.Records) != 4 || string(ja) != string(jb) {
		t.Fatalf("after ReplaceIndex: %d records, want the 4 of the source", len(a.Records))
	}
	_, _ = src.Commit(3, nil)
	if err := dst.ReplaceIndex(src); err == nil {
		t.Fatal("an index from another height was accepted")
	}
}
