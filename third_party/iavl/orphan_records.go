package iavl

// trustledger patch (third_party/iavl/PATCH.md): orphans recorded when a version is saved.
//
// Upstream, pruning version v finds the nodes to delete by walking the trees of v and v+1
// (traverseOrphans) when v is deleted, keep_recent versions later. By then both trees' nodes
// have left the node cache, so each prune reads them back from the database: half of each
// block's time in trustledger's scale tool. With orphan records on, SaveVersion(v+1) walks the
// two trees at once, while their nodes are still in the cache (the block's writes have just read
// v's and written v+1's), and keeps the keys of v's orphans in memory; deleting v then deletes
// those keys without reading a node. The deletions are the same: each recorded orphan goes
// through the same key rules as in deleteVersion. A version with no record (the node restarted,
// the record was dropped, or a legacy node was among its orphans) is pruned by traversal as
// upstream does.

// orphanRef is one orphan of a version: its node key, and its hash when its nonce is 0 (a
// reformatted root, for which deleteVersion also deletes a legacy key by hash).
type orphanRef struct {
	version int64
	nonce   uint32
	hash    []byte
}

// RecordOrphans turns orphan records on for the most recent keep versions (0: off, and every
// record is dropped). Set it to the number of versions the caller keeps before pruning, plus
// one or two: a record older than that is never used and is dropped.
func (tree *MutableTree) RecordOrphans(keep int) {
	ndb := tree.ndb
	ndb.orphanMtx.Lock()
	defer ndb.orphanMtx.Unlock()
	ndb.orphanKeep = int64(keep)
	if keep == 0 {
		ndb.orphanRecords = nil
	}
}

// recordOrphans records the orphans that version made of version-1, if records are on and
// version-1 exists. It is called when version has been saved and committed. It never fails:
// when the walk cannot be made (an error reading a node), there is no record, and pruning
// version-1 walks the trees as upstream does, which reports the error.
func (ndb *nodeDB) recordOrphans(version int64) {
	ndb.orphanMtx.Lock()
	keep := ndb.orphanKeep
	ndb.orphanMtx.Unlock()
	if keep == 0 || version <= 1 {
		return
	}
	if ok, err := ndb.hasVersion(version - 1); err != nil || !ok {
		return
	}
	var refs []orphanRef
	legacy := false
	if err := ndb.traverseOrphans(version-1, version, func(orphan *Node) error {
		if orphan.isLegacy {
			legacy = true
			return nil
		}
		ref := orphanRef{version: orphan.nodeKey.version, nonce: orphan.nodeKey.nonce}
		if ref.nonce == 0 {
			ref.hash = orphan.hash
		}
		refs = append(refs, ref)
		return nil
	}); err != nil || legacy {
		ndb.takeOrphanRecord(version - 1) // no record: pruning version-1 walks the trees
		return
	}
	ndb.orphanMtx.Lock()
	defer ndb.orphanMtx.Unlock()
	if ndb.orphanRecords == nil {
		ndb.orphanRecords = map[int64][]orphanRef{}
	}
	ndb.orphanRecords[version-1] = refs
	for v := range ndb.orphanRecords {
		if v <= version-1-ndb.orphanKeep {
			delete(ndb.orphanRecords, v)
		}
	}
}

// takeOrphanRecord removes and returns the record of version's orphans, if there is one.
func (ndb *nodeDB) takeOrphanRecord(version int64) ([]orphanRef, bool) {
	ndb.orphanMtx.Lock()
	defer ndb.orphanMtx.Unlock()
	refs, ok := ndb.orphanRecords[version]
	delete(ndb.orphanRecords, version)
	return refs, ok
}

// dropOrphanRecordsFrom forgets the records of versions from fromVersion-1 on: the record of
// version v describes v+1, and versions from fromVersion on are being deleted.
func (ndb *nodeDB) dropOrphanRecordsFrom(fromVersion int64) {
	ndb.orphanMtx.Lock()
	defer ndb.orphanMtx.Unlock()
	for v := range ndb.orphanRecords {
		if v >= fromVersion-1 {
			delete(ndb.orphanRecords, v)
		}
	}
}

// deleteRecordedOrphans deletes version's recorded orphans with deleteVersion's key rules.
func (ndb *nodeDB) deleteRecordedOrphans(version int64, refs []orphanRef) error {
	for _, ref := range refs {
		if ref.nonce == 0 {
			if err := ndb.deleteFromPruning(ndb.legacyNodeKey(ref.hash)); err != nil {
				return err
			}
		}
		nonce := ref.nonce
		if nonce == 1 && ref.version < version {
			nonce = 0
		}
		if err := ndb.deleteFromPruning(ndb.nodeKey((&NodeKey{version: ref.version, nonce: nonce}).GetKey())); err != nil {
			return err
		}
	}
	return nil
}
