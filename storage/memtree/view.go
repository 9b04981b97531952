package memtree

import (
	"bytes"
	"encoding/binary"
	"errors"

	ics23 "github.com/cosmos/ics23/go"
)

// View is one saved version of a tree. It never changes, and may be read from any goroutine.
type View struct {
	root    *node
	version int64
}

// Version is the version the view shows.
func (v *View) Version() int64 { return v.version }

// Hash is the version's root hash (the app hash).
func (v *View) Hash() []byte { return rootHash(v.root) }

// Size is the number of keys in the version.
func (v *View) Size() int64 {
	if v.root == nil {
		return 0
	}
	return v.root.size
}

// Get reads key; nil when absent.
func (v *View) Get(key []byte) []byte { return get(v.root, key) }

// Iterate calls fn with each key in [start, end) in ascending order (nil bounds are open) until
// fn returns false. The slices are the tree's: they must not be changed.
func (v *View) Iterate(start, end []byte, fn func(key, value []byte) bool) {
	iterate(v.root, start, end, fn)
}

func iterate(n *node, start, end []byte, fn func(key, value []byte) bool) bool {
	if n == nil {
		return true
	}
	if n.isLeaf() {
		if (start != nil && bytes.Compare(n.key, start) < 0) || (end != nil && bytes.Compare(n.key, end) >= 0) {
			return true
		}
		return fn(n.key, n.value)
	}
	// Keys under n.left are below n.key, keys under n.right at or above it.
	if start == nil || bytes.Compare(start, n.key) < 0 {
		if !iterate(n.left, start, end, fn) {
			return false
		}
	}
	if end == nil || bytes.Compare(n.key, end) < 0 {
		return iterate(n.right, start, end, fn)
	}
	return true
}

// Proof returns an ICS23 proof of key's value, or of its absence, against the version's hash:
// the proof iavl's ImmutableTree.GetProof returns for the same tree.
func (v *View) Proof(key []byte) (*ics23.CommitmentProof, error) {
	if v.root == nil {
		return nil, errors.New("cannot prove a key in an empty tree")
	}
	if get(v.root, key) != nil {
		return &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Exist{Exist: existence(v.root, key)}}, nil
	}
	non := &ics23.NonExistenceProof{Key: key}
	if left := neighbour(v.root, key, false); left != nil {
		non.Left = existence(v.root, left.key)
	}
	if right := neighbour(v.root, key, true); right != nil {
		non.Right = existence(v.root, right.key)
	}
	return &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Nonexist{Nonexist: non}}, nil
}

// neighbour is the leaf with the smallest key above key (above) or the largest below it.
func neighbour(n *node, key []byte, above bool) *node {
	var best *node
	for !n.isLeaf() {
		if bytes.Compare(key, n.key) < 0 {
			if above {
				best = leftmost(n.right)
			}
			n = n.left
		} else {
			if !above {
				best = rightmost(n.left)
			}
			n = n.right
		}
	}
	switch c := bytes.Compare(n.key, key); {
	case above && c > 0, !above && c < 0:
		return n
	}
	return best
}

func leftmost(n *node) *node {
	for !n.isLeaf() {
		n = n.left
	}
	return n
}

func rightmost(n *node) *node {
	for !n.isLeaf() {
		n = n.right
	}
	return n
}

// existence is iavl's createExistenceProof for a key that is in the tree under root.
func existence(root *node, key []byte) *ics23.ExistenceProof {
	var path []*node // inner nodes from the root down
	n := root
	for !n.isLeaf() {
		path = append(path, n)
		if bytes.Compare(key, n.key) < 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	leafPrefix := binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(nil, 0), 1), n.version)
	proof := &ics23.ExistenceProof{
		Key:   n.key,
		Value: n.value,
		Leaf: &ics23.LeafOp{
			Hash:         ics23.HashOp_SHA256,
			PrehashValue: ics23.HashOp_SHA256,
			Length:       ics23.LengthOp_VAR_PROTO,
			Prefix:       leafPrefix,
		},
		Path: make([]*ics23.InnerOp, 0, len(path)),
	}
	for i := len(path) - 1; i >= 0; i-- {
		p := path[i]
		prefix := binary.AppendVarint(nil, int64(p.height))
		prefix = binary.AppendVarint(prefix, p.size)
		prefix = binary.AppendVarint(prefix, p.version)
		var suffix []byte
		if bytes.Compare(key, p.key) < 0 { // the path goes left: the right child's hash follows
			prefix = append(prefix, 32)
			suffix = append([]byte{32}, p.right.hash[:]...)
		} else {
			prefix = append(prefix, 32)
			prefix = append(prefix, p.left.hash[:]...)
			prefix = append(prefix, 32)
		}
		proof.Path = append(proof.Path, &ics23.InnerOp{Hash: ics23.HashOp_SHA256, Prefix: prefix, Suffix: suffix})
	}
	return proof
}
