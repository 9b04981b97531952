package memtree

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Errors a caller may branch on.
var (
	// ErrVersionNotFound is returned for a version that was never saved, was deleted, or was
	// rolled back.
	ErrVersionNotFound = errors.New("tree version not found")
	// ErrInvalidWrite is returned by Set for an empty key or a nil value (iavl refuses both).
	ErrInvalidWrite = errors.New("invalid tree write")
)

// node is a tree node. A saved node (version > 0) never changes again and may be shared by many
// versions; a node of the working tree (version 0) is reachable from the working root only and is
// changed in place until SaveVersion gives it its version and hash.
type node struct {
	key         []byte // a leaf's key; an inner node's is the smallest key of its right subtree
	value       []byte // leaves only
	left, right *node
	hash        [32]byte
	hashed      bool
	height      int8
	version     int64
	size        int64 // leaves under the node
}

func (n *node) isLeaf() bool { return n.height == 0 }

func newLeaf(key, value []byte) *node {
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	return &node{key: buf[:len(key):len(key)], value: buf[len(key):], size: 1}
}

// mutable returns n ready to be changed in the working tree: n itself when it is already the
// working tree's, a copy when it is saved (iavl's clone: the copy is written in the new version).
func mutable(n *node) *node {
	if n.version == 0 {
		n.hashed = false
		return n
	}
	c := *n
	c.version, c.hashed = 0, false
	return &c
}

func (n *node) update() {
	n.height = max(n.left.height, n.right.height) + 1
	n.size = n.left.size + n.right.size
}

func (n *node) balance() int { return int(n.left.height) - int(n.right.height) }

// Tree is a versioned tree: a working tree, changed by Set and Remove, above the saved versions.
// Its methods are for one goroutine at a time, except View, Version, Versions and the methods of
// a View, which may run beside any of them.
type Tree struct {
	root    *node // the working tree
	initial int64 // the first version's number, when set before the first save

	mu    sync.RWMutex
	first int64   // the oldest kept version (0 before the first save)
	roots []*node // roots of versions first, first+1, …; nil is an empty tree
}

// New returns an empty tree whose first saved version is 1 (or SetInitialVersion's).
func New() *Tree { return &Tree{} }

// SetInitialVersion makes the first SaveVersion save version v instead of 1 (a chain whose
// initial height is v, or a node that starts from a state-sync snapshot). It has no effect once
// a version is saved.
func (t *Tree) SetInitialVersion(v int64) {
	if t.Version() == 0 {
		t.initial = v
	}
}

// Version is the last saved version, 0 before the first.
func (t *Tree) Version() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lastLocked()
}

func (t *Tree) lastLocked() int64 {
	if len(t.roots) == 0 {
		return 0
	}
	return t.first + int64(len(t.roots)) - 1
}

// Versions returns the oldest and newest kept versions (0, 0 before the first save).
func (t *Tree) Versions() (oldest, newest int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.roots) == 0 {
		return 0, 0
	}
	return t.first, t.lastLocked()
}

// WorkingVersion is the version the next SaveVersion saves.
func (t *Tree) WorkingVersion() int64 {
	if v := t.Version(); v > 0 {
		return v + 1
	}
	if t.initial > 0 {
		return t.initial
	}
	return 1
}

func (t *Tree) savedRoot() *node {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.roots) == 0 {
		return nil
	}
	return t.roots[len(t.roots)-1]
}

// Size is the number of keys in the working tree.
func (t *Tree) Size() int64 {
	if t.root == nil {
		return 0
	}
	return t.root.size
}

// Get reads key in the working tree; nil when absent.
func (t *Tree) Get(key []byte) []byte { return get(t.root, key) }

func get(n *node, key []byte) []byte {
	for n != nil {
		if n.isLeaf() {
			if bytes.Equal(n.key, key) {
				return n.value
			}
			return nil
		}
		if bytes.Compare(key, n.key) < 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	return nil
}

// Set writes value at key in the working tree (both are copied) and says whether the key was
// already there.
func (t *Tree) Set(key, value []byte) (updated bool, err error) {
	if len(key) == 0 || value == nil {
		return false, fmt.Errorf("%w: key %x, value nil: %t", ErrInvalidWrite, key, value == nil)
	}
	if t.root == nil {
		t.root = newLeaf(key, value)
		return false, nil
	}
	t.root, updated = set(t.root, key, value)
	return updated, nil
}

// set is iavl's recursiveSet.
func set(n *node, key, value []byte) (*node, bool) {
	if n.isLeaf() {
		switch bytes.Compare(key, n.key) {
		case -1:
			return &node{key: n.key, height: 1, size: 2, left: newLeaf(key, value), right: n}, false
		case 1:
			leaf := newLeaf(key, value)
			return &node{key: leaf.key, height: 1, size: 2, left: n, right: leaf}, false
		default:
			return newLeaf(key, value), true
		}
	}
	n = mutable(n)
	var updated bool
	if bytes.Compare(key, n.key) < 0 {
		n.left, updated = set(n.left, key, value)
	} else {
		n.right, updated = set(n.right, key, value)
	}
	if updated {
		return n, true
	}
	n.update()
	return rebalance(n), false
}

// Remove deletes key from the working tree and returns the value it had.
func (t *Tree) Remove(key []byte) (value []byte, removed bool) {
	if value = get(t.root, key); value == nil {
		return nil, false
	}
	t.root, _, _ = remove(t.root, key)
	return value, true
}

// remove is iavl's recursiveRemove for a key known to be present: it returns the node that
// replaces n (nil when n was the leaf removed) and, when the smallest key of n's subtree changed,
// the new one.
func remove(n *node, key []byte) (self *node, newKey []byte, _ bool) {
	if n.isLeaf() {
		return nil, nil, true
	}
	n = mutable(n)
	if bytes.Compare(key, n.key) < 0 {
		left, newKey, _ := remove(n.left, key)
		if left == nil {
			return n.right, n.key, true
		}
		n.left = left
		n.update()
		return rebalance(n), newKey, true
	}
	right, newKey, _ := remove(n.right, key)
	if right == nil {
		return n.left, nil, true
	}
	n.right = right
	if newKey != nil {
		n.key = newKey
	}
	n.update()
	return rebalance(n), nil, true
}

// rebalance is iavl's balance, rotations and all, for a node of the working tree.
func rebalance(n *node) *node {
	switch b := n.balance(); {
	case b > 1:
		if n.left.balance() >= 0 {
			return rotateRight(n)
		}
		n.left = rotateLeft(n.left)
		return rotateRight(n)
	case b < -1:
		if n.right.balance() <= 0 {
			return rotateLeft(n)
		}
		n.right = rotateRight(n.right)
		return rotateLeft(n)
	}
	return n
}

func rotateRight(n *node) *node {
	n = mutable(n)
	l := mutable(n.left)
	n.left = l.right
	l.right = n
	n.update()
	l.update()
	return l
}

func rotateLeft(n *node) *node {
	n = mutable(n)
	r := mutable(n.right)
	n.right = r.left
	r.left = n
	n.update()
	r.update()
	return r
}

// emptyHash is the hash of an empty tree: sha256 of nothing, as iavl.
var emptyHash = sha256.Sum256(nil)

// WorkingHash is the hash the working tree would have if saved now.
func (t *Tree) WorkingHash() []byte {
	if t.root == nil {
		return emptyHash[:]
	}
	h := t.root.hashAs(t.WorkingVersion())
	return h[:]
}

// hashAs returns n's hash, computing it, and its working descendants', as nodes of version v.
func (n *node) hashAs(v int64) [32]byte {
	if n.hashed {
		return n.hash
	}
	if !n.isLeaf() {
		n.left.hashAs(v)
		n.right.hashAs(v)
	}
	if n.version != 0 {
		v = n.version
	}
	n.hash = sha256.Sum256(n.hashBytes(make([]byte, 0, 128), v))
	n.hashed = true
	return n.hash
}

// hashBytes appends what n's hash is taken of (the package doc) to b; children are hashed.
func (n *node) hashBytes(b []byte, version int64) []byte {
	b = binary.AppendVarint(b, int64(n.height))
	b = binary.AppendVarint(b, n.size)
	b = binary.AppendVarint(b, version)
	if n.isLeaf() {
		b = binary.AppendUvarint(b, uint64(len(n.key)))
		b = append(b, n.key...)
		vh := sha256.Sum256(n.value)
		b = append(b, 32)
		return append(b, vh[:]...)
	}
	b = append(b, 32)
	b = append(b, n.left.hash[:]...)
	b = append(b, 32)
	return append(b, n.right.hash[:]...)
}

// saveAs gives every working node under n version v and its hash.
func (n *node) saveAs(v int64) {
	if n.version != 0 {
		return
	}
	if !n.isLeaf() {
		n.left.saveAs(v)
		n.right.saveAs(v)
	}
	n.hashAs(v)
	n.version = v
}

// SaveVersion saves the working tree as version WorkingVersion and returns its hash. The
// working tree goes on from the saved one.
func (t *Tree) SaveVersion() ([]byte, int64) {
	v := t.WorkingVersion()
	if t.root != nil {
		t.root.saveAs(v)
	}
	t.mu.Lock()
	if len(t.roots) == 0 {
		t.first = v
	}
	t.roots = append(t.roots, t.root)
	t.mu.Unlock()
	return rootHash(t.root), v
}

func rootHash(n *node) []byte {
	if n == nil {
		return emptyHash[:]
	}
	h := n.hash
	return h[:]
}

// Rollback discards the working tree's changes since the last SaveVersion.
func (t *Tree) Rollback() { t.root = t.savedRoot() }

// DeleteVersionsTo drops the saved versions up to and including v; the newest version is never
// dropped. Their nodes are freed once no kept version and no View shares them.
func (t *Tree) DeleteVersionsTo(v int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := t.lastLocked()
	if v >= last {
		return fmt.Errorf("delete tree versions up to %d: %d is the newest, which is kept", v, last)
	}
	if n := v - t.first + 1; n > 0 {
		clear(t.roots[:n])
		t.roots = t.roots[n:]
		t.first = v + 1
	}
	return nil
}

// LoadVersionForOverwriting makes version v the newest: later versions are dropped and the
// working tree starts again from v.
func (t *Tree) LoadVersionForOverwriting(v int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.roots) == 0 || v < t.first || v > t.lastLocked() {
		return fmt.Errorf("%w: roll back to %d (kept: %d to %d)", ErrVersionNotFound, v, t.first, t.lastLocked())
	}
	n := v - t.first + 1
	clear(t.roots[n:])
	t.roots = t.roots[:n]
	t.root = t.roots[n-1]
	return nil
}

// View returns saved version v, to be read from any goroutine.
func (t *Tree) View(v int64) (*View, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.roots) == 0 || v < t.first || v > t.lastLocked() {
		if len(t.roots) == 0 {
			return nil, fmt.Errorf("%w: version %d (no version saved)", ErrVersionNotFound, v)
		}
		return nil, fmt.Errorf("%w: version %d (kept: %d to %d)", ErrVersionNotFound, v, t.first, t.lastLocked())
	}
	return &View{root: t.roots[v-t.first], version: v}, nil
}
