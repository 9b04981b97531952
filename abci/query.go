package abci

import (
	"context"
	"encoding/json"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

// Query paths (specs/state.md §5). Data is raw bytes for /store, /node, /relation and /tx, and
// JSON for /events. Answers are JSON except /store, which returns the raw state value.
const (
	PathStore    = "/store"    // data: a state key; with prove, an ICS23 proof (ProofOp type ProofOpType)
	PathNode     = "/node"     // data: node key (32 bytes) → NodeView
	PathRelation = "/relation" // data: key A || key B (64 bytes) → RelationView
	PathEvents   = "/events"   // data: EventsRequest → storage.Page
	PathTx       = "/tx"       // data: tx hash (32 bytes) → []ledger.EventRecord
	PathParams   = "/params"   // → ParamsView
)

// ProofOpType names the ICS23 IAVL proof in a query's ProofOps.
const ProofOpType = storage.ProofOpType

// Query codes, beside the ledger's rejection codes.
const (
	QueryCodeBadRequest uint32 = 100
	QueryCodeNotFound   uint32 = 101
	QueryCodeInternal   uint32 = 102
)

// NodeView is the answer to /node.
type NodeView struct {
	Node      ledger.PubKey      `json:"node"`
	Record    *ledger.NodeRecord `json:"record"`
	Aggregate *ledger.Aggregate  `json:"aggregate"`
}

// RelationView is the answer to /relation: each direction's aggregate (nil if none).
type RelationView struct {
	A   ledger.PubKey     `json:"a"`
	B   ledger.PubKey     `json:"b"`
	AbB *ledger.Aggregate `json:"about_a_from_b"`
	BbA *ledger.Aggregate `json:"about_b_from_a"`
}

// EventsRequest is the data of /events.
type EventsRequest struct {
	Node   string `json:"node,omitempty"`
	Peer   string `json:"peer,omitempty"` // with Node: the relation between Node and Peer
	Kind   string `json:"kind,omitempty"`
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// ParamsView is the answer to /params.
type ParamsView struct {
	ChainID string        `json:"chain_id"`
	Params  ledger.Params `json:"params"`
	// HistoryFrom is, for a node restored from a state-sync snapshot, the snapshot height: its
	// event indexes (and the trust engine's history) hold only events above it. 0: from genesis.
	HistoryFrom int64 `json:"history_from,omitempty"`
}

func queryErr(code uint32, format string, args ...any) *abcitypes.ResponseQuery {
	return &abcitypes.ResponseQuery{Code: code, Log: fmt.Sprintf(format, args...), Codespace: "trustledger"}
}

func (a *App) Query(_ context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h, _ := a.store.LastCommit(); h == 0 {
		return queryErr(QueryCodeNotFound, "nothing is committed yet"), nil
	}
	switch req.Path {
	case PathStore:
		return a.queryStore(req), nil
	case PathNode:
		return a.queryNode(req), nil
	case PathRelation:
		return a.queryRelation(req), nil
	case PathEvents:
		return a.queryEvents(req), nil
	case PathTx:
		return a.queryTx(req), nil
	case PathParams:
		return answer(req.Height, ParamsView{ChainID: a.chainID, Params: a.params, HistoryFrom: a.store.HistoryFrom()})
	}
	if h, ok := a.handlers[req.Path]; ok {
		return h(req), nil
	}
	return queryErr(QueryCodeBadRequest, "unknown query path %q (want /store, /node, /relation, /events, /tx or /params)", req.Path), nil
}

// Answer encodes v as a JSON query answer at height (for registered query handlers too).
func Answer(height int64, v any) *abcitypes.ResponseQuery {
	r, _ := answer(height, v)
	return r
}

// QueryError is a failed query answer with a code and a message.
func QueryError(code uint32, format string, args ...any) *abcitypes.ResponseQuery {
	return queryErr(code, format, args...)
}

func answer(height int64, v any) (*abcitypes.ResponseQuery, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return queryErr(QueryCodeInternal, "encode answer: %v", err), nil
	}
	return &abcitypes.ResponseQuery{Value: b, Height: height}, nil
}

func (a *App) queryStore(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) == 0 {
		return queryErr(QueryCodeBadRequest, "/store needs a key")
	}
	if !req.Prove {
		v, h, err := a.store.GetCommitted(req.Height, req.Data)
		if err != nil {
			return queryErr(QueryCodeBadRequest, "%v", err)
		}
		return &abcitypes.ResponseQuery{Key: req.Data, Value: v, Height: h}
	}
	v, proof, h, err := a.store.Prove(req.Height, req.Data)
	if err != nil {
		return queryErr(QueryCodeBadRequest, "%v", err)
	}
	return &abcitypes.ResponseQuery{Key: req.Data, Value: v, Height: h, ProofOps: storage.ProofOps(req.Data, proof)}
}

func (a *App) aggregate(height int64, key []byte) (*ledger.Aggregate, error) {
	raw, _, err := a.store.GetCommitted(height, key)
	if err != nil || raw == nil {
		return nil, err
	}
	return ledger.DecodeAggregate(raw)
}

func (a *App) queryNode(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) != 32 {
		return queryErr(QueryCodeBadRequest, "/node needs a 32-byte node key, got %d bytes", len(req.Data))
	}
	var n ledger.PubKey
	copy(n[:], req.Data)
	raw, h, err := a.store.GetCommitted(req.Height, ledger.NodeKey(n))
	if err != nil {
		return queryErr(QueryCodeBadRequest, "%v", err)
	}
	if raw == nil {
		return queryErr(QueryCodeNotFound, "node %s is not registered", n)
	}
	rec, err := ledger.DecodeNodeRecord(raw)
	if err != nil {
		return queryErr(QueryCodeInternal, "%v", err)
	}
	agg, err := a.aggregate(h, ledger.NodeAggKey(n))
	if err != nil {
		return queryErr(QueryCodeInternal, "%v", err)
	}
	r, _ := answer(h, NodeView{Node: n, Record: rec, Aggregate: agg})
	return r
}

func (a *App) queryRelation(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) != 64 {
		return queryErr(QueryCodeBadRequest, "/relation needs two 32-byte node keys, got %d bytes", len(req.Data))
	}
	var x, y ledger.PubKey
	copy(x[:], req.Data[:32])
	copy(y[:], req.Data[32:])
	_, h, err := a.store.GetCommitted(req.Height, ledger.NodeKey(x))
	if err != nil {
		return queryErr(QueryCodeBadRequest, "%v", err)
	}
	ab, err := a.aggregate(h, ledger.PairAggKey(x, y))
	if err != nil {
		return queryErr(QueryCodeInternal, "%v", err)
	}
	ba, err := a.aggregate(h, ledger.PairAggKey(y, x))
	if err != nil {
		return queryErr(QueryCodeInternal, "%v", err)
	}
	r, _ := answer(h, RelationView{A: x, B: y, AbB: ab, BbA: ba})
	return r
}

func (a *App) queryEvents(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	var er EventsRequest
	if err := json.Unmarshal(req.Data, &er); err != nil {
		return queryErr(QueryCodeBadRequest, "/events request is not JSON: %v", err)
	}
	if er.Limit == 0 {
		er.Limit = 50
	}
	var f storage.Filter
	if er.Node != "" {
		n, err := ledger.ParsePubKey(er.Node)
		if err != nil {
			return queryErr(QueryCodeBadRequest, "node: %v", err)
		}
		f.Node = &n
		if er.Peer != "" {
			p, err := ledger.ParsePubKey(er.Peer)
			if err != nil {
				return queryErr(QueryCodeBadRequest, "peer: %v", err)
			}
			f.Node, f.Pair = nil, &[2]ledger.PubKey{n, p}
		}
	} else if er.Peer != "" {
		return queryErr(QueryCodeBadRequest, "peer needs node")
	}
	if er.Kind != "" {
		k, err := ledger.ParseKind(er.Kind)
		if err != nil {
			return queryErr(QueryCodeBadRequest, "%v", err)
		}
		f.Kind = &k
	}
	page, err := a.store.Events(f, er.Cursor, er.Limit)
	if err != nil {
		return queryErr(QueryCodeBadRequest, "%v", err)
	}
	h, _ := a.store.LastCommit()
	r, _ := answer(h, page)
	return r
}

func (a *App) queryTx(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) != 32 {
		return queryErr(QueryCodeBadRequest, "/tx needs a 32-byte tx hash, got %d bytes", len(req.Data))
	}
	var hash ledger.ID
	copy(hash[:], req.Data)
	recs, err := a.store.TxEvents(hash)
	if err != nil {
		return queryErr(QueryCodeInternal, "%v", err)
	}
	if recs == nil {
		return queryErr(QueryCodeNotFound, "no committed transaction has hash %s", hash)
	}
	h, _ := a.store.LastCommit()
	r, _ := answer(h, recs)
	return r
}
