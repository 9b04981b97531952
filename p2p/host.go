package p2p

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/trustledger/trustledger/ledger"
)

// Config is a host's configuration; the zero value of a field means its default.
type Config struct {
	// ListenAddrs are multiaddrs to listen on (default /ip4/127.0.0.1/tcp/0: loopback, a free
	// port).
	ListenAddrs []string
	// RequestTimeout bounds one request and its reply, both ways (default 10 s).
	RequestTimeout time.Duration
	// MinTransferRate is the slowest shard transfer allowed, in bytes a second (default 1 MiB/s):
	// a put or get of n bytes may take RequestTimeout plus n / MinTransferRate seconds.
	MinTransferRate uint64
	// ConnsLow and ConnsHigh are the connection manager's watermarks (64 and 256): above high it
	// trims to low, never a protected peer (the suppliers the node has hired).
	ConnsLow, ConnsHigh int
	// StreamsPerPeer caps each peer's streams of each of our protocols, inbound and outbound
	// each (default 8; libp2p's default allows 64 inbound per protocol per peer).
	StreamsPerPeer int
	// Bootstrap are peers the routing table starts from when it is empty (P-5); the host does
	// not dial them by itself (Connect does).
	Bootstrap []peer.AddrInfo
}

// ProtocolDHT is the prefix of the peer-routing DHT's protocols (P-5): our own network, not
// IPFS's, and peer records only (no values, no providers).
const ProtocolDHT = protocol.ID("/trustledger")

func (c Config) withDefaults() Config {
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MinTransferRate == 0 {
		c.MinTransferRate = 1 << 20
	}
	if c.ConnsLow <= 0 {
		c.ConnsLow = 64
	}
	if c.ConnsHigh <= c.ConnsLow {
		c.ConnsHigh = max(256, 2*c.ConnsLow)
	}
	if c.StreamsPerPeer <= 0 {
		c.StreamsPerPeer = 8
	}
	return c
}

// transferTimeout bounds a transfer of n bytes.
func (c Config) transferTimeout(n uint64) time.Duration {
	return c.RequestTimeout + time.Duration(n/c.MinTransferRate)*time.Second
}

// protocols lists every protocol of ours (specs/p2p.md), for the resource limits.
var protocols = []protocol.ID{ProtocolContract, ProtocolShard, ProtocolAudit, ProtocolReceipt, ProtocolPayment}

// Host is a libp2p host with the node's ledger key as its identity (P-1), serving our protocols
// to registered nodes only (P-2).
type Host struct {
	h      host.Host
	cm     *connmgr.BasicConnMgr
	dht    *dht.IpfsDHT
	priv   ed25519.PrivateKey
	key    ledger.PubKey
	reg    Registry
	cfg    Config
	ctx    context.Context // cancelled by Close: ends the handlers' registry lookups
	cancel context.CancelFunc
}

// New starts a host for the node key priv; reg says who is registered.
func New(priv ed25519.PrivateKey, reg Registry, cfg Config) (*Host, error) {
	if reg == nil {
		return nil, errors.New("p2p host needs a registry")
	}
	cfg = cfg.withDefaults()
	sk, err := libp2pKey(priv)
	if err != nil {
		return nil, err
	}
	rm, err := resourceManager(cfg)
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(cfg.ConnsLow, cfg.ConnsHigh, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, err
	}
	var kad *dht.IpfsDHT
	h, err := libp2p.New(
		libp2p.Identity(sk),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		// Peer routing (P-5): a Kademlia DHT of peer records among the nodes, every one a
		// server, so that a node finds another's addresses by its peer id alone (every dial of
		// a peer whose addresses the host lacks asks it); addresses never go into the ledger.
		libp2p.Routing(func(h host.Host) (routing.PeerRouting, error) {
			var err error
			kad, err = dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(ProtocolDHT), dht.DisableProviders(), dht.DisableValues(),
				dht.BootstrapPeers(cfg.Bootstrap...))
			return kad, err
		}),
	)
	if err != nil {
		_ = rm.Close()
		return nil, fmt.Errorf("libp2p host on %v: %w", cfg.ListenAddrs, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var k ledger.PubKey
	copy(k[:], priv.Public().(ed25519.PublicKey))
	return &Host{h: h, cm: cm, dht: kad, priv: priv, key: k, reg: reg, cfg: cfg, ctx: ctx, cancel: cancel}, nil
}

// resourceManager is libp2p's with explicit limits for our protocols (P-3).
func resourceManager(cfg Config) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	n := cfg.StreamsPerPeer
	for _, p := range protocols {
		limits.AddProtocolLimit(p, rcmgr.BaseLimit{Streams: 64 * n, StreamsInbound: 32 * n, StreamsOutbound: 32 * n, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{})
		limits.AddProtocolPeerLimit(p, rcmgr.BaseLimit{Streams: 2 * n, StreamsInbound: n, StreamsOutbound: n, Memory: int64(n) * 4 * MaxMessage},
			rcmgr.BaseLimitIncrease{})
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
}

// Close stops the host: listeners closed, connections ended.
func (h *Host) Close() error {
	h.cancel()
	return errors.Join(h.dht.Close(), h.h.Close())
}

// ID is the host's peer id; Key the ledger key it stands for.
func (h *Host) ID() peer.ID              { return h.h.ID() }
func (h *Host) Key() ledger.PubKey       { return h.key }
func (h *Host) Network() network.Network { return h.h.Network() }

// AddrInfo is how another host reaches this one.
func (h *Host) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: h.h.ID(), Addrs: h.h.Addrs()} }

// Addrs are the host's full addresses (with /p2p/ and its peer id).
func (h *Host) Addrs() []ma.Multiaddr {
	out, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.h.ID(), Addrs: h.h.Addrs()})
	return out
}

// Connect dials a peer.
func (h *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if err := h.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("connect to %s: %w", ai.ID, err)
	}
	return nil
}

// Protect keeps the connection manager from trimming connections to p (a hired supplier).
func (h *Host) Protect(p peer.ID, tag string)        { h.cm.Protect(p, tag) }
func (h *Host) Unprotect(p peer.ID, tag string) bool { return h.cm.Unprotect(p, tag) }

// requestHandler answers one request of a registered peer. It reads the request from s.
type requestHandler func(ctx context.Context, from ledger.PubKey, s network.Stream) Reply

// handle serves a request/reply protocol: it checks that the peer is a registered node (P-2)
// before fn reads anything, bounds the exchange by RequestTimeout, and writes fn's reply.
func (h *Host) handle(proto protocol.ID, fn requestHandler) {
	h.h.SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(h.cfg.RequestTimeout))
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.RequestTimeout)
		defer cancel()
		if err := s.Scope().ReserveMemory(2*MaxMessage, network.ReservationPriorityAlways); err != nil {
			s.Reset()
			return
		}
		defer s.Scope().ReleaseMemory(2 * MaxMessage)
		var rep Reply
		from, err := KeyOf(s.Conn().RemotePeer())
		if err == nil {
			var ok bool
			switch ok, err = h.reg.Registered(ctx, from); {
			case err != nil:
				rep = refuse(CodeUnavailable, "cannot tell whether you are registered: %v", err)
			case !ok:
				rep = refuse(CodeUnregistered, "%s is not a registered node with this peer id; register_node first", ledger.PeerIDOf(from))
			default:
				rep = fn(ctx, from, s)
			}
		} else {
			rep = refuse(CodeUnregistered, "%v", err)
		}
		if rep.answered {
			return
		}
		if err := writeMsg(s, rep); err != nil {
			s.Reset()
		}
	})
}

// request sends req to peer to on proto and decodes the body of its reply into body; a refusal
// is a *RefusedError (errors.Is ErrRefused).
func (h *Host) request(ctx context.Context, to peer.ID, proto protocol.ID, req, body any) error {
	return h.exchange(ctx, to, proto, req, nil, body, MaxMessage, h.cfg.RequestTimeout)
}

// exchange is request with a payload: after the request, send (if not nil) writes the rest of
// it on the stream; then the reply, of at most limit bytes, is read. A refusal that comes while
// the payload is still being written is still read and returned. timeout bounds it all.
func (h *Host) exchange(ctx context.Context, to peer.ID, proto protocol.ID, req any, send func(network.Stream) error, body any, limit int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := h.h.NewStream(ctx, to, proto)
	if err != nil {
		return fmt.Errorf("%s to %s: %w", proto, to, err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	defer context.AfterFunc(ctx, func() { _ = s.Reset() })() // cancelled: blocked reads and writes end now
	if err := writeMsg(s, req); err != nil {
		s.Reset()
		return fmt.Errorf("%s to %s: %w", proto, to, err)
	}
	// The payload is written while the reply is awaited: a peer that refuses at the header
	// answers at once, and the rest of the payload is then not sent at all.
	sent := make(chan error, 1)
	go func() {
		var err error
		if send != nil {
			err = send(s)
		}
		if err == nil {
			err = s.CloseWrite()
		}
		sent <- err
	}()
	err = readReply(s, body, limit)
	var sendErr error
	select {
	case sendErr = <-sent:
	default: // the reply came before the payload was all written: stop writing
		s.Reset()
		sendErr = <-sent
	}
	if err != nil {
		s.Reset()
		if sendErr != nil && !errors.Is(err, ErrRefused) {
			err = sendErr
		}
		return fmt.Errorf("%s to %s: %w", proto, to, err)
	}
	return nil
}

// readReply reads a Reply and decodes its body into body (nil: ignore the body).
func readReply(s network.Stream, body any, limit int) error {
	var rep Reply
	if err := readMsgMax(s, limit, &rep); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if !rep.OK {
		return &RefusedError{Code: rep.Code, Reason: rep.Reason}
	}
	if body == nil {
		return nil
	}
	if err := strictJSON(rep.Body, body); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return nil
}

func refuse(code, format string, args ...any) Reply {
	return Reply{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// accept is an OK reply carrying body.
func accept(body any) Reply {
	b, err := json.Marshal(body)
	if err != nil {
		return refuse(CodeUnavailable, "encoding the reply: %v", err)
	}
	return Reply{OK: true, Body: b}
}

// PeerInfo is a peer the host knows addresses of.
type PeerInfo struct {
	ID      peer.ID
	Key     ledger.PubKey
	Network string // a public IPv4 /24, or "" (loopback, private: told apart by key alone)
}

// Peers lists the peers the host knows addresses of (met through bootstrap, or that dialled
// it), itself left out, in peer id order.
func (h *Host) Peers() []PeerInfo {
	var out []PeerInfo
	ps := h.h.Peerstore()
	for _, id := range ps.PeersWithAddrs() {
		if id == h.h.ID() {
			continue
		}
		k, err := KeyOf(id)
		if err != nil {
			continue // not a ledger identity: never a counterpart
		}
		info := PeerInfo{ID: id, Key: k}
		for _, a := range ps.Addrs(id) {
			if ip, err := manet.ToIP(a); err == nil && ip.To4() != nil && manet.IsPublicAddr(a) {
				v4 := ip.To4()
				info.Network = fmt.Sprintf("%d.%d.%d.0/24", v4[0], v4[1], v4[2])
				break
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Reach connects to peer id, unless connected already: at the addresses the host knows of it,
// or else those the DHT finds (P-5).
func (h *Host) Reach(ctx context.Context, id peer.ID) error {
	if h.h.Network().Connectedness(id) == network.Connected {
		return nil
	}
	if len(h.h.Peerstore().Addrs(id)) > 0 {
		if err := h.h.Connect(ctx, peer.AddrInfo{ID: id}); err == nil {
			return nil
		}
	}
	ai, err := h.FindPeer(ctx, id) // the addresses known may be stale: ask anew
	if err != nil {
		return err
	}
	return h.h.Connect(ctx, ai)
}

// FindPeer asks the DHT for a peer's addresses (P-5).
func (h *Host) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	ai, err := h.dht.FindPeer(ctx, id)
	if err != nil {
		return ai, fmt.Errorf("finding peer %s: %w", id, err)
	}
	return ai, nil
}

// RefreshRouting fills the DHT's routing table from the peers connected (after the bootstrap
// peers are reached) and waits until it is done.
func (h *Host) RefreshRouting(ctx context.Context) error {
	select {
	case err := <-h.dht.RefreshRoutingTable():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
