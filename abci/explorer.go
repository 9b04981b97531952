package abci

import (
	"encoding/json"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// maxStatsBlocks bounds the block stats one /stats answer reads: a day of one-second blocks.
const maxStatsBlocks = 86_400

// handleExplorerQueries registers the explorer's paths (specs/state.md §5). They read committed
// index entries and committed tree versions only, so they run outside the app's lock and never
// wait for a block, nor hold one up.
func (a *App) handleExplorerQueries() {
	a.HandleQuery(api.PathStats, a.queryStats)
	a.HandleQuery(api.PathCounterparts, a.queryCounterparts)
	a.HandleQuery(api.PathSearch, a.querySearch)
}

func (a *App) queryStats(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	var sr api.StatsRequest
	if len(req.Data) > 0 {
		if err := json.Unmarshal(req.Data, &sr); err != nil {
			return queryErr(api.CodeBadRequest, "/stats request is not JSON: %v", err)
		}
	}
	if sr.Minutes == 0 {
		sr.Minutes = 60
	}
	if sr.Minutes < 0 || sr.Minutes > api.MaxStatsMinutes {
		return queryErr(api.CodeBadRequest, "minutes %d must be between 1 and %d", sr.Minutes, api.MaxStatsMinutes)
	}
	ans, err := a.store.Stats(sr.Minutes, maxStatsBlocks)
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	return Answer(ans.Height, ans)
}

func (a *App) queryCounterparts(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	var cr api.CounterpartsRequest
	if err := json.Unmarshal(req.Data, &cr); err != nil {
		return queryErr(api.CodeBadRequest, "/counterparts request is not JSON: %v", err)
	}
	n, err := ledger.ParsePubKey(cr.Node)
	if err != nil {
		return queryErr(api.CodeBadRequest, "node: %v", err)
	}
	if cr.Limit == 0 {
		cr.Limit = 50
	}
	h, _ := a.store.LastCommit()
	if h == 0 {
		return queryErr(api.CodeNotFound, "nothing is committed yet")
	}
	page, err := a.store.Counterparts(n, cr.Cursor, cr.Limit)
	if err != nil {
		return queryErr(api.CodeBadRequest, "%v", err)
	}
	return Answer(h, page)
}

func (a *App) querySearch(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	var sr api.SearchRequest
	if err := json.Unmarshal(req.Data, &sr); err != nil {
		return queryErr(api.CodeBadRequest, "/search request is not JSON: %v", err)
	}
	if sr.Limit == 0 {
		sr.Limit = 20
	}
	if sr.Limit < 0 || sr.Limit > api.MaxSearchLimit {
		return queryErr(api.CodeBadRequest, "limit %d must be between 1 and %d", sr.Limit, api.MaxSearchLimit)
	}
	hits, err := a.store.SearchMonikers(sr.Query, sr.Limit)
	if err != nil {
		return queryErr(api.CodeInternal, "%v", err)
	}
	h, _ := a.store.LastCommit()
	return Answer(h, api.SearchAnswer{Hits: hits})
}
