package abci

import (
	"context"
	"encoding/json"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/storage"
)

func queryErr(code uint32, format string, args ...any) *abcitypes.ResponseQuery {
	return &abcitypes.ResponseQuery{Code: code, Log: fmt.Sprintf(format, args...), Codespace: api.Codespace}
}

// Query answers the paths of specs/state.md §5. A path registered with HandleQuery (the trust
// service's) is answered by its handler without the app's lock, so a slow answer there never
// holds up CheckTx or a block; the app's own paths read the state under the lock.
func (a *App) Query(_ context.Context, req *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	if h, ok := a.handler(req.Path); ok {
		return h(req), nil
	}
	if h, _ := a.store.LastCommit(); h == 0 {
		return queryErr(api.CodeNotFound, "nothing is committed yet"), nil
	}
	// The reads of committed state and committed index entries run outside the app's lock: a
	// block never waits for them, nor they for a block (the explorer asks many at once).
	switch req.Path {
	case api.PathNode:
		return a.queryNode(req), nil
	case api.PathRelation:
		return a.queryRelation(req), nil
	case api.PathEvents:
		return a.queryEvents(req), nil
	case api.PathNewest:
		return a.queryNewest(req), nil
	case api.PathTx:
		return a.queryTx(req), nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch req.Path {
	case api.PathStore:
		return a.queryStore(req), nil
	case api.PathParams:
		return answer(req.Height, api.ParamsView{ChainID: a.chainID, Params: a.params, HistoryFrom: a.store.HistoryFrom()})
	}
	return queryErr(api.CodeBadRequest, "unknown query path %q (want /store, /node, /relation, /events, /events/newest, /tx, /params or /trust/…)", req.Path), nil
}

// Answer encodes v as a JSON query answer at height (for registered query handlers too).
func Answer(height int64, v any) *abcitypes.ResponseQuery {
	r, _ := answer(height, v)
	return r
}

// ErrorAnswer is a failed query answer with a code and a message.
func ErrorAnswer(code uint32, format string, args ...any) *abcitypes.ResponseQuery {
	return queryErr(code, format, args...)
}

func answer(height int64, v any) (*abcitypes.ResponseQuery, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return queryErr(api.CodeInternal, "encode answer: %v", err), nil
	}
	return &abcitypes.ResponseQuery{Value: b, Height: height}, nil
}

func (a *App) queryStore(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) == 0 {
		return queryErr(api.CodeBadRequest, "/store needs a key")
	}
	if !req.Prove {
		v, h, err := a.store.GetCommitted(req.Height, req.Data)
		if err != nil {
			return queryErr(api.CodeBadRequest, "%v", err)
		}
		return &abcitypes.ResponseQuery{Key: req.Data, Value: v, Height: h}
	}
	v, proof, h, err := a.store.Prove(req.Height, req.Data)
	if err != nil {
		return queryErr(api.CodeBadRequest, "%v", err)
	}
	return &abcitypes.ResponseQuery{Key: req.Data, Value: v, Height: h, ProofOps: api.ProofOps(req.Data, proof)}
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
		return queryErr(api.CodeBadRequest, "/node needs a 32-byte node key, got %d bytes", len(req.Data))
	}
	var n ledger.PubKey
	copy(n[:], req.Data)
	raw, h, err := a.store.GetCommitted(req.Height, ledger.NodeKey(n))
	if err != nil {
		return queryErr(api.CodeBadRequest, "%v", err)
	}
	if raw == nil {
		return queryErr(api.CodeNotFound, "node %s is not registered", n)
	}
	rec, err := ledger.DecodeNodeRecord(raw)
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	agg, err := a.aggregate(h, ledger.NodeAggKey(n))
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	r, _ := answer(h, api.NodeView{Node: n, Record: rec, Aggregate: agg})
	return r
}

func (a *App) queryRelation(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) != 64 {
		return queryErr(api.CodeBadRequest, "/relation needs two 32-byte node keys, got %d bytes", len(req.Data))
	}
	var x, y ledger.PubKey
	copy(x[:], req.Data[:32])
	copy(y[:], req.Data[32:])
	_, h, err := a.store.GetCommitted(req.Height, ledger.NodeKey(x))
	if err != nil {
		return queryErr(api.CodeBadRequest, "%v", err)
	}
	ab, err := a.aggregate(h, ledger.PairAggKey(x, y))
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	ba, err := a.aggregate(h, ledger.PairAggKey(y, x))
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	r, _ := answer(h, api.RelationView{A: x, B: y, AbB: ab, BbA: ba})
	return r
}

// eventsFilter decodes an /events or /events/newest request; a failure is the answer to give.
func eventsFilter(req *abcitypes.RequestQuery) (api.EventsRequest, storage.Filter, *abcitypes.ResponseQuery) {
	var er api.EventsRequest
	if err := json.Unmarshal(req.Data, &er); err != nil {
		return er, storage.Filter{}, queryErr(api.CodeBadRequest, "%s request is not JSON: %v", req.Path, err)
	}
	f := storage.Filter{Newest: er.Newest}
	if er.Node != "" {
		n, err := ledger.ParsePubKey(er.Node)
		if err != nil {
			return er, f, queryErr(api.CodeBadRequest, "node: %v", err)
		}
		f.Node = &n
		if er.Peer != "" {
			p, err := ledger.ParsePubKey(er.Peer)
			if err != nil {
				return er, f, queryErr(api.CodeBadRequest, "peer: %v", err)
			}
			f.Node, f.Pair = nil, &[2]ledger.PubKey{n, p}
		}
	} else if er.Peer != "" {
		return er, f, queryErr(api.CodeBadRequest, "peer needs node")
	}
	if er.Kind != "" {
		k, err := ledger.ParseKind(er.Kind)
		if err != nil {
			return er, f, queryErr(api.CodeBadRequest, "%v", err)
		}
		f.Kind = &k
	}
	return er, f, nil
}

// queryNewest answers /events/newest: the position of the newest event the request's filter
// matches (api.NewestAnswer), found with one seek per index range.
func (a *App) queryNewest(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	_, f, bad := eventsFilter(req)
	if bad != nil {
		return bad
	}
	pos, err := a.store.Newest(f)
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	h, _ := a.store.LastCommit()
	r, _ := answer(h, api.NewestAnswer{Position: pos})
	return r
}

func (a *App) queryEvents(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	er, f, bad := eventsFilter(req)
	if bad != nil {
		return bad
	}
	if er.Limit == 0 {
		er.Limit = 50
	}
	page, err := a.store.Events(f, er.Cursor, er.Limit)
	if err != nil {
		return queryErr(api.CodeBadRequest, "%v", err)
	}
	h, _ := a.store.LastCommit()
	switch er.Encoding {
	case "":
		r, _ := answer(h, page)
		return r
	case api.EncodingRecords:
		return &abcitypes.ResponseQuery{Value: api.EncodePage(page), Height: h}
	}
	return queryErr(api.CodeBadRequest, "encoding %q: want %q or none (JSON)", er.Encoding, api.EncodingRecords)
}

func (a *App) queryTx(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	if len(req.Data) != 32 {
		return queryErr(api.CodeBadRequest, "/tx needs a 32-byte tx hash, got %d bytes", len(req.Data))
	}
	var hash ledger.ID
	copy(hash[:], req.Data)
	recs, err := a.store.TxEvents(hash)
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	if recs == nil {
		return queryErr(api.CodeNotFound, "no committed transaction has hash %s", hash)
	}
	h, _ := a.store.LastCommit()
	r, _ := answer(h, recs)
	return r
}
