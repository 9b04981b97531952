package shard

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// mth is RFC 6962's Merkle tree hash written out as the RFC defines it: the slow, obvious model.
func mth(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return h[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.Sum256(append(append([]byte{1}, mth(leaves[:k])...), mth(leaves[k:])...))
	return h[:]
}

func split(data []byte, leafSize int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(leafSize, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func shardBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// TestRootAgainstModel: Root is the RFC's tree hash and Build's root, for shards of 1 to
// 300 leaves with and without a short last leaf and in every leaf size; it refuses the shapes
// Build refuses and a reader that ends early; it allocates nothing per leaf.
func TestRootAgainstModel(t *testing.T) {
	for _, leafSize := range []uint32{64, 128, 1024} {
		for leaves := 1; leaves <= 300; leaves++ {
			for _, short := range []int{0, 17} {
				size := leaves*int(leafSize) - short
				data := shardBytes(size, int64(leaves))
				root, err := Root(bytes.NewReader(data), uint64(size), leafSize)
				if err != nil {
					t.Fatal(err)
				}
				if want := mth(split(data, int(leafSize))); !bytes.Equal(root[:], want) {
					t.Fatalf("%d leaves of %d, %d short: root %x, the RFC's %x", leaves, leafSize, short, root, want)
				}
				if leaves%50 == 0 {
					tree, err := Build(bytes.NewReader(data), uint64(size), leafSize)
					if err != nil || !bytes.Equal(tree.Root(), root[:]) {
						t.Fatalf("%d leaves of %d: Build's root %x, Root's %x (%v)", leaves, leafSize, tree.Root(), root, err)
					}
				}
			}
		}
	}
	data := shardBytes(10_000, 1)
	if _, err := Root(bytes.NewReader(data), 10_000, 100); !errors.Is(err, ErrBadLeafSize) {
		t.Fatalf("leaf size 100: %v, want ErrBadLeafSize", err)
	}
	if _, err := Root(bytes.NewReader(data), 0, 1024); !errors.Is(err, ErrBadSize) {
		t.Fatalf("size 0: %v, want ErrBadSize", err)
	}
	if _, err := Root(bytes.NewReader(data[:9_000]), 10_000, 1024); err == nil {
		t.Fatal("a reader 1,000 bytes short gave a root")
	}
	big := shardBytes(1<<20, 2)
	r := bytes.NewReader(big)
	if allocs := testing.AllocsPerRun(5, func() {
		r.Reset(big)
		if _, err := Root(r, 1<<20, 1024); err != nil {
			t.Fatal(err)
		}
	}); allocs > 3 {
		t.Fatalf("Root of 1,024 leaves allocated %.0f times, want a few whatever the leaf count", allocs)
	}
}

// TestTreeAgainstModel: for shards of 1 to 70 leaves (some with a short last leaf), the root is
// the RFC's, every leaf's path verifies, and a changed leaf, another index or another leaf's
// path does not.
func TestTreeAgainstModel(t *testing.T) {
	const leafSize = 64
	for leaves := 1; leaves <= 70; leaves++ {
		for _, short := range []int{0, 17} {
			size := leaves*leafSize - short
			if size <= 0 {
				continue
			}
			data := shardBytes(size, int64(leaves))
			tree, err := Build(bytes.NewReader(data), uint64(size), leafSize)
			if err != nil {
				t.Fatal(err)
			}
			want := mth(split(data, leafSize))
			if !bytes.Equal(tree.Root(), want) {
				t.Fatalf("%d bytes: root %x, RFC 6962 gives %x", size, tree.Root(), want)
			}
			ra := bytes.NewReader(data)
			var prev [][]byte
			for i := uint64(0); i < tree.Leaves(); i++ {
				leaf, path, err := tree.Prove(ra, i)
				if err != nil {
					t.Fatalf("%d bytes, leaf %d: %v", size, i, err)
				}
				if len(path) > MaxPath {
					t.Fatalf("path of %d hashes", len(path))
				}
				if err := Verify(want, uint64(size), leafSize, i, leaf, path); err != nil {
					t.Fatalf("%d bytes, leaf %d: %v", size, i, err)
				}
				changed := append([]byte(nil), leaf...)
				changed[0] ^= 1
				if err := Verify(want, uint64(size), leafSize, i, changed, path); !errors.Is(err, ErrMismatch) {
					t.Fatalf("%d bytes, leaf %d changed: %v", size, i, err)
				}
				if tree.Leaves() > 1 {
					other := (i + 1) % tree.Leaves()
					if err := Verify(want, uint64(size), leafSize, other, leaf, path); err == nil && !bytes.Equal(leaf, data[other*leafSize:min(int(other+1)*leafSize, size)]) {
						t.Fatalf("%d bytes: leaf %d verified as leaf %d", size, i, other)
					}
				}
				if prev != nil && i > 0 && len(path) > 0 && len(prev) == len(path) && !bytes.Equal(prev[0], path[0]) {
					if err := Verify(want, uint64(size), leafSize, i, leaf, prev); err == nil {
						t.Fatalf("%d bytes: leaf %d verified with leaf %d's path", size, i, i-1)
					}
				}
				prev = path
			}
		}
	}
}

// TestProveReadsTheShard: a shard whose bytes changed after Build yields an answer that does
// not verify against the root committed before (a supplier cannot answer from its tree alone).
func TestProveReadsTheShard(t *testing.T) {
	data := shardBytes(100*1024+5, 1)
	tree, err := Build(bytes.NewReader(data), uint64(len(data)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	data[37*1024+3] ^= 0xff
	leaf, path, err := tree.Prove(bytes.NewReader(data), 37)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(tree.Root(), uint64(len(data)), 1024, 37, leaf, path); !errors.Is(err, ErrMismatch) {
		t.Fatalf("changed leaf: %v, want ErrMismatch", err)
	}
	if _, _, err := tree.Prove(bytes.NewReader(data[:50*1024]), 60); err == nil {
		t.Fatal("a truncated shard answered")
	}
}

func TestCheckShape(t *testing.T) {
	cases := []struct {
		size     uint64
		leafSize uint32
		want     error
	}{
		{1, 64, nil},
		{1 << 20, 1024, nil},
		{uint64(MaxLeaves) * 64, 64, nil},
		{uint64(MaxLeaves)*64 + 1, 64, ErrBadSize},
		{0, 1024, ErrBadSize},
		{100, 32, ErrBadLeafSize},
		{100, 2048, ErrBadLeafSize},
		{100, 100, ErrBadLeafSize},
	}
	for _, c := range cases {
		if err := CheckShape(c.size, c.leafSize); !errors.Is(err, c.want) && (err != nil || c.want != nil) {
			t.Errorf("size %d leaf %d: got %v, want %v", c.size, c.leafSize, err, c.want)
		}
	}
}

// TestIndices: deterministic, within the shard, different for another nonce; the first vector
// is written in specs/audit.md.
func TestIndices(t *testing.T) {
	c, n := sha256.Sum256([]byte("commitment")), sha256.Sum256([]byte("nonce"))
	a, b := Indices(c, n, 16, 65536), Indices(c, n, 16, 65536)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("not deterministic")
	}
	for _, i := range a {
		if i >= 65536 {
			t.Fatalf("index %d out of range", i)
		}
	}
	n2 := sha256.Sum256([]byte("nonce 2"))
	if fmt.Sprint(Indices(c, n2, 16, 65536)) == fmt.Sprint(a) {
		t.Fatal("another nonce picks the same leaves")
	}
	if got := Indices(c, n, 4, 65536); fmt.Sprint(got) != vectorIndices {
		t.Errorf("indices of the spec's vector: %v, want %s", got, vectorIndices)
	}
}

// vectorIndices: Indices(SHA-256("commitment"), SHA-256("nonce"), 4, 65536), as in specs/audit.md.
const vectorIndices = "[11530 64637 35511 65137]"
