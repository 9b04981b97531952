package abci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

// SnapshotConfig says when a node takes state-sync snapshots (specs/state.md §6).
type SnapshotConfig struct {
	Interval   int64 // take a snapshot at every height divisible by Interval; 0: never
	KeepRecent int   // snapshots kept on disk (older ones are deleted)
	ChunkBytes int   // largest chunk
}

// DefaultSnapshotConfig: a snapshot every 1,000 blocks (about 8 minutes at 0.5 s blocks), the
// last two kept, 4 MiB chunks.
func DefaultSnapshotConfig() SnapshotConfig {
	return SnapshotConfig{Interval: 1000, KeepRecent: 2, ChunkBytes: 4 << 20}
}

// Validate reports a configuration that cannot work.
func (c SnapshotConfig) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("snapshot interval %d is negative", c.Interval)
	case c.Interval > 0 && c.KeepRecent < 1:
		return fmt.Errorf("snapshot keep_recent %d: keep at least 1", c.KeepRecent)
	case c.ChunkBytes < 1024 || c.ChunkBytes > 16<<20:
		return fmt.Errorf("snapshot chunk_bytes %d: must be between 1 KiB and 16 MiB", c.ChunkBytes)
	}
	return nil
}

// snapshotter takes snapshots in the background, one at a time.
type snapshotter struct {
	store  *storage.SnapshotStore
	conf   SnapshotConfig
	wg     sync.WaitGroup
	busy   atomic.Bool // a snapshot is being written
	paused bool        // guarded by App.mu: take none, serve none
}

// restoring is a snapshot being applied chunk by chunk.
type restoring struct {
	r       *storage.Restorer
	height  int64
	appHash []byte
	hashes  [][]byte
	next    uint32
}

// EnableSnapshots makes the app take snapshots into store by conf and serve them to joiners.
// Call it before the node starts.
func (a *App) EnableSnapshots(store *storage.SnapshotStore, conf SnapshotConfig) error {
	if err := conf.Validate(); err != nil {
		return err
	}
	a.snapshots = &snapshotter{store: store, conf: conf}
	return nil
}

// PauseSnapshots stops taking and serving snapshots (paused) or resumes both. Pausing waits for
// a snapshot being written to finish. The snapshots service calls it.
func (a *App) PauseSnapshots(paused bool) {
	a.mu.Lock()
	s := a.snapshots
	if s != nil {
		s.paused = paused
	}
	a.mu.Unlock()
	if s != nil && paused {
		s.wg.Wait()
	}
}

// Close waits for a snapshot in progress; call it before closing the store.
func (a *App) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.snapshots != nil {
		a.snapshots.wg.Wait()
	}
	if a.restore != nil {
		a.restore.r.Abort()
		a.restore = nil
	}
}

// afterCommit starts a snapshot of height if one is due and none is running.
func (a *App) afterCommit(height int64) {
	s := a.snapshots
	if s == nil || s.paused || s.conf.Interval == 0 || height%s.conf.Interval != 0 {
		return
	}
	if !s.busy.CompareAndSwap(false, true) {
		a.logger.Info("snapshot skipped: the previous one is still being written", "height", height)
		return
	}
	exp, err := a.store.ExportAt(height)
	if err != nil {
		a.logger.Error("snapshot", "height", height, "err", err)
		s.busy.Store(false)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.busy.Store(false)
		defer exp.Close()
		start := time.Now()
		info, err := s.store.Create(height, s.conf.ChunkBytes, func(w io.Writer) error { _, err := exp.WriteTo(w); return err })
		if err != nil {
			a.logger.Error("snapshot failed", "height", height, "err", err)
			return
		}
		if err := s.store.Prune(s.conf.KeepRecent); err != nil {
			a.logger.Error("prune snapshots", "err", err)
		}
		a.metrics.SnapshotHeight.Set(float64(height))
		a.logger.Info("snapshot taken", "height", height, "chunks", info.Chunks, "hash", fmt.Sprintf("%X", info.Hash),
			"took", time.Since(start).Round(time.Millisecond))
	}()
}

func (a *App) ListSnapshots(_ context.Context, _ *abcitypes.RequestListSnapshots) (*abcitypes.ResponseListSnapshots, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := &abcitypes.ResponseListSnapshots{}
	if a.snapshots == nil || a.snapshots.paused {
		return resp, nil
	}
	list, err := a.snapshots.store.List()
	if err != nil {
		a.logger.Error("list snapshots", "err", err)
		return resp, nil
	}
	for _, s := range list {
		resp.Snapshots = append(resp.Snapshots, &abcitypes.Snapshot{Height: uint64(s.Height), Format: s.Format,
			Chunks: s.Chunks, Hash: s.Hash, Metadata: s.Metadata})
	}
	return resp, nil
}

func (a *App) LoadSnapshotChunk(_ context.Context, req *abcitypes.RequestLoadSnapshotChunk) (*abcitypes.ResponseLoadSnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.snapshots == nil || a.snapshots.paused {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	b, err := a.snapshots.store.Chunk(int64(req.Height), req.Format, req.Chunk)
	if err != nil {
		// An empty answer tells the peer we have no such chunk; it asks someone else.
		a.logger.Info("snapshot chunk not served", "height", req.Height, "chunk", req.Chunk, "err", err)
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	return &abcitypes.ResponseLoadSnapshotChunk{Chunk: b}, nil
}

func (a *App) OfferSnapshot(_ context.Context, req *abcitypes.RequestOfferSnapshot) (*abcitypes.ResponseOfferSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reject := func(result abcitypes.ResponseOfferSnapshot_Result, why string) (*abcitypes.ResponseOfferSnapshot, error) {
		a.logger.Info("snapshot refused", "why", why)
		return &abcitypes.ResponseOfferSnapshot{Result: result}, nil
	}
	snap := req.Snapshot
	if snap == nil {
		return reject(abcitypes.ResponseOfferSnapshot_REJECT, "no snapshot in the offer")
	}
	if snap.Format != storage.SnapshotFormat {
		return reject(abcitypes.ResponseOfferSnapshot_REJECT_FORMAT, fmt.Sprintf("format %d (this node reads format %d)", snap.Format, storage.SnapshotFormat))
	}
	if snap.Height == 0 || snap.Height > 1<<62 {
		return reject(abcitypes.ResponseOfferSnapshot_REJECT, fmt.Sprintf("height %d", snap.Height))
	}
	hashes, err := storage.ChunkHashes(snap.Metadata, snap.Hash, snap.Chunks)
	if err != nil {
		return reject(abcitypes.ResponseOfferSnapshot_REJECT, err.Error())
	}
	if a.restore != nil {
		a.restore.r.Abort()
		a.restore = nil
	}
	r, err := a.store.Restore(int64(snap.Height))
	if err != nil {
		a.logger.Error("cannot restore a snapshot", "err", err)
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_ABORT}, nil
	}
	a.restore = &restoring{r: r, height: int64(snap.Height), appHash: append([]byte(nil), req.AppHash...), hashes: hashes}
	a.logger.Info("restoring snapshot", "height", snap.Height, "chunks", snap.Chunks, "app_hash", fmt.Sprintf("%X", req.AppHash))
	return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_ACCEPT}, nil
}

func (a *App) ApplySnapshotChunk(_ context.Context, req *abcitypes.RequestApplySnapshotChunk) (*abcitypes.ResponseApplySnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rs := a.restore
	if rs == nil {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ABORT}, nil
	}
	if req.Index != rs.next {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_RETRY,
			RefetchChunks: []uint32{rs.next}}, nil
	}
	if sum := sha256.Sum256(req.Chunk); !bytes.Equal(sum[:], rs.hashes[req.Index]) {
		a.logger.Info("snapshot chunk does not match its hash; fetching it from another peer",
			"height", rs.height, "chunk", req.Index, "sender", req.Sender)
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_RETRY,
			RefetchChunks: []uint32{req.Index}, RejectSenders: []string{req.Sender}}, nil
	}
	rejectSnapshot := func(err error) (*abcitypes.ResponseApplySnapshotChunk, error) {
		a.logger.Error("snapshot rejected", "height", rs.height, "err", err)
		rs.r.Abort()
		a.restore = nil
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}, nil
	}
	if _, err := rs.r.Write(req.Chunk); err != nil {
		return rejectSnapshot(err)
	}
	rs.next++
	if int(rs.next) < len(rs.hashes) {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ACCEPT}, nil
	}
	if err := rs.r.Finish(rs.appHash); err != nil {
		return rejectSnapshot(err)
	}
	a.restore = nil
	chain, params, err := ledger.LoadParams(a.store)
	if err != nil {
		return nil, fmt.Errorf("restored state has no genesis parameters: %w", err)
	}
	a.chainID, a.params = chain, params
	a.check, a.staged = nil, nil
	a.metrics.Height.Set(float64(rs.height))
	a.metrics.StateKeys.Set(float64(a.store.Size()))
	a.logger.Info("state restored from snapshot; event history starts above it", "height", rs.height,
		"app_hash", fmt.Sprintf("%X", rs.appHash))
	return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ACCEPT}, nil
}
