package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// stateSyncTrust asks the first of servers for its latest committed header: the height and
// hash the joiner's light client starts trusting. The operator should check the printed hash
// against another source they trust (another operator, an explorer) before starting the node.
func stateSyncTrust(ctx context.Context, servers []string, chainID string) (int64, string, error) {
	if len(servers) < 2 {
		return 0, "", errors.New("--state-sync needs at least two RPC servers, comma-separated (a primary and a witness for the light client)")
	}
	c, err := rpchttp.NewWithTimeout(servers[0], "/websocket", 10)
	if err != nil {
		return 0, "", fmt.Errorf("--state-sync: %s: %w", servers[0], err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	commit, err := c.Commit(ctx, nil)
	if err != nil {
		return 0, "", fmt.Errorf("--state-sync: latest header from %s: %w", servers[0], err)
	}
	if commit.Header.ChainID != chainID {
		return 0, "", fmt.Errorf("--state-sync: %s serves chain %q, the genesis is for %q", servers[0], commit.Header.ChainID, chainID)
	}
	return commit.Header.Height, commit.Header.Hash().String(), nil
}

// useStateSync turns state sync on in a joiner's config.
func useStateSync(c *cfg.Config, servers []string, height int64, hash string) {
	c.StateSync.Enable = true
	c.StateSync.RPCServers = servers
	c.StateSync.TrustHeight = height
	c.StateSync.TrustHash = hash
}
