package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	jsonrpcclient "github.com/cometbft/cometbft/rpc/jsonrpc/client"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// Source gives the RPC client for one call: a fixed one for a remote node, or the current local
// client of a node in the same process (which changes when its consensus service restarts, and
// is an error wrapping api.ErrServiceStopped while it is stopped).
type Source func() (rpcclient.Client, error)

// Client reads from and submits to one trustledger node. It is safe for concurrent use.
type Client struct {
	src    Source
	name   string       // for messages: the address, or "the in-process node"
	remote string       // the HTTP address, for the light client; "" in process
	http   *http.Client // a Dialed client's HTTP client, for the calls read without CometBFT's JSON (txResults)

	trust TrustViewer // in process: the node's trust service, asked directly (NewInProcess)

	mu      sync.Mutex
	chainID string // cached: a chain's id never changes
}

// TrustViewer answers TrustView in the node's own process (node.TrustService).
type TrustViewer interface {
	View(observer ledger.PubKey, limit int) (api.TrustViewAnswer, error)
}

// New wraps an RPC client (HTTP or local); name says where it points, for messages.
func New(c rpcclient.Client, name string) *Client {
	return &Client{src: func() (rpcclient.Client, error) { return c, nil }, name: name}
}

// NewFromSource is New for an RPC client that may change between calls (an in-process node).
func NewFromSource(src Source, name string) *Client { return &Client{src: src, name: name} }

// NewInProcess is NewFromSource for a client in the node's own process, which asks trust
// views of trust directly: the same answer as the /trust/view query, without encoding it for
// the query and decoding it again (the explorer's trust page asks one per visit).
func NewInProcess(src Source, name string, trust TrustViewer) *Client {
	return &Client{src: src, name: name, trust: trust}
}

// IdleConnections is how many idle HTTP connections a Dialed client keeps to its node.
const IdleConnections = 256

// DefaultTimeout bounds each HTTP request of a Dialed client.
const DefaultTimeout = 30 * time.Second

// Dial returns a client of the node whose RPC listens at addr (tcp://host:port or
// http://host:port); it does not connect until the first call.
func Dial(addr string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	hc, err := jsonrpcclient.DefaultHTTPClient(addr)
	if err != nil {
		return nil, fmt.Errorf("node address %s: %w", addr, err)
	}
	hc.Timeout = timeout
	// Many callers share one client (a load generator's thousand signers, the explorer's
	// pages): keep up to IdleConnections connections open for them instead of Go's default of
	// two idle ones, which made every other request a new TCP connection. How many are open at
	// once is not capped: a cap makes a burst wait for a connection, and the wait counts against
	// each request's timeout (a 4-validator testnet on two cores then timed out thousands).
	if tr, ok := hc.Transport.(*http.Transport); ok {
		tr.MaxIdleConnsPerHost = IdleConnections
	}
	c, err := rpchttp.NewWithClient(addr, "/websocket", hc)
	if err != nil {
		return nil, fmt.Errorf("node address %s: %w", addr, err)
	}
	cl := New(c, addr)
	cl.remote, cl.http = addr, hc
	return cl, nil
}

// Name is where the client points, as given to New or Dial.
func (c *Client) Name() string { return c.name }

// RPC returns the underlying CometBFT client, for calls this package does not wrap.
func (c *Client) RPC() (rpcclient.Client, error) { return c.src() }

// wrap turns transport failures into ErrUnreachable, naming the node. The caller's context
// ending is not one: it stays context.Canceled or context.DeadlineExceeded.
func (c *Client) wrap(err error) error {
	if err == nil || !transport(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w at %s (is `trustd start` running, with its consensus service? `trustd services` says): %v", ErrUnreachable, c.name, err)
}

// Status is CometBFT's status of the node: identity, latest height and app hash, sync state.
func (c *Client) Status(ctx context.Context) (*coretypes.ResultStatus, error) {
	rpc, err := c.src()
	if err != nil {
		return nil, err
	}
	st, err := rpc.Status(ctx)
	return st, c.wrap(err)
}

// Query asks an ABCI query path at height (0: the latest commit), with a proof if prove. A
// non-zero answer code is a *api.QueryError (errors.Is matches api.ErrNotFound and the rest).
func (c *Client) Query(ctx context.Context, path string, data []byte, height int64, prove bool) (*abcitypes.ResponseQuery, error) {
	rpc, err := c.src()
	if err != nil {
		return nil, err
	}
	res, err := rpc.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Height: height, Prove: prove})
	if err != nil {
		return nil, c.wrap(err)
	}
	if res.Response.Code != 0 {
		return nil, &api.QueryError{Path: path, Code: res.Response.Code, Log: res.Response.Log}
	}
	return &res.Response, nil
}

// queryJSON asks path and decodes its JSON answer into out; it returns the answer's height.
func (c *Client) queryJSON(ctx context.Context, path string, data []byte, out any) (int64, error) {
	res, err := c.Query(ctx, path, data, 0, false)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(res.Value, out); err != nil {
		return 0, fmt.Errorf("node answered %s with bad JSON: %w", path, err)
	}
	return res.Height, nil
}
