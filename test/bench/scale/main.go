// Command scale measures how the ledger's costs grow with history: one ledger, built through
// the real state machine and app store (IAVL on badger, indexes) in blocks of 1,000 bandwidth
// receipts (signatures counted as verified, as CheckTx would have), grows past each size of
// -sizes with the same -nodes registered nodes, so the rows differ only in history. At each
// size it reports apply+commit throughput over the last -window blocks (the mean, and the
// 10th–90th percentile of single blocks), the time per block of each phase (apply the txs,
// finish the block, index its records, save the tree's version, write the commit marker, prune
// old versions), the CPU that other processes used meanwhile, query latency of a node's
// aggregates and of a page of its events, on-disk bytes per event as the store sits, and the
// heap. After the last size the store is closed and fully compacted, and its bytes per event
// are reported again. -keep-recent sets the state versions kept (as app.toml's [pruning]);
// SCALE_HEAP_PROFILE=FILE writes a heap profile at each size, -cpuprofile FILE a CPU profile of
// the run. It prints markdown.
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
	"github.com/trustledger/trustledger/test/bench/procstat"
)

const chain = "scale"

func main() {
	sizes := flag.String("sizes", "100000,300000,1000000", "ledger sizes in events at which to measure, ascending")
	nodes := flag.Int("nodes", 10000, "registered nodes, the same at every size (each registers and opens a contract: two events)")
	window := flag.Int("window", 20, "blocks measured before each size")
	keepRecent := flag.Int64("keep-recent", 10, "state versions kept (app.toml [pruning] keep_recent; 0 keeps all)")
	tree := flag.String("tree", "memory", "the state tree's kind when it prunes: memory (a node's) or disk (iavl, as before)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale: -cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	var at []int
	for _, f := range strings.Split(*sizes, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n <= 2**nodes+*window*1000 || (len(at) > 0 && n <= at[len(at)-1]) {
			fmt.Fprintf(os.Stderr, "scale: -sizes %q: want ascending sizes above %d (two events a node, then -window blocks of 1,000)\n", *sizes, 2**nodes+*window*1000)
			os.Exit(2)
		}
		at = append(at, n)
	}
	if *tree != "memory" && *tree != "disk" {
		fmt.Fprintf(os.Stderr, "scale: -tree %q: use memory or disk\n", *tree)
		os.Exit(2)
	}
	if err := run(at, *nodes, *window, *keepRecent, *tree == "disk"); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// key is node i's public key: a hash, so keys look as random (and compress as badly) as real ones.
func key(i int) ledger.PubKey {
	return ledger.PubKey(sha256.Sum256(binary.BigEndian.AppendUint64([]byte("node"), uint64(i))))
}

// phases is the time one block spent in each phase.
type phases struct{ apply, finish, index, save, marker, prune time.Duration }

func (p phases) total() time.Duration {
	return p.apply + p.finish + p.index + p.save + p.marker + p.prune
}

func run(sizes []int, nodes, window int, keepRecent int64, onDisk bool) error {
	dir, err := os.MkdirTemp("", "trustledger-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := []storage.Option{storage.KeepRecent(keepRecent)}
	if onDisk {
		opts = append(opts, storage.OnDiskTree())
	}
	st, err := storage.OpenAppStore(filepath.Join(dir, "app.db"), opts...)
	if err != nil {
		return err
	}
	defer func() { st.Close() }()
	params := ledger.DefaultParams()
	params.PowDifficulty = 0
	params.MaxTxsPerSignerPerBlock = 1 << 30
	if err := ledger.InitGenesis(st, chain, params, nil); err != nil {
		return err
	}
	kind := "in memory"
	if onDisk || keepRecent == 0 {
		kind = "iavl on disk"
	}
	fmt.Printf("One ledger growing with %d registered nodes; state versions kept: %d (0: all), the tree %s; each size measured over its last %d blocks of 1,000 events.\n\n", nodes, keepRecent, kind, window)
	fmt.Println("| events in the ledger | apply + commit (events/s: mean, p10–p90 of blocks) | per block (ms): apply / finish / index / save / marker / prune | other processes' CPU (cores) | node aggregates query p50 / p99 | first page of a node's events p50 / p99 | app db bytes per event on disk, running | heap after |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	height := int64(0)
	seq := make([]uint64, nodes)
	block := func(txs []*ledger.Tx) (phases, error) {
		var p phases
		height++
		t0 := time.Now()
		b := ledger.NewBlock(st, chain, params, ledger.BlockInfo{Height: height, Time: 1_700_000_000 + height}, true)
		for _, tx := range txs {
			if r := b.ApplyTx(tx.Encode(), tx); r.Code != ledger.CodeOK {
				return p, fmt.Errorf("height %d: %s", height, r.Log)
			}
		}
		t1 := time.Now()
		if _, err := b.Finish(); err != nil {
			return p, err
		}
		t2 := time.Now()
		if _, err := st.Commit(height, b.Records()); err != nil {
			return p, err
		}
		t3 := time.Now()
		if err := st.Prune(); err != nil {
			return p, err
		}
		ct := st.LastCommitTimes()
		p = phases{apply: t1.Sub(t0), finish: t2.Sub(t1), index: ct.Index, save: ct.Save, marker: ct.Marker, prune: time.Since(t3)}
		return p, nil
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
	done := 2 * nodes
	for _, size := range sizes {
		var measured []phases
		var cpu0 cpuSample
		for ; done < size; done += 1000 {
			if cpu0.at.IsZero() && done >= size-window*1000 {
				cpu0 = readCPU() // the window begins
			}
			txs := make([]*ledger.Tx, 0, 1000)
			for k := 0; k < 1000; k++ {
				// The supplier submits the receipt, countersigned by its customer, as the
				// exchange's suppliers do (p2p/supplier_receipts.go).
				j := rng.Intn(nodes)
				supplier := (j + 1) % nodes
				seq[supplier]++
				number[j]++
				// Countersignatures are random bytes, as real ones are to a compressor.
				var sig ledger.Sig
				rng.Read(sig[:])
				txs = append(txs, &ledger.Tx{ChainID: chain, Signer: key(supplier), Sequence: seq[supplier], Events: []ledger.Event{&ledger.BandwidthReceipt{
					ContractID: contract(j), Number: number[j], Customer: key(j), Supplier: key(supplier), Bytes: uint64(1 + rng.Intn(1<<20)), Countersig: sig}}})
			}
			p, err := block(txs)
			if err != nil {
				return err
			}
			if !cpu0.at.IsZero() {
				measured = append(measured, p)
			}
		}
		other := readCPU().othersSince(cpu0)
		row, err := measure(st, rng, nodes, done)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %s | %s | %.2f | %s |\n", done, rates(measured), perPhase(measured), other, row)
	}
	// Disk once more, after a clean shutdown and a full compaction, which leaves what the ledger
	// keeps (overwritten state versions and pruned tree nodes gone).
	tree, err := st.KeyBytes(storage.RegionTree)
	if err != nil {
		return err
	}
	index, err := st.KeyBytes(storage.RegionIndex)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	if st, err = storage.OpenAppStore(filepath.Join(dir, "app.db"), opts...); err != nil {
		return err
	}
	if err := st.Flatten(); err != nil {
		return err
	}
	disk := st.DiskBytes()
	treeDisk, indexDisk := st.TableBytes()
	per := func(n int64) float64 { return float64(n) / float64(done) }
	fmt.Printf("\nAt %d events, closed and compacted: %.0f app db bytes per event on disk (tree %.0f, indexes %.0f, rest %.0f); uncompressed, tree %.0f and indexes %.0f bytes per event.\n",
		done, per(disk), per(treeDisk), per(indexDisk), per(disk-treeDisk-indexDisk), per(tree), per(index))
	return nil
}

// measure queries the store at its size and returns the table's last four cells.
func measure(st *storage.AppStore, rng *rand.Rand, nodes, events int) (string, error) {
	agg := make([]time.Duration, 0, 2000)
	page := make([]time.Duration, 0, 500)
	for q := 0; q < 2000; q++ {
		k := key(rng.Intn(nodes))
		t0 := time.Now()
		if _, _, err := st.GetCommitted(0, ledger.NodeKey(k)); err != nil {
			return "", err
		}
		if _, _, err := st.GetCommitted(0, ledger.NodeAggKey(k)); err != nil {
			return "", err
		}
		agg = append(agg, time.Since(t0))
		if q < 500 {
			t0 = time.Now()
			if _, err := st.Events(storage.Filter{Node: &k}, "", 50); err != nil {
				return "", err
			}
			page = append(page, time.Since(t0))
		}
	}
	var ms runtimeMem
	ms.read()
	if f := os.Getenv("SCALE_HEAP_PROFILE"); f != "" {
		if out, err := os.Create(fmt.Sprintf("%s.%d", f, events)); err == nil {
			_ = pprof.WriteHeapProfile(out)
			out.Close()
		}
	}
	return fmt.Sprintf("%s | %s | %.0f | %d MiB", quantiles(agg), quantiles(page), float64(st.DiskBytes())/float64(events), ms.heapMiB), nil
}

// rates is the measured blocks' events/s: the mean over all, and the 10th–90th percentile of
// single blocks.
func rates(ps []phases) string {
	if len(ps) == 0 {
		return "-"
	}
	var total time.Duration
	per := make([]float64, len(ps))
	for i, p := range ps {
		total += p.total()
		per[i] = 1000 / p.total().Seconds()
	}
	sort.Float64s(per)
	q := func(f float64) float64 { return per[min(len(per)-1, int(f*float64(len(per))))] }
	return fmt.Sprintf("%.0f (%.0f–%.0f)", float64(1000*len(ps))/total.Seconds(), q(0.1), q(0.9))
}

// perPhase is the mean time per block of each phase, in ms.
func perPhase(ps []phases) string {
	var sum phases
	for _, p := range ps {
		sum.apply += p.apply
		sum.finish += p.finish
		sum.index += p.index
		sum.save += p.save
		sum.marker += p.marker
		sum.prune += p.prune
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(max(len(ps), 1)) }
	return fmt.Sprintf("%.0f / %.0f / %.0f / %.0f / %.0f / %.0f", ms(sum.apply), ms(sum.finish), ms(sum.index), ms(sum.save), ms(sum.marker), ms(sum.prune))
}

// cpuSample is the CPU time this process and the whole machine (every core's busy time) used
// so far, with the wall clock it was read at.
type cpuSample struct {
	self, machine time.Duration
	at            time.Time
}

func readCPU() cpuSample {
	return cpuSample{self: procstat.Self(), machine: procstat.Machine(), at: time.Now()}
}

// othersSince is the cores that processes other than this one kept busy since then.
func (s cpuSample) othersSince(then cpuSample) float64 {
	wall := s.at.Sub(then.at).Seconds()
	if wall <= 0 || then.at.IsZero() {
		return 0
	}
	return max(0, ((s.machine-then.machine)-(s.self-then.self)).Seconds()/wall)
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
