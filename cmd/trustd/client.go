package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// rpc is a client of one node's RPC.
type rpc struct {
	addr string
	c    *rpchttp.HTTP
}

func (g *globals) rpcAddr() string {
	if g.node != "" {
		return g.node
	}
	if c, err := loadConfig(g.home); err == nil {
		return c.RPC.ListenAddress
	}
	return "tcp://127.0.0.1:26657"
}

func (g *globals) client() (*rpc, error) {
	addr := g.rpcAddr()
	c, err := rpchttp.NewWithTimeout(addr, "/websocket", 30)
	if err != nil {
		return nil, fmt.Errorf("node address %s: %w", addr, err)
	}
	return &rpc{addr: addr, c: c}, nil
}

// wrap turns transport failures into one line that says the node is not reachable.
func (r *rpc) wrap(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("node not reachable at %s (is `trustd start` running?): %v", r.addr, err)
	}
	return err
}

// QueryError is a query the node answered with a non-zero code.
type QueryError struct {
	Code uint32
	Log  string
}

func (e *QueryError) Error() string { return e.Log }

func (r *rpc) query(ctx context.Context, path string, data []byte, height int64, prove bool) (*abcitypes.ResponseQuery, error) {
	res, err := r.c.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height, Prove: prove})
	if err != nil {
		return nil, r.wrap(err)
	}
	if res.Response.Code != 0 {
		return nil, &QueryError{Code: res.Response.Code, Log: res.Response.Log}
	}
	return &res.Response, nil
}

func (r *rpc) queryJSON(ctx context.Context, path string, data []byte, out any) (int64, error) {
	res, err := r.query(ctx, path, data, 0, false)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(res.Value, out); err != nil {
		return 0, fmt.Errorf("node answered %s with bad JSON: %w", path, err)
	}
	return res.Height, nil
}

func (r *rpc) params(ctx context.Context) (api.ParamsView, error) {
	var p api.ParamsView
	_, err := r.queryJSON(ctx, api.PathParams, nil, &p)
	return p, err
}

// nextSequence is the sequence the signer's next transaction needs (1 for an unregistered key).
func (r *rpc) nextSequence(ctx context.Context, signer ledger.PubKey) (uint64, error) {
	var v api.NodeView
	_, err := r.queryJSON(ctx, api.PathNode, signer[:], &v)
	var qe *QueryError
	if errors.As(err, &qe) && qe.Code == api.CodeNotFound {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	return v.Record.Sequence + 1, nil
}

// RejectedError is a transaction the ledger rejected; the CLI exits 2 on it.
type RejectedError struct {
	Code  uint32
	Log   string
	Stage string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("transaction rejected at %s (code %d %s): %s", e.Stage, e.Code, ledger.Code(e.Code), e.Log)
}
func (e *RejectedError) ExitCode() int { return 2 }

// broadcastResult is what `trustd tx` prints.
type broadcastResult struct {
	TxHash string `json:"tx_hash"`
	Height int64  `json:"height"`
	Events int    `json:"events"`
}

// broadcast sends the tx, waits until it is committed (or timeout), and reports its height.
func (r *rpc) broadcast(ctx context.Context, tx []byte, timeout time.Duration) (*broadcastResult, error) {
	res, err := r.c.BroadcastTxSync(ctx, tx)
	if err != nil {
		return nil, r.wrap(err)
	}
	if res.Code != 0 {
		return nil, &RejectedError{Code: res.Code, Log: res.Log, Stage: "check"}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		got, err := r.c.Tx(ctx, res.Hash, false)
		if err == nil {
			if got.TxResult.Code != 0 {
				return nil, &RejectedError{Code: got.TxResult.Code, Log: got.TxResult.Log, Stage: fmt.Sprintf("block %d", got.Height)}
			}
			return &broadcastResult{TxHash: res.Hash.String(), Height: got.Height, Events: len(got.TxResult.Events)}, nil
		}
		if !strings.Contains(err.Error(), "not found") {
			return nil, r.wrap(err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("transaction %s was accepted into the mempool but not committed within %s", res.Hash, timeout)
}

// printOut prints v as JSON with --output json, else calls text.
func printOut(cmd *cobra.Command, g *globals, v any, text func()) error {
	switch g.output {
	case "json":
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "text", "":
		text()
		return nil
	}
	return fmt.Errorf("--output %q: want text or json", g.output)
}
