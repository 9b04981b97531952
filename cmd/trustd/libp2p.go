package main

import (
	"fmt"
	"strings"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/lp2p"
)

// CometBFT's go-libp2p transport ([p2p.libp2p], QUIC over UDP on the p2p listen port) is early
// alpha upstream: a network uses it only if every validator switches at once, and peers are
// named by libp2p peer ids (`trustd show-node-id --libp2p`) instead of CometBFT node ids.

// parseLibP2PPeers reads "peerid@host:port,..." into persistent bootstrap peers.
func parseLibP2PPeers(list string) ([]cfg.LibP2PBootstrapPeer, error) {
	var peers []cfg.LibP2PBootstrapPeer
	for _, p := range splitList(list) {
		id, host, ok := strings.Cut(p, "@")
		if !ok {
			return nil, fmt.Errorf("libp2p peer %q: want peerid@host:port", p)
		}
		if _, err := lp2p.AddrInfoFromHostAndID(host, id); err != nil {
			return nil, fmt.Errorf("libp2p peer %q: %w", p, err)
		}
		peers = append(peers, cfg.LibP2PBootstrapPeer{Host: host, ID: id, Persistent: true})
	}
	return peers, nil
}

// useLibP2P switches a node's config to the go-libp2p transport with the given bootstrap peers.
func useLibP2P(c *cfg.Config, peers []cfg.LibP2PBootstrapPeer) {
	c.P2P.LibP2PConfig.Enabled = true
	c.P2P.LibP2PConfig.BootstrapPeers = peers
	c.P2P.PersistentPeers = ""
	c.P2P.PexReactor = false
}
