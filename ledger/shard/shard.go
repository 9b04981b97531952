package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Leaf sizes and tree bounds (specs/audit.md A-1).
const (
	MinLeafSize     = 64
	MaxLeafSize     = 1024
	DefaultLeafSize = 1024
	// MaxLeaves bounds a shard's leaves, so that an inclusion path has at most MaxPath hashes.
	MaxLeaves = 1 << 32
	MaxPath   = 32
	// keptLevel: a Tree keeps the hashes of every perfect subtree of 2^keptLevel leaves and
	// above, so an answer reads one block of 2^keptLevel leaves per challenged leaf.
	keptLevel = 4
)

// ErrBadLeafSize and the other errors of shape; a proof that does not verify wraps ErrMismatch.
var (
	ErrBadLeafSize = errors.New("leaf size must be a power of two from 64 to 1024 bytes")
	ErrBadSize     = errors.New("shard size out of range")
	ErrMismatch    = errors.New("leaf does not match the committed root")
)

var hasher = rfc6962.DefaultHasher

// CheckShape refuses a leaf size or shard size a commitment cannot have.
func CheckShape(size uint64, leafSize uint32) error {
	if leafSize < MinLeafSize || leafSize > MaxLeafSize || bits.OnesCount32(leafSize) != 1 {
		return fmt.Errorf("%w (got %d)", ErrBadLeafSize, leafSize)
	}
	if size == 0 || LeafCount(size, leafSize) > MaxLeaves {
		return fmt.Errorf("%w: %d bytes in leaves of %d (1 byte to %d leaves)", ErrBadSize, size, leafSize, uint64(MaxLeaves))
	}
	return nil
}

// LeafCount is the number of leaves of a shard: its size divided by the leaf size, rounded up.
func LeafCount(size uint64, leafSize uint32) uint64 {
	return (size + uint64(leafSize) - 1) / uint64(leafSize)
}

// LeafLen is the length of leaf index: the leaf size, or what is left for the last leaf.
func LeafLen(size uint64, leafSize uint32, index uint64) int {
	return int(min(uint64(leafSize), size-index*uint64(leafSize)))
}

// LeafHash is RFC 6962's hash of a leaf: SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) []byte { return hasher.HashLeaf(leaf) }

// builder hashes interior nodes as RFC 6962 does (rfc6962.DefaultHasher), without a hasher
// allocation per hash: Build's hot loop (leaves are hashed where they are read). It is not
// safe for concurrent use.
type builder struct {
	node [65]byte
}

func (b *builder) hashChildren(l, r []byte) []byte {
	b.node[0] = 1
	copy(b.node[1:33], l)
	copy(b.node[33:], r)
	h := sha256.Sum256(b.node[:])
	return h[:]
}

// Root reads the size bytes of a shard from r and returns its tree hash, the same as Build's
// Root, keeping nothing else: what a customer checks a shard against or names it by (a put's,
// a get's), with no allocation per leaf. It holds one perfect subtree's hash per level on a
// stack (RFC 6962's tree is the perfect subtrees of the leaf count's binary digits, folded
// from the right).
func Root(r io.Reader, size uint64, leafSize uint32) ([32]byte, error) {
	var root [32]byte
	if err := CheckShape(size, leafSize); err != nil {
		return root, err
	}
	var (
		stack  [MaxPath + 1][32]byte
		height [MaxPath + 1]int
		top    int
		node   [65]byte
	)
	node[0] = 1
	children := func(l, r *[32]byte) [32]byte {
		copy(node[1:33], l[:])
		copy(node[33:], r[:])
		return sha256.Sum256(node[:])
	}
	err := hashLeaves(r, size, leafSize, func(_ uint64, h [32]byte) error {
		level := 0
		for top > 0 && height[top-1] == level {
			top--
			h = children(&stack[top], &h)
			level++
		}
		stack[top], height[top] = h, level
		top++
		return nil
	})
	if err != nil {
		return root, err
	}
	root = stack[top-1]
	for top--; top > 0; top-- {
		root = children(&stack[top-1], &root)
	}
	return root, nil
}

// hashLeaves reads the leaves of a shard of size bytes from r and gives each one's RFC 6962
// leaf hash to each, in order; it stops at each's first error.
func hashLeaves(r io.Reader, size uint64, leafSize uint32, each func(i uint64, h [32]byte) error) error {
	buf := make([]byte, 1+leafSize) // 0x00 || leaf: read in place, hashed as it lies
	leaves := LeafCount(size, leafSize)
	for i := uint64(0); i < leaves; i++ {
		leaf := buf[:1+LeafLen(size, leafSize, i)]
		if _, err := io.ReadFull(r, leaf[1:]); err != nil {
			return fmt.Errorf("read leaf %d of %d: %w", i, leaves, err)
		}
		if err := each(i, sha256.Sum256(leaf)); err != nil {
			return err
		}
	}
	return nil
}

// Verify checks that leaf is leaf number index of the shard of size bytes and leaf size
// leafSize whose tree hash is root, by the inclusion path (RFC 6962 §2.1.1, sibling hashes from
// the bottom up). It returns nil, or an error wrapping ErrMismatch (or of shape).
func Verify(root []byte, size uint64, leafSize uint32, index uint64, leaf []byte, path [][]byte) error {
	if err := CheckShape(size, leafSize); err != nil {
		return err
	}
	n := LeafCount(size, leafSize)
	if index >= n {
		return fmt.Errorf("%w: leaf %d of %d", ErrMismatch, index, n)
	}
	if want := LeafLen(size, leafSize, index); len(leaf) != want {
		return fmt.Errorf("%w: leaf %d has %d bytes, the shard's has %d", ErrMismatch, index, len(leaf), want)
	}
	if err := proof.VerifyInclusion(hasher, index, n, LeafHash(leaf), path, root); err != nil {
		return fmt.Errorf("%w: leaf %d: %v", ErrMismatch, index, err)
	}
	return nil
}

// Indices are the count leaves a challenge picks: the j-th is the first 8 bytes (big-endian) of
// SHA-256("trustledger/audit-leaf/v1\x00" || commitment || nonce || j) modulo the leaf count
// (specs/audit.md A-3). Leaves may repeat.
func Indices(commitment, nonce [32]byte, count int, leaves uint64) []uint64 {
	out := make([]uint64, count)
	buf := make([]byte, 0, 128)
	for j := range out {
		buf = append(append(append(buf[:0], "trustledger/audit-leaf/v1\x00"...), commitment[:]...), nonce[:]...)
		buf = append(buf, byte(j))
		h := sha256.Sum256(buf)
		out[j] = binary.BigEndian.Uint64(h[:8]) % leaves
	}
	return out
}

// Tree is what a supplier keeps of a shard to answer challenges without rehashing it: the root
// and the hashes of every perfect subtree of 16 leaves and above (about 2/16 of a hash per leaf:
// 256 KiB for a 64 MiB shard of 1 KiB leaves), and the leaf hashes of the last, partial block.
type Tree struct {
	Size     uint64
	LeafSize uint32
	leaves   uint64
	root     []byte
	levels   [][][]byte // levels[l][i]: perfect node (keptLevel+l, i)
	tail     [][]byte   // leaf hashes from tailStart on
}

// Build reads the size bytes of a shard from r and computes its tree.
func Build(r io.Reader, size uint64, leafSize uint32) (*Tree, error) {
	if err := CheckShape(size, leafSize); err != nil {
		return nil, err
	}
	t := &Tree{Size: size, LeafSize: leafSize, leaves: LeafCount(size, leafSize)}
	tailStart := t.tailStart()
	hb := &builder{}
	rf := &compact.RangeFactory{Hash: hb.hashChildren}
	rng := rf.NewEmptyRange(0)
	keep := func(id compact.NodeID, h []byte) {
		if id.Level < keptLevel {
			return
		}
		l := int(id.Level - keptLevel)
		for len(t.levels) <= l {
			t.levels = append(t.levels, nil)
		}
		t.levels[l] = append(t.levels[l], h)
	}
	err := hashLeaves(r, size, leafSize, func(i uint64, sum [32]byte) error {
		h := sum[:]
		if i >= tailStart {
			t.tail = append(t.tail, h)
		}
		return rng.Append(h, keep)
	})
	if err != nil {
		return nil, err
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	t.root = root
	return t, nil
}

// tailStart is the first leaf after the last complete block of 2^keptLevel leaves.
func (t *Tree) tailStart() uint64 { return t.leaves &^ (1<<keptLevel - 1) }

// Root is the shard's RFC 6962 tree hash.
func (t *Tree) Root() []byte { return t.root }

// Leaves is the shard's leaf count.
func (t *Tree) Leaves() uint64 { return t.leaves }

// Prove reads leaf index and the block of 16 leaves around it from ra (the shard) and returns
// the leaf and its inclusion path. The leaf's bytes are read, not taken from the tree: a shard
// that changed since Build yields a leaf that Verify refuses.
func (t *Tree) Prove(ra io.ReaderAt, index uint64) ([]byte, [][]byte, error) {
	if index >= t.leaves {
		return nil, nil, fmt.Errorf("leaf %d of %d", index, t.leaves)
	}
	nodes, err := proof.Inclusion(index, t.leaves)
	if err != nil {
		return nil, nil, err
	}
	// The block of leaves around index, read once.
	block := index &^ (1<<keptLevel - 1)
	end := min(block+1<<keptLevel, t.leaves)
	var leaf []byte
	var blockHashes [][]byte
	for i := block; i < end; i++ {
		b := make([]byte, LeafLen(t.Size, t.LeafSize, i))
		if n, err := ra.ReadAt(b, int64(i)*int64(t.LeafSize)); n < len(b) {
			return nil, nil, fmt.Errorf("read leaf %d: %d of %d bytes: %w", i, n, len(b), err)
		}
		if i == index {
			leaf = b
		}
		blockHashes = append(blockHashes, LeafHash(b))
	}
	hashes := make([][]byte, len(nodes.IDs))
	for k, id := range nodes.IDs {
		if hashes[k], err = t.node(id, block, blockHashes); err != nil {
			return nil, nil, err
		}
	}
	path, err := nodes.Rehash(hashes, hasher.HashChildren)
	return leaf, path, err
}

// node is the hash of perfect node id: kept, or computed from the read block or the tail.
func (t *Tree) node(id compact.NodeID, block uint64, blockHashes [][]byte) ([]byte, error) {
	if id.Level >= keptLevel {
		l, i := int(id.Level-keptLevel), id.Index
		if l >= len(t.levels) || i >= uint64(len(t.levels[l])) {
			return nil, fmt.Errorf("tree has no node at level %d index %d", id.Level, id.Index)
		}
		return t.levels[l][i], nil
	}
	b, e := id.Coverage()
	var hs [][]byte
	switch ts := t.tailStart(); {
	case b >= ts:
		hs = t.tail[b-ts : e-ts]
	case b >= block && e <= block+uint64(len(blockHashes)):
		hs = blockHashes[b-block : e-block]
	default:
		return nil, fmt.Errorf("node at level %d index %d is neither kept nor in the block read", id.Level, id.Index)
	}
	for len(hs) > 1 {
		next := make([][]byte, len(hs)/2)
		for k := range next {
			next[k] = hasher.HashChildren(hs[2*k], hs[2*k+1])
		}
		hs = next
	}
	return hs[0], nil
}
