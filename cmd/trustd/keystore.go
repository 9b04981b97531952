package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
	"golang.org/x/term"

	"github.com/trustledger/trustledger/ledger"
)

// Key files live in <home>/keys/<name>.json, mode 0600, the seed sealed with XChaCha20-Poly1305
// under a key derived from the passphrase with scrypt. Nothing leaves the machine.
const (
	keyFileVersion = 1
	scryptN        = 1 << 15
	scryptR        = 8
	scryptP        = 1
)

// ErrBadPassphrase is returned when a key file does not open with the given passphrase.
var ErrBadPassphrase = errors.New("wrong passphrase")

var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type keyFile struct {
	Version    int    `json:"version"`
	Name       string `json:"name"`
	PublicKey  string `json:"public_key"`
	KDF        string `json:"kdf"`
	N          int    `json:"n"`
	R          int    `json:"r"`
	P          int    `json:"p"`
	Salt       string `json:"salt"`
	Nonce      string `json:"nonce"`
	Ciphertext string `json:"ciphertext"`
}

type keystore struct{ dir string }

func newKeystore(home string) keystore { return keystore{dir: filepath.Join(home, "keys")} }

func (ks keystore) path(name string) string { return filepath.Join(ks.dir, name+".json") }

func checkKeyName(name string) error {
	if !keyNameRE.MatchString(name) {
		return fmt.Errorf("key name %q: use 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

func sealKey(name, passphrase string, priv ed25519.PrivateKey) (*keyFile, error) {
	salt := make([]byte, 16)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	k, err := scrypt.Key([]byte(passphrase), salt, scryptN, scryptR, scryptP, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	ct := aead.Seal(nil, nonce, priv.Seed(), pub)
	return &keyFile{Version: keyFileVersion, Name: name, PublicKey: hex.EncodeToString(pub), KDF: "scrypt",
		N: scryptN, R: scryptR, P: scryptP, Salt: hex.EncodeToString(salt), Nonce: hex.EncodeToString(nonce),
		Ciphertext: hex.EncodeToString(ct)}, nil
}

func (kf *keyFile) open(passphrase string) (ed25519.PrivateKey, error) {
	salt, err1 := hex.DecodeString(kf.Salt)
	nonce, err2 := hex.DecodeString(kf.Nonce)
	ct, err3 := hex.DecodeString(kf.Ciphertext)
	pub, err4 := hex.DecodeString(kf.PublicKey)
	if err := errors.Join(err1, err2, err3, err4); err != nil || kf.KDF != "scrypt" {
		return nil, fmt.Errorf("key file of %q is damaged: %v", kf.Name, err)
	}
	k, err := scrypt.Key([]byte(passphrase), salt, kf.N, kf.R, kf.P, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("key file of %q: %w", kf.Name, err)
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, ct, pub)
	if err != nil {
		return nil, fmt.Errorf("%w for key %q", ErrBadPassphrase, kf.Name)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// add creates a key file; it refuses to overwrite an existing one.
func (ks keystore) add(name, passphrase string, priv ed25519.PrivateKey) (*keyFile, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ks.dir, 0o700); err != nil {
		return nil, err
	}
	kf, err := sealKey(name, passphrase, priv)
	if err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(kf, "", "  ")
	f, err := os.OpenFile(ks.path(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("a key named %q already exists in %s", name, ks.dir)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(ks.path(name))
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return kf, f.Close()
}

func (ks keystore) load(name string) (*keyFile, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(ks.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no key named %q in %s (see `trustd keys list`)", name, ks.dir)
	}
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("key file %s is not valid JSON: %w", ks.path(name), err)
	}
	return &kf, nil
}

func (ks keystore) list() ([]*keyFile, error) {
	entries, err := os.ReadDir(ks.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*keyFile
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			kf, err := ks.load(name)
			if err != nil {
				return nil, err
			}
			out = append(out, kf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// passphraseSource reads the passphrase: --passphrase-file, then TRUSTD_PASSPHRASE, then a prompt
// on the terminal (or one line of standard input when it is not a terminal).
type passphraseSource struct {
	file string
}

func (p passphraseSource) get(prompt string, confirm bool) (string, error) {
	if p.file != "" {
		b, err := os.ReadFile(p.file)
		if err != nil {
			return "", fmt.Errorf("read passphrase file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if v, ok := os.LookupEnv("TRUSTD_PASSPHRASE"); ok {
		return v, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no passphrase: set TRUSTD_PASSPHRASE, pass --passphrase-file, or run in a terminal")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(os.Stderr, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	if confirm {
		fmt.Fprint(os.Stderr, "Repeat passphrase: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		if string(again) != string(b) {
			return "", errors.New("the passphrases differ")
		}
	}
	return string(b), nil
}

// unlock loads and opens the named key.
func unlock(home, name string, pp passphraseSource) (ed25519.PrivateKey, error) {
	kf, err := newKeystore(home).load(name)
	if err != nil {
		return nil, err
	}
	pass, err := pp.get(fmt.Sprintf("Passphrase for key %q: ", name), false)
	if err != nil {
		return nil, err
	}
	return kf.open(pass)
}

// resolveNode reads a node given as a local key name or as 64 hex digits.
func resolveNode(home, s string) (ledger.PubKey, error) {
	if len(s) == 64 {
		if k, err := ledger.ParsePubKey(s); err == nil {
			return k, nil
		}
	}
	if checkKeyName(s) == nil {
		if kf, err := newKeystore(home).load(s); err == nil {
			return ledger.ParsePubKey(kf.PublicKey)
		}
	}
	return ledger.PubKey{}, fmt.Errorf("%q is neither a local key name nor a 64-hex-digit node key", s)
}
