package keystore

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func TestKeystore(t *testing.T) {
	ks := New(filepath.Join(t.TempDir(), "keys"))
	priv := testKey("alice")
	if _, err := ks.Add("alice", "correct horse", priv); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(ks.Path("alice"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v, want 0600", st.Mode().Perm(), err)
	}
	dir, _ := os.Stat(ks.dir)
	if dir.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v, want 0700", dir.Mode().Perm())
	}
	raw, _ := os.ReadFile(ks.Path("alice"))
	if strings.Contains(string(raw), string(priv.Seed())) {
		t.Fatal("seed stored in the clear")
	}
	kf, err := ks.Load("alice")
	if err != nil {
		t.Fatal(err)
	}
	got, err := kf.Open("correct horse")
	if err != nil || !got.Equal(priv) {
		t.Fatalf("open with the right passphrase: %v", err)
	}
	if _, err := kf.Open("wrong"); !errors.Is(err, ErrBadPassphrase) {
		t.Fatalf("wrong passphrase: got %v, want ErrBadPassphrase", err)
	}
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"duplicate name", func() error { _, err := ks.Add("alice", "x", priv); return err }, "already exists"},
		{"path in name", func() error { _, err := ks.Add("../evil", "x", priv); return err }, "key name"},
		{"empty name", func() error { _, err := ks.Add("", "x", priv); return err }, "key name"},
		{"missing key", func() error { _, err := ks.Load("bob"); return err }, `no key named "bob"`},
	}
	for _, c := range cases {
		if err := c.do(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := ks.Add("alice", "x", priv); !errors.Is(err, ErrKeyExists) {
		t.Errorf("duplicate name: got %v, want ErrKeyExists", err)
	}
	if _, err := ks.Load("bob"); !errors.Is(err, ErrNoKey) {
		t.Errorf("missing key: got %v, want ErrNoKey", err)
	}
	// The ciphertext is bound to the public key: swapping in another key's public key fails.
	kf.PublicKey = "00" + kf.PublicKey[2:]
	if _, err := kf.Open("correct horse"); err == nil {
		t.Error("a key file with an altered public key opened")
	}
}

func TestResolve(t *testing.T) {
	ks := New(filepath.Join(t.TempDir(), "keys"))
	priv := testKey("bob")
	if _, err := ks.Add("bob", "password", priv); err != nil {
		t.Fatal(err)
	}
	want := PubKey(priv)
	for _, in := range []string{"bob", want.String()} {
		got, err := ks.Resolve(in)
		if err != nil || got != want {
			t.Errorf("resolve %q: got %s, %v", in, got, err)
		}
	}
	if _, err := ks.Resolve("carol"); err == nil || !strings.Contains(err.Error(), "neither a local key name") {
		t.Errorf("unknown name: %v", err)
	}
	if names := ks.Names(); names[want] != "bob" || len(names) != 1 {
		t.Errorf("names: %v", names)
	}
}

// TestDamagedOrWrong (issue 16): a wrong passphrase and a damaged file are told apart; a short
// passphrase is refused.
func TestDamagedOrWrong(t *testing.T) {
	ks := New(filepath.Join(t.TempDir(), "keys"))
	if _, err := ks.Add("short", "1234567", testKey("s")); !errors.Is(err, ErrShortPassphrase) {
		t.Fatalf("7-character passphrase: %v, want ErrShortPassphrase", err)
	}
	if _, err := ks.Add("dave", "long enough", testKey("d")); err != nil {
		t.Fatal(err)
	}
	kf, _ := ks.Load("dave")
	if _, err := kf.Open("wrong passphrase"); !errors.Is(err, ErrBadPassphrase) || errors.Is(err, ErrDamaged) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	damaged := *kf
	// Flip a bit of the first byte ("00" in its place was no damage when the byte was 0 already,
	// once in 256 runs).
	first, err := strconv.ParseUint(kf.Ciphertext[:2], 16, 8)
	if err != nil {
		t.Fatalf("ciphertext %q is not hex: %v", kf.Ciphertext[:8], err)
	}
	damaged.Ciphertext = fmt.Sprintf("%02x", first^1) + kf.Ciphertext[2:]
	if _, err := damaged.Open("long enough"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged ciphertext, right passphrase: %v, want ErrDamaged", err)
	}
	truncated := *kf
	truncated.Ciphertext = kf.Ciphertext[:20]
	if _, err := truncated.Open("long enough"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("truncated ciphertext: %v, want ErrDamaged", err)
	}
	os.WriteFile(ks.Path("dave"), []byte("{not json"), 0o600)
	if _, err := ks.Load("dave"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a file that does not parse: %v, want ErrDamaged", err)
	}
}
