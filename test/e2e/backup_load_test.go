package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dustin/go-humanize"

	trustd "github.com/trustledger/trustledger/node"
)

var backupLoadEnv = flag.String("backup.env", "", "with -backup.load: NAME=value for the customer node's environment (TRUSTD_MEMORY_SOFT_LIMIT_MIB=200)")

var backupLoad = flag.String("backup.load", "", "with a size (1GiB): TestBackupLoad puts and gets a file that large through real processes and reports the customer's peak RSS and the times (BENCHMARKS.md)")

// TestBackupLoad (issue 13's performance targets; run by hand, `go test ./test/e2e -run
// TestBackupLoad -v -args -backup.load=1GiB`): the customer node puts and gets one file of the
// given size 4+2 on six storage nodes, all real processes on loopback, and the test reports the
// customer process's peak resident memory (VmHWM) after each, and each one's time; then it
// fires one supplier and times the repair of its shards onto the spare (issue 14).
func TestBackupLoad(t *testing.T) {
	if *backupLoad == "" {
		t.Skip("a load run: -args -backup.load=1GiB")
	}
	size, err := humanize.ParseBytes(*backupLoad)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	if *backupLoadEnv != "" {
		env = append(env, *backupLoadEnv)
	}
	// Seven: six hold the file and one spare takes the repair. Each holds a quarter, and more.
	w := newStorageNetworkOf(t, 7, humanize.IBytes(size), append(env, "TRUSTD_SERVICES_SUPPLIER_MANAGER=false")...)
	path := filepath.Join(t.TempDir(), "big.bin")
	sum := writeRandomFile(t, path, size)
	idleRSS := peakRSS(t, w.cust)
	start := time.Now()
	var put trustd.BackupPutResult
	w.cust.jsonCLI(&put, "backup", "put", path)
	putTime := time.Since(start)
	putRSS := peakRSS(t, w.cust)
	out := filepath.Join(t.TempDir(), "back.bin")
	start = time.Now()
	w.cust.mustCLI("backup", "get", put.Files[0].ID, out)
	getTime := time.Since(start)
	getRSS := peakRSS(t, w.cust)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil || !bytes.Equal(h.Sum(nil), sum) {
		t.Fatalf("the file read back differs (%v)", err)
	}
	rate := func(n uint64, d time.Duration) string { return fmt.Sprintf("%.0f MB/s", float64(n)/d.Seconds()/1e6) }
	t.Logf("%s 4+2 on seven supplier processes (six hold it): customer peak RSS %s before; put %s (%s), peak RSS %s; get %s (%s), peak RSS %s",
		humanize.IBytes(size), humanize.IBytes(idleRSS), putTime.Round(time.Millisecond), rate(size, putTime), humanize.IBytes(putRSS),
		getTime.Round(time.Millisecond), rate(size, getTime), humanize.IBytes(getRSS))

	// Repair (issue 14): one supplier is fired; its shards (a quarter of the file: a 64 MiB shard
	// for a 256 MiB file) are rebuilt from K others and placed on the spare, and the contract is
	// closed in the ledger. Timed from the decision to the fire's return.
	var sups []trustd.HiredSupplier
	w.cust.jsonCLI(&sups, "suppliers")
	var victim trustd.HiredSupplier
	for _, s := range sups {
		if s.Shards > 0 && s.Supplier != w.suppliers[0].pub {
			victim = s
			break
		}
	}
	h0 := w.cust.height()
	start = time.Now()
	var fire trustd.FireResult
	w.cust.jsonCLI(&fire, "suppliers", "fire", victim.Supplier, "--reason", "repair throughput")
	repairTime := time.Since(start)
	repairRSS := peakRSS(t, w.cust)
	t.Logf("repair: %s of shards (%d) re-placed and the contract closed in %s (%s of shard placed, %s of the file read and rebuilt), "+
		"closed %d blocks after the decision's height; customer peak RSS %s",
		humanize.IBytes(victim.Bytes), victim.Shards, repairTime.Round(time.Millisecond), rate(victim.Bytes, repairTime), rate(size, repairTime),
		fire.Height-h0, humanize.IBytes(repairRSS))
	w.cust.mustCLI("backup", "get", put.Files[0].ID, out+".2")
	if f2, err := os.ReadFile(out + ".2"); err != nil || sha256.Sum256(f2) != [32]byte(sum) {
		t.Fatalf("the file after the repair differs (%v)", err)
	}
}

// writeRandomFile writes size bytes that do not compress and returns their SHA-256.
func writeRandomFile(t *testing.T, path string, size uint64) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= min(left, uint64(len(buf))) {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		chunk := buf[:min(left, uint64(len(buf)))]
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	return h.Sum(nil)
}

// peakRSS is the node process's peak resident set (VmHWM).
func peakRSS(t *testing.T, n *node) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
