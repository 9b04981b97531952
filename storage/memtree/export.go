package memtree

import (
	"bytes"
	"errors"
	"fmt"
)

// ExportNode is one node of an exported version, as iavl's ExportNode: leaves carry their key and
// value, inner nodes their key (the smallest of their right subtree) and no value.
type ExportNode struct {
	Key     []byte
	Value   []byte
	Version int64
	Height  int8
}

// Export calls fn with every node of the version in post-order (left subtree, right subtree,
// node), the order iavl exports and imports in; it stops at fn's first error and returns it. The
// slices are the tree's: they must not be changed.
func (v *View) Export(fn func(ExportNode) error) error {
	if v.root == nil {
		return nil
	}
	return export(v.root, fn)
}

func export(n *node, fn func(ExportNode) error) error {
	if !n.isLeaf() {
		if err := export(n.left, fn); err != nil {
			return err
		}
		if err := export(n.right, fn); err != nil {
			return err
		}
	}
	return fn(ExportNode{Key: n.key, Value: n.value, Version: n.version, Height: n.height})
}

// ErrBadImport is returned by an Importer for nodes that cannot be an exported tree.
var ErrBadImport = errors.New("invalid tree import")

// Importer rebuilds a version from its nodes in Export's order.
type Importer struct {
	version int64
	stack   []*node
	last    []byte // the last leaf's key: leaves come in ascending order
}

// NewImporter starts the import of version v.
func NewImporter(v int64) (*Importer, error) {
	if v <= 0 {
		return nil, fmt.Errorf("%w: version %d", ErrBadImport, v)
	}
	return &Importer{version: v}, nil
}

// Add takes the next node. Keys and values are copied.
func (im *Importer) Add(e ExportNode) error {
	if e.Version <= 0 || e.Version > im.version {
		return fmt.Errorf("%w: node of version %d in an import of version %d", ErrBadImport, e.Version, im.version)
	}
	if e.Height == 0 {
		if len(e.Key) == 0 || e.Value == nil {
			return fmt.Errorf("%w: leaf without a key or a value", ErrBadImport)
		}
		if im.last != nil && bytes.Compare(e.Key, im.last) <= 0 {
			return fmt.Errorf("%w: leaf key %x after %x", ErrBadImport, e.Key, im.last)
		}
		leaf := newLeaf(e.Key, e.Value)
		leaf.version = e.Version
		leaf.hashAs(e.Version)
		im.last = leaf.key
		im.stack = append(im.stack, leaf)
		return nil
	}
	if e.Value != nil || e.Height < 0 {
		return fmt.Errorf("%w: inner node of height %d with a value", ErrBadImport, e.Height)
	}
	if len(im.stack) < 2 {
		return fmt.Errorf("%w: inner node of height %d with %d nodes below it", ErrBadImport, e.Height, len(im.stack))
	}
	l, r := im.stack[len(im.stack)-2], im.stack[len(im.stack)-1]
	if e.Height != max(l.height, r.height)+1 || l.version > e.Version || r.version > e.Version {
		return fmt.Errorf("%w: inner node of height %d, version %d over children of heights %d and %d, versions %d and %d",
			ErrBadImport, e.Height, e.Version, l.height, r.height, l.version, r.version)
	}
	if key := leftmost(r).key; !bytes.Equal(e.Key, key) {
		return fmt.Errorf("%w: inner node key %x, its right subtree starts at %x", ErrBadImport, e.Key, key)
	}
	n := &node{key: leftmost(r).key, left: l, right: r, version: e.Version}
	n.update()
	n.hashAs(e.Version)
	im.stack = append(im.stack[:len(im.stack)-2], n)
	return nil
}

// Tree finishes the import: a tree whose only version is the imported one. An import of no
// nodes is an empty tree.
func (im *Importer) Tree() (*Tree, error) {
	if len(im.stack) > 1 {
		return nil, fmt.Errorf("%w: %d subtrees left without a root", ErrBadImport, len(im.stack))
	}
	t := &Tree{first: im.version}
	var root *node
	if len(im.stack) == 1 {
		root = im.stack[0]
	}
	t.roots = []*node{root}
	t.root = root
	return t, nil
}
