package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// Params is the chain id and genesis parameters (and, for a node restored from a snapshot, the
// height its history starts above).
func (c *Client) Params(ctx context.Context) (api.ParamsView, error) {
	var p api.ParamsView
	if _, err := c.queryJSON(ctx, api.PathParams, nil, &p); err != nil {
		return p, err
	}
	c.mu.Lock()
	c.chainID = p.ChainID
	c.mu.Unlock()
	return p, nil
}

// ChainID is the node's chain id, asked once.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.chainID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	p, err := c.Params(ctx)
	return p.ChainID, err
}

// Node is a node's registration and totals; an unregistered node is api.ErrNotFound.
func (c *Client) Node(ctx context.Context, n ledger.PubKey) (api.NodeView, error) {
	var v api.NodeView
	_, err := c.queryJSON(ctx, api.PathNode, n[:], &v)
	return v, err
}

// Relation is the totals of the events between a and b, each direction (nil: none).
func (c *Client) Relation(ctx context.Context, a, b ledger.PubKey) (api.RelationView, error) {
	var v api.RelationView
	_, err := c.queryJSON(ctx, api.PathRelation, append(a[:], b[:]...), &v)
	return v, err
}

// Store reads one raw state value at height (0: latest); nil if the key is absent. It returns
// the height read.
func (c *Client) Store(ctx context.Context, key []byte, height int64) ([]byte, int64, error) {
	res, err := c.Query(ctx, api.PathStore, key, height, false)
	if err != nil {
		return nil, 0, err
	}
	return res.Value, res.Height, nil
}

// Contract is a contract's record and receipt numbers; one never opened wraps api.ErrNotFound.
// It reads where the record is (the contract's parties) first; ContractOf, for a caller that
// holds the contract_open, reads the record alone.
func (c *Client) Contract(ctx context.Context, id ledger.ID) (api.ContractView, error) {
	raw, height, err := c.Store(ctx, ledger.ContractIDKey(id), 0)
	if err != nil {
		return api.ContractView{}, err
	}
	if raw == nil {
		return api.ContractView{}, notOpened(id, "")
	}
	parties, err := ledger.DecodeContractParties(raw)
	if err != nil {
		return api.ContractView{}, fmt.Errorf("contract %s: %w", id, err)
	}
	cv, err := c.contractAt(ctx, id, parties.Customer, parties.Supplier, height)
	if errors.Is(err, api.ErrNotFound) {
		return cv, missingRecord(id, height)
	}
	return cv, err
}

// ContractOf is Client.Contract of the contract open opened, in one read: its parties say where
// its record is. A contract never opened between them wraps api.ErrNotFound.
func (c *Client) ContractOf(ctx context.Context, open *ledger.ContractOpen) (api.ContractView, error) {
	return c.contractAt(ctx, open.ContractID, open.Customer, open.Supplier, 0)
}

func (c *Client) contractAt(ctx context.Context, id ledger.ID, customer, supplier ledger.PubKey, height int64) (api.ContractView, error) {
	raw, _, err := c.Store(ctx, ledger.ContractKey(id, customer, supplier), height)
	if err != nil {
		return api.ContractView{}, err
	}
	return decodeContract(id, raw, "")
}

func notOpened(id ledger.ID, verified string) error {
	return fmt.Errorf("contract %s was never opened%s: %w", id, verified, api.ErrNotFound)
}

// missingRecord: the state names the contract's parties but holds no record for them.
func missingRecord(id ledger.ID, height int64) error {
	return fmt.Errorf("contract %s: its parties are in the state at height %d but not its record", id, height)
}

func decodeContract(id ledger.ID, raw []byte, verified string) (api.ContractView, error) {
	if raw == nil {
		return api.ContractView{}, notOpened(id, verified)
	}
	r, err := ledger.DecodeContractRecord(raw)
	if err != nil {
		return api.ContractView{}, err
	}
	return api.NewContractView(id, r), nil
}

// Events is one page of committed events matching req, oldest first (newest first with
// req.Newest). The page travels in binary (api.EncodePage), whatever req.Encoding says.
func (c *Client) Events(ctx context.Context, req api.EventsRequest) (api.Page, error) {
	req.Encoding = api.EncodingRecords
	data, err := json.Marshal(req)
	if err != nil {
		return api.Page{}, err
	}
	res, err := c.Query(ctx, api.PathEvents, data, 0, false)
	if err != nil {
		return api.Page{}, err
	}
	page, err := api.DecodePage(res.Value)
	if err != nil {
		return api.Page{}, fmt.Errorf("node answered %s with %w", api.PathEvents, err)
	}
	return page, nil
}

// Newest is the position of the newest committed event matching req's filter ("" when none),
// from /events/newest: cheaper than a page of one.
func (c *Client) Newest(ctx context.Context, req api.EventsRequest) (string, error) {
	data, err := json.Marshal(api.EventsRequest{Node: req.Node, Peer: req.Peer, Kind: req.Kind})
	if err != nil {
		return "", err
	}
	var ans api.NewestAnswer
	if _, err := c.queryJSON(ctx, api.PathNewest, data, &ans); err != nil {
		return "", err
	}
	return ans.Position, nil
}

// AllEvents iterates over every event matching req from req.Cursor on, a page of req.Limit
// (default api.MaxPageSize) at a time. It stops at the first error, which it yields.
func (c *Client) AllEvents(ctx context.Context, req api.EventsRequest) iter.Seq2[*ledger.EventRecord, error] {
	if req.Limit == 0 {
		req.Limit = api.MaxPageSize
	}
	return func(yield func(*ledger.EventRecord, error) bool) {
		for {
			page, err := c.Events(ctx, req)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Records {
				if !yield(&page.Records[i], nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			req.Cursor = page.Next
		}
	}
}

// Tx is the events of a committed transaction; an unknown hash is api.ErrNotFound.
func (c *Client) Tx(ctx context.Context, hash ledger.ID) ([]ledger.EventRecord, error) {
	var recs []ledger.EventRecord
	_, err := c.queryJSON(ctx, api.PathTx, hash[:], &recs)
	return recs, err
}

// NextSequence is the sequence the signer's next transaction needs (1 for an unregistered key).
func (c *Client) NextSequence(ctx context.Context, signer ledger.PubKey) (uint64, error) {
	next, _, err := c.nextSequence(ctx, signer)
	return next, err
}

// nextSequence is NextSequence with the height of the state it was read from (0 when the signer
// is unknown there: a query that finds nothing says no height).
func (c *Client) nextSequence(ctx context.Context, signer ledger.PubKey) (uint64, int64, error) {
	var v api.NodeView
	height, err := c.queryJSON(ctx, api.PathNode, signer[:], &v)
	if errors.Is(err, api.ErrNotFound) {
		return 1, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	return v.Record.Sequence + 1, height, nil
}

// nextSequenceSince is the signer's next sequence read from a state at height min or later:
// CometBFT reports a transaction committed (its block's events) before the application's state
// for that block answers queries, so a read made at once can be one block behind.
func (c *Client) nextSequenceSince(ctx context.Context, signer ledger.PubKey, atLeast int64) (uint64, error) {
	wait := 20 * time.Millisecond
	for {
		next, height, err := c.nextSequence(ctx, signer)
		if err == nil && height == 0 { // unknown there: how far is the state that says so?
			var st *coretypes.ResultStatus
			if st, err = c.Status(ctx); err == nil {
				height = st.SyncInfo.LatestBlockHeight
			}
		}
		if err != nil || height >= atLeast {
			return next, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("sequence of %s: the node's state is at height %d, waiting for %d: %w", signer, height, atLeast, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// TrustScore is subject's score as seen by observer, computed by the node's trust service
// (api.ErrServiceStopped while it is stopped).
func (c *Client) TrustScore(ctx context.Context, observer, subject ledger.PubKey) (api.ScoreAnswer, error) {
	data, _ := json.Marshal(api.TrustRequest{Observer: observer.String(), Subject: subject.String()})
	var ans api.ScoreAnswer
	_, err := c.queryJSON(ctx, api.PathTrustScore, data, &ans)
	return ans, err
}

// TrustTop is the limit (1..api.MaxTopLimit) nodes observer trusts most.
func (c *Client) TrustTop(ctx context.Context, observer ledger.PubKey, limit int) (api.TopAnswer, error) {
	data, _ := json.Marshal(api.TrustRequest{Observer: observer.String(), Limit: limit})
	var ans api.TopAnswer
	_, err := c.queryJSON(ctx, api.PathTrustTop, data, &ans)
	return ans, err
}

// TrustLeast is the limit (1..api.MaxTopLimit) nodes observer trusts least, least trusted first.
func (c *Client) TrustLeast(ctx context.Context, observer ledger.PubKey, limit int) (api.TopAnswer, error) {
	data, _ := json.Marshal(api.TrustRequest{Observer: observer.String(), Limit: limit, Least: true})
	var ans api.TopAnswer
	_, err := c.queryJSON(ctx, api.PathTrustTop, data, &ans)
	return ans, err
}

// TrustGraph is the ego graph of observer's strongest trust edges (0 for either cap asks for
// the maximum, api.MaxGraphNodes and api.MaxGraphEdges).
func (c *Client) TrustGraph(ctx context.Context, observer ledger.PubKey, maxNodes, maxEdges int) (api.GraphAnswer, error) {
	data, _ := json.Marshal(api.GraphRequest{Observer: observer.String(), MaxNodes: maxNodes, MaxEdges: maxEdges})
	var ans api.GraphAnswer
	_, err := c.queryJSON(ctx, api.PathTrustGraph, data, &ans)
	return ans, err
}

// TrustView is what a page on observer's trust shows, from one view: its limit (0: 20) most and
// least trusted, its ego graph at the caps, and the node's trust policy. Its lists may be shared
// with other callers: do not change them.
func (c *Client) TrustView(ctx context.Context, observer ledger.PubKey, limit int) (api.TrustViewAnswer, error) {
	if c.trust != nil {
		if err := ctx.Err(); err != nil {
			return api.TrustViewAnswer{}, err
		}
		return c.trust.View(observer, limit)
	}
	data, _ := json.Marshal(api.TrustViewRequest{Observer: observer.String(), Limit: limit, Encoding: api.EncodingBinary})
	res, err := c.Query(ctx, api.PathTrustView, data, 0, false)
	if err != nil {
		return api.TrustViewAnswer{}, err
	}
	ans, err := api.DecodeTrustView(res.Value)
	if err != nil {
		return api.TrustViewAnswer{}, fmt.Errorf("node answered %s with %w", api.PathTrustView, err)
	}
	return ans, nil
}

// Stats is the network's totals after its latest block with events, and the activity of the
// minutes ending there (0 asks for 60).
func (c *Client) Stats(ctx context.Context, minutes int) (api.StatsAnswer, error) {
	data, _ := json.Marshal(api.StatsRequest{Minutes: minutes})
	var ans api.StatsAnswer
	_, err := c.queryJSON(ctx, api.PathStats, data, &ans)
	return ans, err
}

// Counterparts is one page of the nodes n has events with, with both directions' totals.
func (c *Client) Counterparts(ctx context.Context, n ledger.PubKey, cursor string, limit int) (api.CounterpartsPage, error) {
	data, _ := json.Marshal(api.CounterpartsRequest{Node: n.String(), Cursor: cursor, Limit: limit})
	var page api.CounterpartsPage
	_, err := c.queryJSON(ctx, api.PathCounterparts, data, &page)
	return page, err
}

// SearchMonikers is the registered nodes whose moniker starts with query (case folded).
func (c *Client) SearchMonikers(ctx context.Context, query string, limit int) (api.SearchAnswer, error) {
	data, _ := json.Marshal(api.SearchRequest{Query: query, Limit: limit})
	var ans api.SearchAnswer
	_, err := c.queryJSON(ctx, api.PathSearch, data, &ans)
	return ans, err
}

// TrustPolicy is the trust policy the node's trust service computes with.
func (c *Client) TrustPolicy(ctx context.Context) (reputation.Policy, error) {
	var p reputation.Policy
	_, err := c.queryJSON(ctx, api.PathTrustPolicy, nil, &p)
	return p, err
}
