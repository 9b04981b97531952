package stripe

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/reedsolomon"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/ledger/shard"
)

// Bounds of a stripe's shape: at least one data shard, at most 64 shards in all.
const (
	MaxShards = 64
	// MaxSize is the largest plaintext of one stripe (a file is cut into stripes of at most this).
	MaxSize = 1 << 30
)

// Errors of Open and Seal, for errors.Is.
var (
	ErrShape        = errors.New("bad stripe shape")
	ErrTooFewShards = errors.New("too few intact shards to rebuild the stripe")
	ErrDecrypt      = errors.New("the stripe does not decrypt with this key")
)

// Stripe describes one encrypted, erasure-coded piece of a customer's data: what its index
// keeps to get the bytes back. Hashes name each shard, so a damaged shard is known before it is
// used.
type Stripe struct {
	ID     ledger.ID   `json:"id"`
	K      int         `json:"k"`
	M      int         `json:"m"`
	Size   uint64      `json:"size"`   // plaintext bytes
	Sealed uint64      `json:"sealed"` // nonce, ciphertext and tag: what the shards split
	Hashes []ledger.ID `json:"hashes"` // of each of the K+M shards
	// LeafSize, when set, says each hash is the root of the shard's commitment tree with
	// leaves of this size (ledger/shard, specs/audit.md): the root its supplier signs, so a
	// put sends it without hashing the shard again. 0 (stripes sealed before): plain SHA-256.
	LeafSize uint32 `json:"leaf_size,omitempty"`
}

// LeafSize is the leaf size of the trees Seal names shards by: the storage exchange's
// commitments' (1 KiB).
const LeafSize = shard.DefaultLeafSize

// HashShard is the hash the stripe names a shard of its by: its tree root, or its SHA-256 for
// a stripe without a leaf size.
func (s Stripe) HashShard(sh []byte) (ledger.ID, error) {
	if s.LeafSize == 0 {
		return sha256.Sum256(sh), nil
	}
	root, err := shard.Root(bytes.NewReader(sh), uint64(len(sh)), s.LeafSize)
	if err != nil {
		return ledger.ID{}, fmt.Errorf("%w: %v", ErrShape, err)
	}
	return root, nil
}

// matches reports whether sh is shard i of the stripe.
func (s Stripe) matches(i int, sh []byte) bool {
	h, err := s.HashShard(sh)
	return err == nil && h == s.Hashes[i]
}

// Key derives the customer's backup key from its node key (HKDF-SHA256 over the seed): with the
// key file alone, a customer that lost everything else can decrypt its shards.
func Key(priv ed25519.PrivateKey) ([32]byte, error) {
	var k [32]byte
	if len(priv) != ed25519.PrivateKeySize {
		return k, fmt.Errorf("backup key: want an ed25519 private key, got %d bytes", len(priv))
	}
	if _, err := io.ReadFull(hkdf.New(sha256.New, priv.Seed(), nil, []byte("trustledger backup key v1")), k[:]); err != nil {
		return k, err
	}
	return k, nil
}

// Overhead is what sealing adds to a stripe's plaintext: the nonce and the AEAD's tag.
const Overhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// ShardSize is the length of each shard of a stripe of plain bytes sealed and cut into k data
// shards (k ≥ 1).
func ShardSize(plain uint64, k int) uint64 {
	return (plain + Overhead + uint64(k) - 1) / uint64(k)
}

func checkShape(k, m int) error {
	if k < 1 || m < 0 || k+m > MaxShards {
		return fmt.Errorf("%w: %d data and %d parity shards (at least 1 data shard, at most %d in all)", ErrShape, k, m, MaxShards)
	}
	return nil
}

// Seal encrypts plaintext under key, bound to the stripe id (its additional data: a shard set
// cannot be passed off as another stripe), and erasure-codes it into k data and m parity
// shards of equal length.
func Seal(key [32]byte, id ledger.ID, plaintext []byte, k, m int) (Stripe, [][]byte, error) {
	return SealInto(nil, key, id, plaintext, k, m)
}

// SealedCap is the buffer SealInto needs for a plaintext of n bytes in k+m shards.
func SealedCap(n, k, m int) int {
	per := ShardSize(uint64(n), k)
	return int(max(per*uint64(k+max(m, 1)), uint64(chacha20poly1305.NonceSizeX+n+chacha20poly1305.Overhead)))
}

// SealInto is Seal into buf when its capacity is SealedCap or more (the shards are then cut
// from it: the caller may use it again once it is done with them), else into a new buffer.
func SealInto(buf []byte, key [32]byte, id ledger.ID, plaintext []byte, k, m int) (Stripe, [][]byte, error) {
	if err := checkShape(k, m); err != nil {
		return Stripe{}, nil, err
	}
	if len(plaintext) > MaxSize {
		return Stripe{}, nil, fmt.Errorf("%w: %d bytes, at most %d in one stripe", ErrShape, len(plaintext), MaxSize)
	}
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return Stripe{}, nil, err
	}
	// Room for the parity shards and the padding too: Split then cuts the shards out of this one
	// buffer instead of copying into new ones.
	need := SealedCap(len(plaintext), k, m)
	sealed := buf[:0]
	if cap(buf) < need {
		sealed = make([]byte, 0, need)
	}
	sealed = sealed[:chacha20poly1305.NonceSizeX]
	if _, err := rand.Read(sealed); err != nil {
		return Stripe{}, nil, err
	}
	sealed = aead.Seal(sealed, sealed[:chacha20poly1305.NonceSizeX], plaintext, id[:])
	enc, err := reedsolomon.New(k, max(m, 1)) // the library wants a parity shard; m = 0 drops it below
	if err != nil {
		return Stripe{}, nil, fmt.Errorf("%w: %v", ErrShape, err)
	}
	shards, err := enc.Split(sealed)
	if err != nil {
		return Stripe{}, nil, err
	}
	if err := enc.Encode(shards); err != nil {
		return Stripe{}, nil, err
	}
	shards = shards[:k+m]
	s := Stripe{ID: id, K: k, M: m, Size: uint64(len(plaintext)), Sealed: uint64(len(sealed)), Hashes: make([]ledger.ID, k+m), LeafSize: LeafSize}
	for i, sh := range shards {
		if s.Hashes[i], err = s.HashShard(sh); err != nil {
			return Stripe{}, nil, err
		}
	}
	return s, shards, nil
}

// Open rebuilds and decrypts a stripe from its shards, in order, nil for those missing. A shard
// whose hash is not the stripe's is treated as missing; fewer than K intact shards is
// ErrTooFewShards, a key that is not the one it was sealed with ErrDecrypt.
func Open(key [32]byte, s Stripe, shards [][]byte) ([]byte, error) {
	return open(nil, key, s, shards, true)
}

// OpenChecked is Open for shards the caller has checked already (each against a commitment to
// exactly its bytes): it does not hash them again. A shard that is wrong all the same is caught
// by the AEAD (ErrDecrypt), not told apart from the others.
func OpenChecked(key [32]byte, s Stripe, shards [][]byte) ([]byte, error) {
	return open(nil, key, s, shards, false)
}

// intact checks the stripe's shape and returns the Reed-Solomon encoder and its work slice: the
// shards given (each checked against the stripe's hash when check is set; nil for the others),
// at least K of them, and room for the phantom parity shard of M = 0.
func intact(s Stripe, shards [][]byte, check bool) (reedsolomon.Encoder, [][]byte, error) {
	if err := checkShape(s.K, s.M); err != nil {
		return nil, nil, err
	}
	if len(shards) != s.K+s.M || len(s.Hashes) != s.K+s.M {
		return nil, nil, fmt.Errorf("%w: %d shards and %d hashes for %d+%d", ErrShape, len(shards), len(s.Hashes), s.K, s.M)
	}
	work := make([][]byte, s.K+max(s.M, 1))
	n := 0
	for i, sh := range shards {
		switch {
		case len(sh) > 0 && (!check || s.matches(i, sh)):
			work[i] = sh
			n++
		case len(sh) == 0 && cap(sh) > 0:
			work[i] = sh // missing, with room to rebuild it in (the caller's to use again)
		}
	}
	if n < s.K {
		return nil, nil, fmt.Errorf("%w: %d of %d intact, %d needed", ErrTooFewShards, n, s.K+s.M, s.K)
	}
	enc, err := reedsolomon.New(s.K, max(s.M, 1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrShape, err)
	}
	return enc, work, nil
}

func open(buf []byte, key [32]byte, s Stripe, shards [][]byte, check bool) ([]byte, error) {
	sealed, err := join(buf, s, shards, check)
	if err != nil {
		return nil, err
	}
	return Decrypt(key, s, sealed)
}

// JoinChecked rebuilds the stripe's missing data shards from the shards given (in order, nil
// or empty for those missing; each checked by the caller against a commitment to exactly its
// bytes; a missing shard given as an empty slice with room is rebuilt in that memory) and
// joins its sealed bytes, in buf when its capacity allows: what Decrypt opens. The shards may
// be used again once it returns. OpenChecked is JoinChecked and then Decrypt; apart, the
// decryption of one stripe can go on while the next one's shards are read.
func JoinChecked(buf []byte, s Stripe, shards [][]byte) ([]byte, error) {
	return join(buf, s, shards, false)
}

func join(buf []byte, s Stripe, shards [][]byte, check bool) ([]byte, error) {
	enc, work, err := intact(s, shards, check)
	if err != nil {
		return nil, err
	}
	if err := enc.ReconstructData(work); err != nil {
		return nil, fmt.Errorf("rebuilding stripe %s: %w", s.ID, err)
	}
	sealed := buf[:0]
	if cap(buf) < s.K*len(work[0]) {
		sealed = make([]byte, 0, s.K*len(work[0]))
	}
	for _, d := range work[:s.K] {
		sealed = append(sealed, d...)
	}
	if uint64(len(sealed)) < s.Sealed || s.Sealed < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: the shards hold %d bytes, the stripe says %d", ErrShape, len(sealed), s.Sealed)
	}
	return sealed[:s.Sealed], nil
}

// Decrypt opens a stripe's sealed bytes (JoinChecked's) in place: the plaintext returned is a
// part of sealed. ErrDecrypt when they are not what was sealed under key for this stripe.
func Decrypt(key [32]byte, s Stripe, sealed []byte) ([]byte, error) {
	if uint64(len(sealed)) != s.Sealed || len(sealed) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: %d sealed bytes, the stripe says %d", ErrShape, len(sealed), s.Sealed)
	}
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	body := sealed[chacha20poly1305.NonceSizeX:]
	plain, err := aead.Open(body[:0], sealed[:chacha20poly1305.NonceSizeX], body, s.ID[:]) // in place
	if err != nil {
		return nil, fmt.Errorf("stripe %s: %w", s.ID, ErrDecrypt)
	}
	if uint64(len(plain)) != s.Size {
		return nil, fmt.Errorf("%w: %d bytes decrypted, the stripe says %d", ErrShape, len(plain), s.Size)
	}
	return plain, nil
}

// SealWhole seals plaintext as one shard with no descriptor needed to open it (K = 1, M = 0):
// for what must be found with the key alone, such as the descriptor of a customer's index.
func SealWhole(key [32]byte, id ledger.ID, plaintext []byte) ([]byte, error) {
	_, shards, err := Seal(key, id, plaintext, 1, 0)
	if err != nil {
		return nil, err
	}
	return shards[0], nil
}

// OpenWhole opens what SealWhole sealed under the same id; the AEAD is what vouches for it.
func OpenWhole(key [32]byte, id ledger.ID, shard []byte) ([]byte, error) {
	overhead := uint64(chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead)
	if uint64(len(shard)) < overhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a sealed empty stripe", ErrShape, len(shard))
	}
	s := Stripe{ID: id, K: 1, Size: uint64(len(shard)) - overhead, Sealed: uint64(len(shard)), Hashes: []ledger.ID{sha256.Sum256(shard)}}
	return Open(key, s, [][]byte{shard})
}

// ErrRebuilt: a shard rebuilt from the others does not hash to the stripe's record of it.
var ErrRebuilt = errors.New("a rebuilt shard does not match the stripe's hash of it")

// Rebuild computes the shards at positions want from any K intact others (shards in order,
// nil for those missing; each is checked against the stripe's hashes), and checks each rebuilt
// one against its hash too: what a repair puts on a new supplier is exactly the shard that was
// lost. No key is needed. A wanted shard given as an empty slice with room is rebuilt in that
// memory (the result is then that slice); one given with bytes is rebuilt elsewhere, its bytes
// left alone.
func Rebuild(s Stripe, shards [][]byte, want []int) ([][]byte, error) {
	given := slices.Clone(shards)
	for _, i := range want {
		if i < 0 || i >= len(given) {
			return nil, fmt.Errorf("%w: no shard %d in a %d+%d stripe", ErrShape, i, s.K, s.M)
		}
		if len(given[i]) > 0 {
			given[i] = nil // rebuilt even if given: the point is to compute it
		}
	}
	enc, work, err := intact(s, given, true)
	if err != nil {
		return nil, err
	}
	required := make([]bool, len(work)) // only these: the others missing are left missing
	for _, i := range want {
		required[i] = true
	}
	if err := enc.ReconstructSome(work, required); err != nil {
		return nil, fmt.Errorf("rebuilding stripe %s: %w", s.ID, err)
	}
	out := make([][]byte, len(want))
	for j, i := range want {
		if !s.matches(i, work[i]) {
			return nil, fmt.Errorf("stripe %s shard %d: %w", s.ID, i, ErrRebuilt)
		}
		out[j] = work[i]
	}
	return out, nil
}
