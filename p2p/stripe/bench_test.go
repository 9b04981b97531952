package stripe

import (
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// BenchmarkSeal and BenchmarkOpen: a 64 MiB stripe, 4+2 (BENCHMARKS.md); Open rebuilds two lost
// data shards.
func BenchmarkSeal(b *testing.B) {
	key := testKeyB(b)
	plain := testData(64 << 20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, _, err := Seal(key, ledger.ID{1}, plain, 4, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	key := testKeyB(b)
	plain := testData(64 << 20)
	s, shards, err := Seal(key, ledger.ID{1}, plain, 4, 2)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		have := append([][]byte(nil), shards...)
		have[0], have[2] = nil, nil
		if _, err := Open(key, s, have); err != nil {
			b.Fatal(err)
		}
	}
}

func testKeyB(b *testing.B) [32]byte {
	var k [32]byte
	k[0] = 7
	return k
}
