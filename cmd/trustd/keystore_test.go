package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func TestKeystore(t *testing.T) {
	ks := newKeystore(t.TempDir())
	priv := testKey("alice")
	if _, err := ks.add("alice", "correct horse", priv); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(ks.path("alice"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v, want 0600", st.Mode().Perm(), err)
	}
	dir, _ := os.Stat(ks.dir)
	if dir.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v, want 0700", dir.Mode().Perm())
	}
	raw, _ := os.ReadFile(ks.path("alice"))
	if strings.Contains(string(raw), string(priv.Seed())) {
		t.Fatal("seed stored in the clear")
	}
	kf, err := ks.load("alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err := kf.open("correct horse")
	if err != nil || !got.Equal(priv) {
		t.Fatalf("open with the right passphrase: %v", err)
	}
	if _, err := kf.open("wrong"); !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("wrong passphrase: got %v, want ErrBadPassphrase", err)
	}
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"duplicate name", func() error { _, err := ks.add("alice", "x", priv); return err }, "already exists"},
		{"path in name", func() error { _, err := ks.add("../evil", "x", priv); return err }, "key name"},
		{"empty name", func() error { _, err := ks.add("", "x", priv); return err }, "key name"},
		{"missing key", func() error { _, err := ks.load("bob"); return err }, `no key named "bob"`},
	}
	for _, c := range cases {
		if err := c.do(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// The ciphertext is bound to the public key: swapping in another key's public key fails.
	kf.PublicKey = "00" + kf.PublicKey[2:]
	if _, err := kf.open("correct horse"); err == nil {
		t.Error("a key file with an altered public key opened")
	}
}

func TestResolveNode(t *testing.T) {
	home := t.TempDir()
	priv := testKey("bob")
	if _, err := newKeystore(home).add("bob", "pw", priv); err != nil {
		t.Fatal(err)
	}
	want := pub(priv)
	for _, in := range []string{"bob", want.String()} {
		got, err := resolveNode(home, in)
		if err != nil || got != want {
			t.Errorf("resolve %q: got %s, %v", in, got, err)
		}
	}
	if _, err := resolveNode(home, "carol"); err == nil || !strings.Contains(err.Error(), "neither a local key name") {
		t.Errorf("unknown name: %v", err)
	}
}

func TestConfigEnvOverride(t *testing.T) {
	home := t.TempDir()
	if _, err := initHome(home, initOptions{chainID: "c", moniker: "m", rpcAddr: "tcp://127.0.0.1:1111",
		p2pAddr: "tcp://127.0.0.1:1112", metricsAddr: "127.0.0.1:1113", params: defaultTestParams()}); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(home)
	if err != nil || c.RPC.ListenAddress != "tcp://127.0.0.1:1111" || c.DBBackend != "badgerdb" {
		t.Fatalf("from file: %v %+v", err, c.RPC)
	}
	t.Setenv("TRUSTD_RPC_LADDR", "tcp://127.0.0.1:2222")
	if c, err = loadConfig(home); err != nil || c.RPC.ListenAddress != "tcp://127.0.0.1:2222" {
		t.Fatalf("env override: %v %q", err, c.RPC.ListenAddress)
	}
	if created, err := initHome(home, initOptions{params: defaultTestParams()}); created || err != nil {
		t.Fatalf("second init: created=%v err=%v, want untouched", created, err)
	}
	if _, err := loadConfig(t.TempDir()); err == nil || !strings.Contains(err.Error(), "trustd init") {
		t.Fatalf("missing home: %v", err)
	}
}

func defaultTestParams() ledger.Params { return ledger.DefaultParams() }
