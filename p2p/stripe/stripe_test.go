package stripe

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/ledger/shard"
)

func testData(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testKey(t *testing.T, name string) [32]byte {
	s := sha256.Sum256([]byte(name))
	k, err := Key(ed25519.NewKeyFromSeed(s[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAnyKShardsGiveTheBytesBack (P-9): for each size and shape, every way of losing M shards
// still gives the plaintext back byte for byte; losing one more is ErrTooFewShards.
func TestAnyKShardsGiveTheBytesBack(t *testing.T) {
	key := testKey(t, "alice")
	for _, c := range []struct{ size, k, m int }{{0, 4, 2}, {1, 4, 2}, {1000, 4, 2}, {1 << 20, 4, 2}, {12345, 3, 3}, {500, 1, 0}, {500, 2, 0}, {777, 10, 4}} {
		t.Run(fmt.Sprintf("%d bytes %d+%d", c.size, c.k, c.m), func(t *testing.T) {
			plain := testData(c.size)
			id := sha256.Sum256([]byte(fmt.Sprint(c)))
			s, shards, err := Seal(key, id, plain, c.k, c.m)
			if err != nil {
				t.Fatal(err)
			}
			if len(shards) != c.k+c.m || s.Size != uint64(c.size) {
				t.Fatalf("%d shards, size %d", len(shards), s.Size)
			}
			if got := ShardSize(uint64(c.size), c.k); uint64(len(shards[0])) != got {
				t.Fatalf("shards of %d bytes; ShardSize says %d", len(shards[0]), got)
			}
			for _, sh := range shards {
				if len(sh) != len(shards[0]) {
					t.Fatal("shards of different lengths")
				}
				if c.size >= 64 && bytes.Contains(sh, plain[:32]) {
					t.Fatal("a shard holds the plaintext")
				}
			}
			n := c.k + c.m
			for lost := 0; lost < 1<<n; lost++ {
				missing := popcount(lost)
				if missing > c.m+1 {
					continue
				}
				have := make([][]byte, n)
				for i := range have {
					if lost&(1<<i) == 0 {
						have[i] = shards[i]
					}
				}
				got, err := Open(key, s, have)
				switch {
				case missing <= c.m && (err != nil || !bytes.Equal(got, plain)):
					t.Fatalf("lost %b: %v", lost, err)
				case missing > c.m && !errors.Is(err, ErrTooFewShards):
					t.Fatalf("lost %b (%d of %d+%d): %v, want ErrTooFewShards", lost, missing, c.k, c.m, err)
				}
			}
		})
	}
}

// TestHashesAreCommitmentRoots (P-9): a stripe names each shard by the root of its commitment
// tree (the root its supplier signs, leaves of LeafSize), and a stripe sealed before, named by
// SHA-256 with no leaf size, still opens and still tells a damaged shard.
func TestHashesAreCommitmentRoots(t *testing.T) {
	key := testKey(t, "alice")
	plain := testData(70_000)
	s, shards, err := Seal(key, ledger.ID{3}, plain, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.LeafSize != shard.DefaultLeafSize {
		t.Fatalf("leaf size %d, want %d", s.LeafSize, shard.DefaultLeafSize)
	}
	for i, sh := range shards {
		tree, err := shard.Build(bytes.NewReader(sh), uint64(len(sh)), s.LeafSize)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tree.Root(), s.Hashes[i][:]) {
			t.Fatalf("shard %d: hash %s is not its tree root %x", i, s.Hashes[i], tree.Root())
		}
	}
	old := s
	old.LeafSize, old.Hashes = 0, make([]ledger.ID, len(shards))
	for i, sh := range shards {
		old.Hashes[i] = sha256.Sum256(sh)
	}
	damaged := slices.Clone(shards)
	damaged[0] = slices.Clone(shards[0])
	damaged[0][5] ^= 1
	damaged[2] = nil
	for _, st := range []Stripe{s, old} {
		if got, err := Open(key, st, damaged); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("leaf size %d: one damaged and one missing of 4+2: %v", st.LeafSize, err)
		}
		if _, err := Rebuild(st, damaged, []int{0}); err != nil {
			t.Fatalf("leaf size %d: rebuilding the damaged shard: %v", st.LeafSize, err)
		}
		damaged[4] = nil
		if _, err := Open(key, st, damaged); !errors.Is(err, ErrTooFewShards) {
			t.Fatalf("leaf size %d: the damaged shard was taken: %v", st.LeafSize, err)
		}
		damaged[4] = shards[4]
	}
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// TestDamageAndKeys (P-9): a damaged shard counts as missing; the wrong key, or the shards of
// one stripe presented as another, do not decrypt; bad shapes are refused.
func TestDamageAndKeys(t *testing.T) {
	key := testKey(t, "alice")
	plain := testData(100_000)
	id := ledger.ID{1}
	s, shards, err := Seal(key, id, plain, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	damaged := append([][]byte(nil), shards...)
	damaged[1] = append([]byte(nil), shards[1]...)
	damaged[1][10] ^= 1
	damaged[3] = nil
	if got, err := Open(key, s, damaged); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("one damaged and one missing of 4+2: %v", err)
	}
	damaged[5] = nil
	if _, err := Open(key, s, damaged); !errors.Is(err, ErrTooFewShards) {
		t.Fatalf("one damaged and two missing of 4+2: %v, want ErrTooFewShards", err)
	}
	if _, err := Open(testKey(t, "mallory"), s, shards); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v, want ErrDecrypt", err)
	}
	other := s
	other.ID = ledger.ID{2}
	if _, err := Open(key, other, shards); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another stripe's id: %v, want ErrDecrypt", err)
	}
	for _, shape := range [][2]int{{0, 2}, {4, -1}, {40, 30}} {
		if _, _, err := Seal(key, id, plain, shape[0], shape[1]); !errors.Is(err, ErrShape) {
			t.Errorf("shape %v: %v, want ErrShape", shape, err)
		}
	}
	if _, err := Open(key, s, shards[:5]); !errors.Is(err, ErrShape) {
		t.Fatalf("five shards of 4+2: %v, want ErrShape", err)
	}
	// Sealing twice gives different shards (a fresh nonce): nothing links two backups of the
	// same file.
	_, again, err := Seal(key, id, plain, 4, 2)
	if err != nil || bytes.Equal(again[0], shards[0]) {
		t.Fatalf("sealing twice: %v, same first shard %v", err, err == nil && bytes.Equal(again[0], shards[0]))
	}
	if _, err := Key(ed25519.PrivateKey{1, 2}); err == nil {
		t.Fatal("a backup key from a truncated node key")
	}
}

// TestWhole: what SealWhole seals opens with the key and id alone, and with no other.
func TestWhole(t *testing.T) {
	key := testKey(t, "alice")
	sh, err := SealWhole(key, ledger.ID{3}, []byte("the index's descriptor"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenWhole(key, ledger.ID{3}, sh); err != nil || string(got) != "the index's descriptor" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := OpenWhole(key, ledger.ID{4}, sh); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another id: %v", err)
	}
	if _, err := OpenWhole(testKey(t, "bob"), ledger.ID{3}, sh); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another key: %v", err)
	}
	if _, err := OpenWhole(key, ledger.ID{3}, sh[:10]); !errors.Is(err, ErrShape) {
		t.Fatalf("truncated: %v", err)
	}
}

// TestRebuild (P-9, issue 14's repair): any lost shards, data or parity, are rebuilt from K
// others exactly as they were; too few is ErrTooFewShards; a bad position is refused.
func TestRebuild(t *testing.T) {
	key := testKey(t, "alice")
	s, shards, err := Seal(key, sha256.Sum256([]byte("rebuild")), testData(100_000), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, lost := range [][]int{{0}, {5}, {1, 4}, {2, 3}} {
		have := slices.Clone(shards)
		for _, i := range lost {
			have[i] = nil
		}
		got, err := Rebuild(s, have, lost)
		if err != nil {
			t.Fatalf("lost %v: %v", lost, err)
		}
		for j, i := range lost {
			if !bytes.Equal(got[j], shards[i]) {
				t.Fatalf("lost %v: shard %d rebuilt differently", lost, i)
			}
		}
	}
	// A wanted shard given as room is rebuilt there; a shard given with bytes is left alone
	// (and rebuilt elsewhere); a missing one not wanted does not stop it.
	s3, shards3, err := Seal(key, sha256.Sum256([]byte("rebuild 3+3")), testData(100_000), 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	have := slices.Clone(shards3)
	room := make([]byte, 0, len(shards3[1]))
	given := slices.Clone(shards3[2])
	have[1], have[2], have[5] = room, given, nil
	got, err := Rebuild(s3, have, []int{1, 2})
	if err != nil || !bytes.Equal(got[0], shards3[1]) || !bytes.Equal(got[1], shards3[2]) {
		t.Fatalf("rebuilding 1 and 2: %v", err)
	}
	if &got[0][0] != &room[:1][0] || &got[1][0] == &given[0] || !bytes.Equal(given, shards3[2]) {
		t.Fatal("shard 1 was not rebuilt in the room given, or shard 2 was rebuilt over the bytes given")
	}
	have = slices.Clone(shards)
	have[0], have[1], have[2] = nil, nil, nil
	if _, err := Rebuild(s, have, []int{0}); !errors.Is(err, ErrTooFewShards) {
		t.Fatalf("three lost of 4+2: %v, want ErrTooFewShards", err)
	}
	if _, err := Rebuild(s, shards, []int{6}); !errors.Is(err, ErrShape) {
		t.Fatalf("shard 6 of 4+2: %v, want ErrShape", err)
	}
}

// TestBuffersGoRound: SealInto and JoinChecked use the buffers given when they are large
// enough, and a buffer used again for another stripe gives each stripe its own bytes back (a
// put and a get reuse theirs stripe after stripe, P-9).
func TestBuffersGoRound(t *testing.T) {
	key := testKey(t, "alice")
	sealed := make([]byte, 0, SealedCap(1<<20, 4, 2))
	joined := make([]byte, 0, 1<<21)
	for i, n := range []int{1 << 20, 70_001, 1<<20 - 5} {
		data := testData(n)
		st, shards, err := SealInto(sealed, key, ledger.ID{byte(i)}, data, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		if &shards[0][:1][0] != &sealed[:1][0] {
			t.Fatalf("stripe %d: not sealed into the buffer given", i)
		}
		shards[1] = nil // rebuilt from the parity
		sealed, err := JoinChecked(joined, st, shards)
		if err != nil {
			t.Fatalf("stripe %d: %v", i, err)
		}
		got, err := Decrypt(key, st, sealed)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("stripe %d: %v", i, err)
		}
		if &got[:1][0] != &joined[:cap(joined)][24] {
			t.Fatalf("stripe %d: not joined in the buffer given", i)
		}
	}
	// Decrypt refuses sealed bytes of another length than the stripe's, and any changed byte.
	st, shards, err := Seal(key, ledger.ID{7}, testData(5000), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := JoinChecked(nil, st, shards)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(key, st, whole[:len(whole)-1]); !errors.Is(err, ErrShape) {
		t.Fatalf("one byte short: %v, want ErrShape", err)
	}
	whole[100] ^= 1
	if _, err := Decrypt(key, st, whole); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a changed byte: %v, want ErrDecrypt", err)
	}
	// A buffer too small is left alone.
	small := make([]byte, 0, 10)
	st, shards, err = SealInto(small, key, ledger.ID{9}, testData(5000), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(key, st, shards); err != nil || len(got) != 5000 || cap(small) != 10 {
		t.Fatalf("a small buffer: %v", err)
	}
}
