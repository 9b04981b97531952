package abci

import (
	"bytes"
	"path/filepath"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/trustledger/trustledger/storage"
)

// TestStateSyncBetweenApps: one app takes snapshots while committing blocks; a fresh app
// restores the newest one through the ABCI snapshot calls (refusing a tampered chunk and naming
// its sender), reports the same height and app hash, and then commits the next block to the same
// hash as the source.
func TestStateSyncBetweenApps(t *testing.T) {
	src := newFixture(t)
	ss, err := storage.OpenSnapshotStore(filepath.Join(t.TempDir(), "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.app.EnableSnapshots(ss, SnapshotConfig{Interval: 3, KeepRecent: 1, ChunkBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	hashes, txs := map[int64][]byte{}, map[int64][]byte{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		tx := src.register(key(k))
		res := src.block([][]byte{tx})
		hashes[src.height], txs[src.height] = res.AppHash, tx
		src.app.snapshots.wg.Wait() // one snapshot at a time in this test, so none is skipped
	}
	list, err := src.app.ListSnapshots(ctx, &abcitypes.RequestListSnapshots{})
	if err != nil || len(list.Snapshots) != 1 || list.Snapshots[0].Height != 6 {
		t.Fatalf("snapshots: %+v %v (want one, at height 6)", list, err)
	}
	snap := list.Snapshots[0]
	if snap.Chunks < 2 {
		t.Fatalf("want a snapshot of several chunks, got %d", snap.Chunks)
	}
	appHashAt6 := hashes[6]

	dst := newFixture(t) // InitChain ran, as CometBFT does before state sync
	bad := *snap
	bad.Metadata = append([]byte(nil), snap.Metadata...)
	bad.Metadata[0] ^= 1
	if r, _ := dst.app.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: &bad, AppHash: appHashAt6}); r.Result != abcitypes.ResponseOfferSnapshot_REJECT {
		t.Fatalf("offer with metadata not matching the hash: %v", r.Result)
	}
	other := *snap
	other.Format = 9
	if r, _ := dst.app.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: &other, AppHash: appHashAt6}); r.Result != abcitypes.ResponseOfferSnapshot_REJECT_FORMAT {
		t.Fatalf("offer of format 9: %v", r.Result)
	}
	if r, _ := dst.app.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: snap, AppHash: appHashAt6}); r.Result != abcitypes.ResponseOfferSnapshot_ACCEPT {
		t.Fatalf("offer: %v", r.Result)
	}
	for i := uint32(0); i < snap.Chunks; i++ {
		c, err := src.app.LoadSnapshotChunk(ctx, &abcitypes.RequestLoadSnapshotChunk{Height: snap.Height, Format: snap.Format, Chunk: i})
		if err != nil || len(c.Chunk) == 0 {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if i == 1 {
			forged := append([]byte(nil), c.Chunk...)
			forged[10] ^= 0xff
			r, _ := dst.app.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: i, Chunk: forged, Sender: "liar"})
			if r.Result != abcitypes.ResponseApplySnapshotChunk_RETRY || len(r.RejectSenders) != 1 || r.RejectSenders[0] != "liar" ||
				len(r.RefetchChunks) != 1 || r.RefetchChunks[0] != 1 {
				t.Fatalf("forged chunk: %+v", r)
			}
		}
		r, err := dst.app.ApplySnapshotChunk(ctx, &abcitypes.RequestApplySnapshotChunk{Index: i, Chunk: c.Chunk, Sender: "honest"})
		if err != nil || r.Result != abcitypes.ResponseApplySnapshotChunk_ACCEPT {
			t.Fatalf("chunk %d: %+v %v; restore state %+v", i, r, err, dst.app.restore)
		}
	}
	info, _ := dst.app.Info(ctx, &abcitypes.RequestInfo{})
	if info.LastBlockHeight != 6 || !bytes.Equal(info.LastBlockAppHash, appHashAt6) {
		t.Fatalf("restored app reports %d %X, want 6 %X", info.LastBlockHeight, info.LastBlockAppHash, appHashAt6)
	}
	if dst.store.HistoryFrom() != 6 {
		t.Fatalf("history from %d", dst.store.HistoryFrom())
	}
	// Replay blocks 7 and 8 on the restored app, as block sync would, and compare with the source.
	dst.height = 6
	for h := int64(7); h <= 8; h++ {
		got := dst.block([][]byte{txs[h]})
		if !bytes.Equal(got.AppHash, hashes[h]) || got.TxResults[0].Code != 0 {
			t.Fatalf("block %d after restore: %X code %d, source %X", h, got.AppHash, got.TxResults[0].Code, hashes[h])
		}
	}
	if _, err := dst.app.OfferSnapshot(ctx, &abcitypes.RequestOfferSnapshot{Snapshot: snap, AppHash: appHashAt6}); err != nil {
		t.Fatal(err)
	}
	if h, _ := dst.store.LastCommit(); h != 8 {
		t.Fatalf("an offer over committed state changed it: height %d", h)
	}
}
