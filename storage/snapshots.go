package storage

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SnapshotStore keeps state-sync snapshots as files: DIR/<height>/ holds chunk-<i> files and a
// metadata file, the chunks' SHA-256 hashes in order. A snapshot's hash is the SHA-256 of its
// metadata, so a joiner can check each chunk as it arrives. A snapshot is written under a
// temporary name and renamed into place, so a crash never leaves a partial one listed.
type SnapshotStore struct {
	dir string
}

// SnapshotInfo describes one stored snapshot, as CometBFT's state sync offers it.
type SnapshotInfo struct {
	Height   int64
	Format   uint32
	Chunks   uint32
	Hash     []byte
	Metadata []byte // the chunk hashes, 32 bytes each
}

// OpenSnapshotStore opens (creating) the snapshot directory of a node that is starting, and
// removes the snapshots a previous run left unfinished.
func OpenSnapshotStore(dir string) (*SnapshotStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tmp-") {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return &SnapshotStore{dir: dir}, nil
}

// ReadSnapshotStore reads the snapshots in dir without changing anything, for a listing while
// the node may be writing one.
func ReadSnapshotStore(dir string) *SnapshotStore { return &SnapshotStore{dir: dir} }

// ChunkHashes splits snapshot metadata into the chunk hashes, checking that it describes chunks
// chunks and hashes to hash.
func ChunkHashes(metadata, hash []byte, chunks uint32) ([][]byte, error) {
	if chunks == 0 || len(metadata) != 32*int(chunks) {
		return nil, fmt.Errorf("metadata of %d bytes does not describe %d chunks", len(metadata), chunks)
	}
	if sum := sha256.Sum256(metadata); string(sum[:]) != string(hash) {
		return nil, fmt.Errorf("metadata hashes to %X, the snapshot says %X", sum, hash)
	}
	out := make([][]byte, chunks)
	for i := range out {
		out[i] = metadata[32*i : 32*i+32]
	}
	return out, nil
}

// chunkWriter cuts a stream into chunk files of at most size bytes, hashing each.
type chunkWriter struct {
	dir    string
	size   int
	cur    *os.File
	curLen int
	sum    []byte // metadata so far
	hash   hash.Hash
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.cur == nil {
			f, err := os.Create(filepath.Join(w.dir, fmt.Sprintf("chunk-%d", len(w.sum)/32)))
			if err != nil {
				return written, err
			}
			w.cur, w.curLen = f, 0
			w.hash.Reset()
		}
		n := min(len(p), w.size-w.curLen)
		if _, err := w.cur.Write(p[:n]); err != nil {
			return written, err
		}
		w.hash.Write(p[:n])
		w.curLen += n
		written += n
		p = p[n:]
		if w.curLen == w.size {
			if err := w.closeChunk(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *chunkWriter) closeChunk() error {
	if w.cur == nil {
		return nil
	}
	err := w.cur.Sync()
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	w.cur = nil
	w.sum = w.hash.Sum(w.sum)
	return err
}

// Create writes a snapshot of height from write's stream, cut into chunks of chunkSize bytes.
func (ss *SnapshotStore) Create(height int64, chunkSize int, write func(io.Writer) error) (SnapshotInfo, error) {
	final := filepath.Join(ss.dir, strconv.FormatInt(height, 10))
	if _, err := os.Stat(final); err == nil {
		return ss.info(height)
	}
	tmp, err := os.MkdirTemp(ss.dir, "tmp-")
	if err != nil {
		return SnapshotInfo{}, err
	}
	defer os.RemoveAll(tmp)
	w := &chunkWriter{dir: tmp, size: chunkSize, hash: sha256.New()}
	err = write(w)
	if cerr := w.closeChunk(); err == nil {
		err = cerr
	}
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot at height %d: %w", height, err)
	}
	if len(w.sum) == 0 { // an empty tree still gets one (empty) chunk
		w.hash.Reset()
		w.sum = w.hash.Sum(nil)
		if err := os.WriteFile(filepath.Join(tmp, "chunk-0"), nil, 0o600); err != nil {
			return SnapshotInfo{}, err
		}
	}
	if err := writeFileSync(filepath.Join(tmp, "metadata"), w.sum); err != nil {
		return SnapshotInfo{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot at height %d: %w", height, err)
	}
	return ss.info(height)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (ss *SnapshotStore) info(height int64) (SnapshotInfo, error) {
	meta, err := os.ReadFile(filepath.Join(ss.dir, strconv.FormatInt(height, 10), "metadata"))
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot at height %d: %w", height, err)
	}
	if len(meta) == 0 || len(meta)%32 != 0 {
		return SnapshotInfo{}, fmt.Errorf("snapshot at height %d: metadata of %d bytes", height, len(meta))
	}
	sum := sha256.Sum256(meta)
	return SnapshotInfo{Height: height, Format: SnapshotFormat, Chunks: uint32(len(meta) / 32), Hash: sum[:], Metadata: meta}, nil
}

// List returns the stored snapshots, newest first.
func (ss *SnapshotStore) List() ([]SnapshotInfo, error) {
	heights, err := ss.heights()
	if err != nil {
		return nil, err
	}
	var out []SnapshotInfo
	for i := len(heights) - 1; i >= 0; i-- {
		info, err := ss.info(heights[i])
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (ss *SnapshotStore) heights() ([]int64, error) {
	entries, err := os.ReadDir(ss.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hs []int64
	for _, e := range entries {
		if h, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && e.IsDir() {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
	return hs, nil
}

// ErrNoSnapshotChunk is returned by Chunk for a snapshot or chunk that is not stored.
var ErrNoSnapshotChunk = errors.New("no such snapshot chunk")

// Chunk reads chunk index of the snapshot at height.
func (ss *SnapshotStore) Chunk(height int64, format, index uint32) ([]byte, error) {
	if format != SnapshotFormat {
		return nil, fmt.Errorf("%w: format %d", ErrNoSnapshotChunk, format)
	}
	b, err := os.ReadFile(filepath.Join(ss.dir, strconv.FormatInt(height, 10), fmt.Sprintf("chunk-%d", index)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: height %d chunk %d", ErrNoSnapshotChunk, height, index)
	}
	return b, err
}

// Prune deletes all but the keep newest snapshots.
func (ss *SnapshotStore) Prune(keep int) error {
	heights, err := ss.heights()
	if err != nil {
		return err
	}
	for i := 0; i < len(heights)-keep; i++ {
		if err := os.RemoveAll(filepath.Join(ss.dir, strconv.FormatInt(heights[i], 10))); err != nil {
			return err
		}
	}
	return nil
}
