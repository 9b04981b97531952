package client

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList runs `go list` with the given flags over pkgs and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestImportRules checks the import rules of doc.go (client), api/doc.go, explorer/doc.go and p2p/doc.go, and that the pure
// packages stay pure: a client links no storage engine and no node, so it can be embedded in any
// program; ledger and reputation do no I/O and read no clock (DEVELOPERS: the state machine is
// deterministic).
func TestImportRules(t *testing.T) {
	const mod = "github.com/trustledger/trustledger/"
	nodeSide := []string{
		mod + "storage", mod + "abci", mod + "node",
		"github.com/cosmos/iavl",
		"github.com/cometbft/cometbft/node", "github.com/cometbft/cometbft/consensus",
		"github.com/cometbft/cometbft/mempool", "github.com/cometbft/cometbft/state",
		"github.com/cometbft/cometbft/store", "github.com/cometbft/cometbft/blocksync",
		"github.com/cometbft/cometbft/statesync", "github.com/cometbft/cometbft/evidence",
	}
	cases := []struct {
		pkgs      []string
		tags      string
		forbidden []string // import path prefixes (a prefix matches itself and its sub-packages)
		allowed   []string // exceptions to forbidden, exact paths
	}{
		{[]string{mod + "api", mod + "client"}, "", append([]string{"github.com/dgraph-io/badger"}, nodeSide...), nil},
		{[]string{mod + "api", mod + "client"}, "badgerdb", nodeSide, nil},
		// The explorer reads a node through the client only (explorer/doc.go), and no p2p.
		{[]string{mod + "explorer"}, "", append([]string{"github.com/dgraph-io/badger", mod + "p2p", "github.com/libp2p"}, nodeSide...), nil},
		// p2p (a node's libp2p side) reads the ledger through the client only, and of the node
		// uses only its signing journal and atomic file writes, leaf packages of files (p2p/doc.go).
		{[]string{mod + "p2p"}, "", append([]string{"github.com/dgraph-io/badger"}, nodeSide...), []string{mod + "node/journal", mod + "node/atomicfile"}},
		// api stays lighter than a client: no RPC, no config, no p2p.
		{[]string{mod + "api"}, "badgerdb", []string{"github.com/dgraph-io/badger", "github.com/cometbft/cometbft-db",
			"github.com/cometbft/cometbft/rpc", "github.com/cometbft/cometbft/config", "github.com/cometbft/cometbft/p2p"}, nil},
	}
	for _, c := range cases {
		for _, dep := range goList(t, append([]string{"-tags", c.tags, "-deps"}, c.pkgs...)...) {
			for _, f := range c.forbidden {
				if (dep == f || strings.HasPrefix(dep, f+"/")) && !slices.Contains(c.allowed, dep) {
					t.Errorf("%v (tags %q) links %s; its doc.go forbids %s", c.pkgs, c.tags, dep, f)
				}
			}
		}
	}
	// With the badgerdb tag, badger may come in only through cometbft-db (CometBFT's config
	// imports it): nothing else in a client's dependencies imports a badger package.
	for _, line := range goList(t, "-tags", "badgerdb", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"client") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "github.com/dgraph-io/") || strings.HasPrefix(fields[0], "github.com/cometbft/cometbft-db") {
			continue
		}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, "github.com/dgraph-io/badger") {
				t.Errorf("%s imports %s: a client may link badger only through cometbft-db", fields[0], imp)
			}
		}
	}
	// ledger, ledger/shard and reputation: no I/O, no clock, no randomness in what they import directly.
	impure := map[string]bool{"os": true, "os/exec": true, "net": true, "net/http": true, "io/fs": true,
		"syscall": true, "time": true, "math/rand": true, "math/rand/v2": true, "crypto/rand": true}
	// p2p/stripe likewise, but for crypto/rand: each stripe's nonce is fresh (p2p/stripe/doc.go).
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"ledger", mod+"ledger/shard", mod+"reputation", mod+"p2p/stripe") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if impure[imp] && !(fields[0] == mod+"p2p/stripe" && imp == "crypto/rand") {
				t.Errorf("%s imports %s: it must stay pure (no I/O, clock or randomness)", fields[0], imp)
			}
		}
	}
}
