// Command scale measures how the ledger's costs grow with history: it builds ledgers of 10^4,
// 10^5 and 10^6 events through the real state machine and app store (IAVL on badger, indexes),
// in blocks of 1,000 receipts (signatures counted as verified, as CheckTx would have), then
// reports apply+commit throughput at that size, query latency of a node's aggregates and of a
// page of its events, and on-disk bytes per event (as the store sits while running, and after a
// clean shutdown and a full compaction). It prints a markdown table. -keep-recent sets
// the state versions kept (as app.toml's [pruning]); SCALE_HEAP_PROFILE=FILE writes a heap
// profile after each size.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

const chain = "scale"

func main() {
	sizes := flag.String("sizes", "10000,100000,1000000", "ledger sizes in events")
	nodes := flag.Int("nodes", 10000, "registered nodes (at most a tenth of the events)")
	keepRecent := flag.Int64("keep-recent", 10, "state versions kept (app.toml [pruning] keep_recent; 0 keeps all)")
	flag.Parse()
	fmt.Printf("State versions kept: %d (0: all).\n\n", *keepRecent)
	fmt.Println("| events in the ledger (nodes) | apply + commit (events/s, last 10 blocks) | node aggregates query p50 / p99 | first page of a node's events p50 / p99 | app db bytes per event on disk, running | same, compacted: all (tree / indexes / rest) | tree / indexes bytes per event uncompressed | heap after |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(*sizes, ",") {
		var n int
		fmt.Sscan(s, &n)
		if err := run(n, min(*nodes, n/10), *keepRecent); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
	}
}

// key is node i's public key: a hash, so keys look as random (and compress as badly) as real ones.
func key(i int) ledger.PubKey {
	return ledger.PubKey(sha256.Sum256(binary.BigEndian.AppendUint64([]byte("node"), uint64(i))))
}

func run(events, nodes int, keepRecent int64) error {
	dir, err := os.MkdirTemp("", "trustledger-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := storage.OpenAppStore(filepath.Join(dir, "app.db"))
	if err != nil {
		return err
	}
	defer func() { st.Close() }()
	if err := st.SetPruning(keepRecent); err != nil {
		return err
	}
	params := ledger.DefaultParams()
	params.PowDifficulty = 0
	params.MaxTxsPerSignerPerBlock = 1 << 30
	if err := ledger.InitGenesis(st, chain, params, nil); err != nil {
		return err
	}
	height := int64(0)
	seq := make([]uint64, nodes)
	block := func(txs []*ledger.Tx) (time.Duration, error) {
		height++
		start := time.Now()
		b := ledger.NewBlock(st, chain, params, ledger.BlockInfo{Height: height, Time: 1_700_000_000 + height}, true)
		for _, tx := range txs {
			if r := b.ApplyTx(tx.Encode(), tx); r.Code != ledger.CodeOK {
				return 0, fmt.Errorf("height %d: %s", height, r.Log)
			}
		}
		if _, err := b.Finish(); err != nil {
			return 0, err
		}
		if _, err := st.Commit(height, b.Records()); err != nil {
			return 0, err
		}
		if err := st.Prune(); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	// Register every node, then open a contract from node i (customer) to node i+1.
	for i := 0; i < nodes; i += 1000 {
		var txs []*ledger.Tx
		for j := i; j < min(i+1000, nodes); j++ {
			seq[j]++
			txs = append(txs, &ledger.Tx{ChainID: chain, Signer: key(j), Sequence: seq[j], Events: []ledger.Event{&ledger.RegisterNode{PeerID: ledger.PeerIDOf(key(j))}}})
		}
		if _, err := block(txs); err != nil {
			return err
		}
	}
	contract := func(i int) ledger.ID { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }
	for i := 0; i < nodes; i += 1000 {
		var txs []*ledger.Tx
		for j := i; j < min(i+1000, nodes); j++ {
			seq[j]++
			txs = append(txs, &ledger.Tx{ChainID: chain, Signer: key(j), Sequence: seq[j], Events: []ledger.Event{&ledger.ContractOpen{
				ContractID: contract(j), Customer: key(j), Supplier: key((j + 1) % nodes), Bytes: 1, DurationSeconds: 1}}})
		}
		if _, err := block(txs); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewSource(1))
	number := make([]uint64, nodes) // the last receipt number of node j's contract
	var last []time.Duration
	for done := 2 * nodes; done < events; done += 1000 {
		txs := make([]*ledger.Tx, 0, 1000)
		for k := 0; k < 1000; k++ {
			j := rng.Intn(nodes)
			seq[j]++
			number[j]++
			// Countersignatures are random bytes, as real ones are to a compressor.
			var sig ledger.Sig
			rng.Read(sig[:])
			txs = append(txs, &ledger.Tx{ChainID: chain, Signer: key(j), Sequence: seq[j], Events: []ledger.Event{&ledger.BandwidthReceipt{
				ContractID: contract(j), Number: number[j], Customer: key(j), Supplier: key((j + 1) % nodes), Bytes: uint64(1 + rng.Intn(1<<20)), Countersig: sig}}})
		}
		d, err := block(txs)
		if err != nil {
			return err
		}
		last = append(last, d)
		if len(last) > 10 {
			last = last[1:]
		}
	}
	total := time.Duration(0)
	for _, d := range last {
		total += d
	}
	rate := "-"
	if len(last) > 0 {
		rate = fmt.Sprintf("%.0f", float64(1000*len(last))/total.Seconds())
	}
	agg := make([]time.Duration, 0, 2000)
	page := make([]time.Duration, 0, 500)
	for q := 0; q < 2000; q++ {
		k := key(rng.Intn(nodes))
		t0 := time.Now()
		if _, _, err := st.GetCommitted(0, ledger.NodeKey(k)); err != nil {
			return err
		}
		if _, _, err := st.GetCommitted(0, ledger.NodeAggKey(k)); err != nil {
			return err
		}
		agg = append(agg, time.Since(t0))
		if q < 500 {
			t0 = time.Now()
			if _, err := st.Events(storage.Filter{Node: &k}, "", 50); err != nil {
				return err
			}
			page = append(page, time.Since(t0))
		}
	}
	tree, err := st.KeyBytes(storage.RegionTree)
	if err != nil {
		return err
	}
	index, err := st.KeyBytes(storage.RegionIndex)
	if err != nil {
		return err
	}
	var ms runtimeMem
	ms.read()
	if f := os.Getenv("SCALE_HEAP_PROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			_ = pprof.WriteHeapProfile(out)
			out.Close()
		}
	}
	// Disk is measured twice: as the store sits while running (write-ahead memtable files and
	// not yet compacted tables included), then after a clean shutdown and a full compaction, which
	// leaves what the ledger keeps (overwritten state versions and pruned tree nodes gone).
	running := st.DiskBytes()
	if err := st.Close(); err != nil {
		return err
	}
	if st, err = storage.OpenAppStore(filepath.Join(dir, "app.db")); err != nil {
		return err
	}
	if err := st.Flatten(); err != nil {
		return err
	}
	disk := st.DiskBytes()
	treeDisk, indexDisk := st.TableBytes()
	per := func(n int64) float64 { return float64(n) / float64(events) }
	fmt.Printf("| %d (%d) | %s | %s | %s | %.0f | %.0f (%.0f / %.0f / %.0f) | %.0f / %.0f | %d MiB |\n", events, nodes, rate, quantiles(agg), quantiles(page),
		per(running), per(disk), per(treeDisk), per(indexDisk), per(disk-treeDisk-indexDisk), per(tree), per(index), ms.heapMiB)
	return nil
}

func quantiles(d []time.Duration) string {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return fmt.Sprintf("%v / %v", q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond))
}

type runtimeMem struct{ heapMiB uint64 }

func (m *runtimeMem) read() {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.heapMiB = s.HeapAlloc >> 20
}
