package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
)

func testKey(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("p2p test key " + name))
	return ed25519.NewKeyFromSeed(s[:])
}

func pub(priv ed25519.PrivateKey) ledger.PubKey {
	var k ledger.PubKey
	copy(k[:], priv.Public().(ed25519.PublicKey))
	return k
}

// mapRegistry stands in for the ledger's answer (LedgerRegistry is tested against a real node
// in node/p2p_test.go); err makes every lookup fail.
type mapRegistry struct {
	mu  sync.Mutex
	reg map[ledger.PubKey]bool
	err error
}

func (r *mapRegistry) Registered(_ context.Context, k ledger.PubKey) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reg[k], r.err
}

// newHost starts a host on loopback, closed when the test ends.
func newHost(t testing.TB, priv ed25519.PrivateKey, reg Registry) *Host {
	t.Helper()
	h, err := New(priv, reg, Config{RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	for _, a := range h.Addrs() {
		if !strings.HasPrefix(a.String(), "/ip4/127.0.0.1/tcp/") {
			t.Fatalf("host listens on %s, want loopback only", a)
		}
	}
	return h
}

// serveSupplier makes h a supplier on the test chain, with shards and journal in temporary
// directories.
func serveSupplier(t testing.TB, h *Host, terms Terms) *Supplier {
	t.Helper()
	s, err := h.ServeSupplier(SupplierConfig{ChainID: chain, Terms: terms, Dir: t.TempDir(), Journal: journal.Open(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func connect(t testing.TB, from, to *Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := from.Connect(ctx, to.AddrInfo()); err != nil {
		t.Fatal(err)
	}
}

// TestPeerIDIsTheLedgerKey (P-1): a host's peer id is ledger.PeerIDOf of its node key, the key
// comes back out of the peer id, and a peer id of another key type names no ledger node.
func TestPeerIDIsTheLedgerKey(t *testing.T) {
	priv := testKey("alice")
	h := newHost(t, priv, &mapRegistry{})
	if h.ID().String() != ledger.PeerIDOf(pub(priv)) {
		t.Fatalf("peer id %s, ledger says %s", h.ID(), ledger.PeerIDOf(pub(priv)))
	}
	id, err := PeerID(pub(priv))
	if err != nil || id != h.ID() {
		t.Fatalf("PeerID: %s, %v", id, err)
	}
	if k, err := KeyOf(h.ID()); err != nil || k != pub(priv) {
		t.Fatalf("KeyOf: %s, %v", k, err)
	}
	sk, _, err := crypto.GenerateSecp256k1Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := KeyOf(other); !errors.Is(err, ErrNotLedgerKey) {
		t.Fatalf("KeyOf a secp256k1 peer: %v, want ErrNotLedgerKey", err)
	}
	if _, err := New(priv[:31], &mapRegistry{}, Config{}); err == nil {
		t.Fatal("a host from a truncated key started")
	}
}

const chain = "p2p-test"

func offer(customer, supplier ed25519.PrivateKey, id string, bytes, price, seconds uint64) ledger.ContractOpen {
	return ledger.ContractOpen{ContractID: sha256.Sum256([]byte(id)), Customer: pub(customer), Supplier: pub(supplier),
		Bytes: bytes, DurationSeconds: seconds, PricePerGiBMonth: price}
}

// TestContractOffer (P-2, P-4): a supplier countersigns offers within its terms, refuses the
// others with a code and a reason, and answers only registered nodes.
func TestContractOffer(t *testing.T) {
	alice, bob, carol, mallory := testKey("alice"), testKey("bob"), testKey("carol"), testKey("mallory")
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true, pub(bob): true, pub(carol): true}}
	supplier := newHost(t, bob, reg)
	s := serveSupplier(t, supplier, Terms{Space: 10 << 20, PricePerGiBMonth: 2, MaxDurationSeconds: 90 * 86400})
	customer := newHost(t, alice, reg)
	connect(t, customer, supplier)
	ctx := context.Background()
	day := uint64(86400)

	first := offer(alice, bob, "c1", 4<<20, 2, 30*day)
	signed, err := customer.OfferContract(ctx, supplier.ID(), chain, first)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(bob.Public().(ed25519.PublicKey), ledger.CountersignBytes(chain, &first), signed.Countersig[:]) {
		t.Fatal("the countersignature does not verify")
	}
	if s.Committed() != 4<<20 {
		t.Fatalf("committed %d after one contract of 4 MiB", s.Committed())
	}
	// The same offer again (an answer lost on the way): the same signature, no more space taken.
	again, err := customer.OfferContract(ctx, supplier.ID(), chain, first)
	if err != nil || again.Countersig != signed.Countersig || s.Committed() != 4<<20 {
		t.Fatalf("the same offer again: %v, same signature %v, committed %d", err, again.Countersig == signed.Countersig, s.Committed())
	}

	refusals := []struct {
		name string
		open ledger.ContractOpen
		code string
	}{
		{"the same contract id on other terms", offer(alice, bob, "c1", 1<<20, 2, 30*day), CodeDuplicate},
		{"more than the free space", offer(alice, bob, "c2", 7<<20, 2, 30*day), CodeNoSpace},
		{"below the price", offer(alice, bob, "c3", 1<<20, 1, 30*day), CodePrice},
		{"longer than accepted", offer(alice, bob, "c4", 1<<20, 2, 91*day), CodeDuration},
		{"no bytes", offer(alice, bob, "c5", 0, 2, 30*day), CodeBadRequest},
	}
	for _, c := range refusals {
		_, err := customer.OfferContract(ctx, supplier.ID(), chain, c.open)
		var r *RefusedError
		if !errors.As(err, &r) || !errors.Is(err, ErrRefused) || r.Code != c.code || r.Reason == "" {
			t.Errorf("%s: %v, want a refusal with code %s and a reason", c.name, err, c.code)
		}
	}
	if s.Committed() != 4<<20 {
		t.Fatalf("committed %d after refusals, want 4 MiB still", s.Committed())
	}
	// What the customer's side refuses to send, the supplier refuses too: raw requests.
	raw := []struct {
		name  string
		offer ContractOffer
		code  string
	}{
		{"another supplier", ContractOffer{ChainID: chain, Open: offer(alice, carol, "c6", 1<<20, 2, day)}, CodeNotForMe},
		{"another customer", ContractOffer{ChainID: chain, Open: offer(carol, bob, "c7", 1<<20, 2, day)}, CodeBadRequest},
		{"another chain", ContractOffer{ChainID: "other", Open: offer(alice, bob, "c8", 1<<20, 2, day)}, CodeBadRequest},
	}
	for _, c := range raw {
		err := customer.request(ctx, supplier.ID(), ProtocolContract, c.offer, nil)
		var r *RefusedError
		if !errors.As(err, &r) || r.Code != c.code {
			t.Errorf("%s: %v, want code %s", c.name, err, c.code)
		}
	}
	// A field the protocol does not define, and a length prefix beyond MaxMessage.
	for name, msg := range map[string][]byte{
		"unknown field": []byte(`{"chain_id":"p2p-test","open":{},"extra":1}`),
		"two values":    []byte(`{"chain_id":"p2p-test"} {}`),
	} {
		if code := rawExchange(t, customer, supplier, msg, false); code != CodeBadRequest {
			t.Errorf("%s: code %q, want %s", name, code, CodeBadRequest)
		}
	}
	if code := rawExchange(t, customer, supplier, nil, true); code != CodeBadRequest {
		t.Errorf("oversized message: code %q, want %s", code, CodeBadRequest)
	}

	// An unregistered peer is refused before its request is read; so is everyone while the
	// registry cannot answer.
	stranger := newHost(t, mallory, reg)
	connect(t, stranger, supplier)
	_, err = stranger.OfferContract(ctx, supplier.ID(), chain, offer(mallory, bob, "m1", 1<<20, 2, day))
	var r *RefusedError
	if !errors.As(err, &r) || r.Code != CodeUnregistered || !strings.Contains(r.Reason, ledger.PeerIDOf(pub(mallory))) {
		t.Fatalf("unregistered peer: %v", err)
	}
	reg.mu.Lock()
	reg.err = errors.New("ledger unreachable")
	reg.mu.Unlock()
	_, err = customer.OfferContract(ctx, supplier.ID(), chain, offer(alice, bob, "c9", 1<<20, 2, day))
	if !errors.As(err, &r) || r.Code != CodeUnavailable {
		t.Fatalf("registry down: %v", err)
	}
	// After Stop the protocol is gone.
	s.Stop()
	if _, err := customer.OfferContract(ctx, supplier.ID(), chain, offer(alice, bob, "c10", 1<<20, 2, day)); err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("offer after Stop: %v, want the protocol not supported", err)
	}
}

// rawExchange sends msg (or, with oversized, a length prefix of MaxMessage+1 and nothing else)
// on the contract protocol and returns the reply's code.
func rawExchange(t *testing.T, from, to *Host, msg []byte, oversized bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := from.h.NewStream(ctx, to.ID(), ProtocolContract)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if oversized {
		_, err = s.Write([]byte{0x81, 0x80, 0x01}) // uvarint 16385 = MaxMessage+1
	} else {
		err = msgio.NewVarintWriter(s).WriteMsg(msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	var rep Reply
	if err := readMsg(s, &rep); err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	if rep.OK {
		b, _ := json.Marshal(rep)
		t.Fatalf("accepted: %s", b)
	}
	return rep.Code
}

// TestStreamsPerPeerLimit (P-3): a peer gets at most StreamsPerPeer inbound streams of one of our
// protocols at a time; the next is reset by the resource manager instead of being served.
func TestStreamsPerPeerLimit(t *testing.T) {
	alice, bob := testKey("alice"), testKey("bob")
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{pub(alice): true, pub(bob): true}}
	supplier, err := New(bob, reg, Config{StreamsPerPeer: 2, RequestTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = supplier.Close() })
	serveSupplier(t, supplier, Terms{Space: 1 << 20})
	customer := newHost(t, alice, reg)
	connect(t, customer, supplier)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Two streams that start a message and never finish it hold both of alice's places.
	for i := 0; i < 2; i++ {
		s, err := customer.h.NewStream(ctx, supplier.ID(), ProtocolContract)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		if _, err := s.Write([]byte{0x10}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the supplier open both
	s, err := customer.h.NewStream(ctx, supplier.ID(), ProtocolContract)
	if err == nil {
		defer s.Reset()
		_ = s.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err = s.Write([]byte{0x10}); err == nil {
			var rep Reply
			err = readMsg(s, &rep)
			if err == nil {
				t.Fatalf("a third stream was served (%+v); the limit is 2 per peer", rep)
			}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(fmt.Sprint(err), "deadline") {
		t.Fatalf("the third stream waited instead of being refused: %v", err)
	}
}

// TestTransferTimeout (P-6): a shard transfer may take RequestTimeout plus a second per
// MinTransferRate bytes.
func TestTransferTimeout(t *testing.T) {
	c := Config{}.withDefaults()
	for _, tc := range []struct {
		n    uint64
		want time.Duration
	}{{0, 10 * time.Second}, {1 << 20, 11 * time.Second}, {64 << 20, 74 * time.Second}} {
		if got := c.transferTimeout(tc.n); got != tc.want {
			t.Errorf("%d bytes: %s, want %s", tc.n, got, tc.want)
		}
	}
}

// TestPeerRouting (P-5): hosts that know only a bootstrap peer find each other through the
// DHT by peer id alone: alice, who met only bob, reaches carol, who met only bob too.
func TestPeerRouting(t *testing.T) {
	reg := &mapRegistry{reg: map[ledger.PubKey]bool{}}
	alice, bob, carol := newHost(t, testKey("alice"), reg), newHost(t, testKey("bob"), reg), newHost(t, testKey("carol"), reg)
	connect(t, alice, bob)
	connect(t, carol, bob)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if len(alice.h.Peerstore().Addrs(carol.ID())) != 0 {
		t.Fatal("alice knows carol's addresses before asking")
	}
	for _, h := range []*Host{alice, carol} {
		// Bounded: the routing tables fill once identify has told each side the other speaks
		// the DHT's protocol.
		for alice.dht.RoutingTable().Size() == 0 || carol.dht.RoutingTable().Size() == 0 {
			if ctx.Err() != nil {
				t.Fatal("the routing tables stay empty")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := h.RefreshRouting(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Reach(ctx, carol.ID()); err != nil {
		t.Fatal(err)
	}
	if alice.h.Network().Connectedness(carol.ID()) != network.Connected {
		t.Fatal("alice reached carol but is not connected")
	}
	unknown := newHost(t, testKey("dave"), reg)
	id := unknown.ID()
	unknown.Close()
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if err := alice.Reach(short, id); err == nil {
		t.Fatal("reached a peer nobody knows")
	}
}
