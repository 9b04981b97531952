package shard

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

const benchShard = 64 << 20

// benchData is made on first use, so the unit tests do not pay for it.
var benchData = sync.OnceValue(func() []byte { return shardBytes(benchShard, 3) })

// BenchmarkCommitment: the tree hash of a 64 MiB shard, beside plain SHA-256 of the same bytes
// on one core (issue 12's target: the commitment at ≥ 0.5 of SHA-256's throughput): the root
// alone (Root, a customer's) and the tree a supplier keeps (Build).
func BenchmarkCommitment(b *testing.B) {
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(benchShard)
		for n := 0; n < b.N; n++ {
			sha256.Sum256(benchData())
		}
	})
	for _, leaf := range []uint32{1024, 256, 64} {
		b.Run(fmt.Sprintf("root/leaf=%d", leaf), func(b *testing.B) {
			b.SetBytes(benchShard)
			for n := 0; n < b.N; n++ {
				if _, err := Root(bytes.NewReader(benchData()), benchShard, leaf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("tree/leaf=%d", leaf), func(b *testing.B) {
			b.SetBytes(benchShard)
			for n := 0; n < b.N; n++ {
				if _, err := Build(bytes.NewReader(benchData()), benchShard, leaf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkAnswer: the 16 leaves and paths of one challenge of a 64 MiB shard of 1 KiB leaves
// (targets: ≤ 5 ms, ≤ 1 MiB of the shard read).
func BenchmarkAnswer(b *testing.B) {
	t, err := Build(bytes.NewReader(benchData()), benchShard, DefaultLeafSize)
	if err != nil {
		b.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(benchData())}
	var commitment, nonce [32]byte
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		nonce[0], nonce[1] = byte(n), byte(n>>8)
		for _, i := range Indices(commitment, nonce, 16, t.Leaves()) {
			if _, _, err := t.Prove(cr, i); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cr.n.Load())/float64(b.N), "bytes-read/op")
}
