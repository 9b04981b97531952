package node

import (
	"strings"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

func TestConfigEnvOverride(t *testing.T) {
	home := Home(t.TempDir())
	if _, err := Init(home, InitOptions{ChainID: "c", Moniker: "m", RPCAddr: "tcp://127.0.0.1:1111",
		P2PAddr: "tcp://127.0.0.1:1112", MetricsAddr: "127.0.0.1:1113", Params: ledger.DefaultParams()}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(home)
	if err != nil || c.RPC.ListenAddress != "tcp://127.0.0.1:1111" || c.DBBackend != "badgerdb" {
		t.Fatalf("from file: %v %+v", err, c.RPC)
	}
	t.Setenv("TRUSTD_RPC_LADDR", "tcp://127.0.0.1:2222")
	if c, err = LoadConfig(home); err != nil || c.RPC.ListenAddress != "tcp://127.0.0.1:2222" {
		t.Fatalf("env override: %v %q", err, c.RPC.ListenAddress)
	}
	if created, err := Init(home, InitOptions{Params: ledger.DefaultParams()}); created || err != nil {
		t.Fatalf("second init: created=%v err=%v, want untouched", created, err)
	}
	if _, err := LoadConfig(Home(t.TempDir())); err == nil || !strings.Contains(err.Error(), "trustd init") {
		t.Fatalf("missing home: %v", err)
	}
}
