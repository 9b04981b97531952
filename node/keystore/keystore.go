// Package keystore keeps a node home's signing keys: ed25519 seeds in <home>/keys/<name>.json,
// mode 0600, each sealed with XChaCha20-Poly1305 under a key derived from a local passphrase
// with scrypt (the public key is the ciphertext's associated data, so a swapped public key does
// not open). No key, passphrase or seed ever leaves the machine; there is no remote password.
package keystore

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
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

// Key file format and the scrypt cost of new files.
const (
	keyFileVersion = 1
	scryptN        = 1 << 15
	scryptR        = 8
	scryptP        = 1
)

var (
	// ErrBadPassphrase is returned when a key file does not open with the given passphrase.
	ErrBadPassphrase = errors.New("wrong passphrase")
	// ErrNoKey is returned for a key name that has no file.
	ErrNoKey = errors.New("no such key")
	// ErrKeyExists is returned by Add for a name already taken.
	ErrKeyExists = errors.New("key exists")
	// ErrDamaged is returned for a key file that does not parse or does not open although the
	// passphrase is right (its check value matches).
	ErrDamaged = errors.New("key file damaged")
	// ErrShortPassphrase is returned by Add for a passphrase shorter than MinPassphrase.
	ErrShortPassphrase = errors.New("passphrase too short")
)

// MinPassphrase is the shortest passphrase a new key takes, in characters.
const MinPassphrase = 8

var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// File is one key file: the public key in the clear, the seed sealed.
type File struct {
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
	// Check is 8 bytes of SHA-256 over the derived key: a wrong passphrase fails it, a damaged
	// file passes it and then fails to open. (Files from before it have none.)
	Check string `json:"check,omitempty"`
}

// checkValue is what Check holds for a derived key.
func checkValue(k []byte) string {
	h := sha256.Sum256(append([]byte("trustledger key check\x00"), k...))
	return hex.EncodeToString(h[:8])
}

// Store is the key files of one directory.
type Store struct{ dir string }

// New returns the store of the key files in dir (a home's keys/ directory); dir is created with
// mode 0700 when the first key is added.
func New(dir string) Store { return Store{dir: dir} }

// Dir is the store's directory.
func (ks Store) Dir() string { return ks.dir }

// Path is the file of the named key.
func (ks Store) Path(name string) string { return filepath.Join(ks.dir, name+".json") }

// CheckName refuses names that are not 1 to 64 letters, digits, '.', '_' or '-' (a name is a
// file name, so no path can hide in it).
func CheckName(name string) error {
	if !keyNameRE.MatchString(name) {
		return fmt.Errorf("key name %q: use 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

func sealKey(name, passphrase string, priv ed25519.PrivateKey) (*File, error) {
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
	return &File{Version: keyFileVersion, Name: name, PublicKey: hex.EncodeToString(pub), KDF: "scrypt",
		N: scryptN, R: scryptR, P: scryptP, Salt: hex.EncodeToString(salt), Nonce: hex.EncodeToString(nonce),
		Ciphertext: hex.EncodeToString(ct), Check: checkValue(k)}, nil
}

// Open unseals the key; a wrong passphrase is ErrBadPassphrase.
func (kf *File) Open(passphrase string) (ed25519.PrivateKey, error) {
	salt, err1 := hex.DecodeString(kf.Salt)
	nonce, err2 := hex.DecodeString(kf.Nonce)
	ct, err3 := hex.DecodeString(kf.Ciphertext)
	pub, err4 := hex.DecodeString(kf.PublicKey)
	if err := errors.Join(err1, err2, err3, err4); err != nil || kf.KDF != "scrypt" {
		return nil, fmt.Errorf("%w: %q: %v", ErrDamaged, kf.Name, err)
	}
	if len(salt) != 16 || len(nonce) != chacha20poly1305.NonceSizeX || len(ct) != ed25519.SeedSize+chacha20poly1305.Overhead || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %q: fields of the wrong length (salt %d, nonce %d, ciphertext %d, public key %d bytes)",
			ErrDamaged, kf.Name, len(salt), len(nonce), len(ct), len(pub))
	}
	k, err := scrypt.Key([]byte(passphrase), salt, kf.N, kf.R, kf.P, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("key file of %q: %w", kf.Name, err)
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	if kf.Check != "" && kf.Check != checkValue(k) {
		return nil, fmt.Errorf("%w for key %q", ErrBadPassphrase, kf.Name)
	}
	seed, err := aead.Open(nil, nonce, ct, pub)
	if err != nil && kf.Check != "" {
		return nil, fmt.Errorf("%w: %q opens with this passphrase, but its sealed seed or public key was changed", ErrDamaged, kf.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w for key %q (or the file is damaged)", ErrBadPassphrase, kf.Name)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// Add creates a key file; it refuses to overwrite an existing one (ErrKeyExists).
func (ks Store) Add(name, passphrase string, priv ed25519.PrivateKey) (*File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if ks.Exists(name) {
		return nil, fmt.Errorf("a key named %q already exists in %s: %w", name, ks.dir, ErrKeyExists)
	}
	if n := len([]rune(passphrase)); n < MinPassphrase {
		return nil, fmt.Errorf("%w: %d characters; use at least %d", ErrShortPassphrase, n, MinPassphrase)
	}
	if err := os.MkdirAll(ks.dir, 0o700); err != nil {
		return nil, err
	}
	kf, err := sealKey(name, passphrase, priv)
	if err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(kf, "", "  ")
	f, err := os.OpenFile(ks.Path(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("a key named %q already exists in %s: %w", name, ks.dir, ErrKeyExists)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(ks.Path(name))
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return kf, f.Close()
}

// Load reads a key file without opening it; a missing one is ErrNoKey.
func (ks Store) Load(name string) (*File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(ks.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no key named %q in %s (see `trustd keys list`): %w", name, ks.dir, ErrNoKey)
	}
	if err != nil {
		return nil, err
	}
	var kf File
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid JSON: %v", ErrDamaged, ks.Path(name), err)
	}
	return &kf, nil
}

// List reads every key file, sorted by name.
func (ks Store) List() ([]*File, error) {
	entries, err := os.ReadDir(ks.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*File
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			kf, err := ks.Load(name)
			if err != nil {
				return nil, err
			}
			out = append(out, kf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Passphrase says where a passphrase comes from: File if set, else the TRUSTD_PASSPHRASE
// environment variable, else a prompt on the terminal (or one line of standard input when it
// is not a terminal).
type Passphrase struct {
	File string
}

// Get reads the passphrase; with confirm, a terminal prompt asks twice.
func (p Passphrase) Get(prompt string, confirm bool) (string, error) {
	if p.File != "" {
		b, err := os.ReadFile(p.File)
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

// Unlock loads and opens the named key, asking pp for its passphrase.
func (ks Store) Unlock(name string, pp Passphrase) (ed25519.PrivateKey, error) {
	kf, err := ks.Load(name)
	if err != nil {
		return nil, err
	}
	pass, err := pp.Get(fmt.Sprintf("Passphrase for key %q: ", name), false)
	if err != nil {
		return nil, err
	}
	return kf.Open(pass)
}

// Exists reports whether a key of that name has a file.
func (ks Store) Exists(name string) bool {
	_, err := os.Stat(ks.Path(name))
	return err == nil
}

// Key is the file's public key.
func (kf *File) Key() (ledger.PubKey, error) { return ledger.ParsePubKey(kf.PublicKey) }

// Resolve reads a node given as a local key name or as 64 hex digits.
func (ks Store) Resolve(s string) (ledger.PubKey, error) {
	if len(s) == 64 {
		if k, err := ledger.ParsePubKey(s); err == nil {
			return k, nil
		}
	}
	if CheckName(s) == nil {
		if kf, err := ks.Load(s); err == nil {
			return kf.Key()
		}
	}
	return ledger.PubKey{}, fmt.Errorf("%q is neither a local key name nor a 64-hex-digit node key", s)
}

// Names maps the public keys of the store's keys to their names (empty if none can be read).
func (ks Store) Names() map[ledger.PubKey]string {
	names := map[ledger.PubKey]string{}
	if kfs, err := ks.List(); err == nil {
		for _, kf := range kfs {
			if k, err := kf.Key(); err == nil {
				names[k] = kf.Name
			}
		}
	}
	return names
}

// PubKey is the ledger key of an ed25519 private key.
func PubKey(priv ed25519.PrivateKey) ledger.PubKey {
	var k ledger.PubKey
	copy(k[:], priv.Public().(ed25519.PublicKey))
	return k
}
