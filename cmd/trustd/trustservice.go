package main

import (
	"encoding/json"
	"fmt"
	"sync"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
	"github.com/trustledger/trustledger/storage"
)

// Trust query paths served by a running node (the node computes for any observer you name,
// from public history and its own policy; the CLI names your key).
const (
	pathTrustScore  = "/trust/score"
	pathTrustTop    = "/trust/top"
	pathTrustPolicy = "/trust/policy"
)

// trustRequest is the data of the /trust/* queries.
type trustRequest struct {
	Observer string `json:"observer"`
	Subject  string `json:"subject,omitempty"`
	Limit    int    `json:"limit,omitempty"`
}

// scoreAnswer is the answer to /trust/score.
type scoreAnswer struct {
	Height   int64            `json:"height"`
	Observer ledger.PubKey    `json:"observer"`
	Score    reputation.Score `json:"score"`
}

// topAnswer is the answer to /trust/top.
type topAnswer struct {
	Height   int64              `json:"height"`
	Observer ledger.PubKey      `json:"observer"`
	Total    int                `json:"total"`
	Scores   []reputation.Score `json:"scores"`
}

// trustService keeps the node's reputation engine current: it replays the ledger's history at
// start, then applies each committed block's events.
type trustService struct {
	mu     sync.Mutex
	engine *reputation.Engine
	views  map[ledger.PubKey]*reputation.View
}

func startTrustService(app *abci.App, store *storage.AppStore, policy reputation.Policy, logger log.Logger) (*trustService, error) {
	e, err := reputation.NewEngine(policy)
	if err != nil {
		return nil, err
	}
	s := &trustService{engine: e, views: map[ledger.PubKey]*reputation.View{}}
	cursor := ""
	for {
		page, err := store.Events(storage.Filter{}, cursor, api.MaxPageSize)
		if err != nil {
			return nil, fmt.Errorf("replay history into the trust engine: %w", err)
		}
		for i := range page.Records {
			if err := e.Apply(&page.Records[i]); err != nil {
				return nil, err
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	logger.Info("trust engine ready", "events", e.Events(), "nodes", e.Nodes(), "height", e.Height())
	app.OnCommit(func(_ int64, records []ledger.EventRecord) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range records {
			if err := e.Apply(&records[i]); err != nil {
				logger.Error("trust engine", "err", err)
			}
		}
	})
	app.HandleQuery(pathTrustScore, s.queryScore)
	app.HandleQuery(pathTrustTop, s.queryTop)
	app.HandleQuery(pathTrustPolicy, func(*abcitypes.RequestQuery) *abcitypes.ResponseQuery {
		return abci.Answer(e.Height(), e.Policy())
	})
	return s, nil
}

// view returns the observer's view, recomputed only if blocks committed since.
func (s *trustService) view(observer ledger.PubKey) *reputation.View {
	if v, ok := s.views[observer]; ok && !v.Stale() {
		return v
	}
	v := s.engine.View(observer)
	if len(s.views) > 64 {
		s.views = map[ledger.PubKey]*reputation.View{}
	}
	s.views[observer] = v
	return v
}

func parseTrustRequest(req *abcitypes.RequestQuery, needSubject bool) (trustRequest, ledger.PubKey, ledger.PubKey, *abcitypes.ResponseQuery) {
	var tr trustRequest
	var o, x ledger.PubKey
	if err := json.Unmarshal(req.Data, &tr); err != nil {
		return tr, o, x, abci.ErrorAnswer(api.CodeBadRequest, "%s request is not JSON: %v", req.Path, err)
	}
	var err error
	if o, err = ledger.ParsePubKey(tr.Observer); err != nil {
		return tr, o, x, abci.ErrorAnswer(api.CodeBadRequest, "observer: %v", err)
	}
	if needSubject {
		if x, err = ledger.ParsePubKey(tr.Subject); err != nil {
			return tr, o, x, abci.ErrorAnswer(api.CodeBadRequest, "subject: %v", err)
		}
	}
	return tr, o, x, nil
}

func (s *trustService) queryScore(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	_, o, x, bad := parseTrustRequest(req, true)
	if bad != nil {
		return bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.view(o).Score(x)
	if err != nil {
		return abci.ErrorAnswer(api.CodeInternal, "%v", err)
	}
	return abci.Answer(s.engine.Height(), scoreAnswer{Height: s.engine.Height(), Observer: o, Score: sc})
}

func (s *trustService) queryTop(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	tr, o, _, bad := parseTrustRequest(req, false)
	if bad != nil {
		return bad
	}
	if tr.Limit <= 0 || tr.Limit > 1000 {
		return abci.ErrorAnswer(api.CodeBadRequest, "limit %d must be between 1 and 1000", tr.Limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.view(o).All()
	if err != nil {
		return abci.ErrorAnswer(api.CodeInternal, "%v", err)
	}
	ans := topAnswer{Height: s.engine.Height(), Observer: o, Total: len(all)}
	if len(all) > tr.Limit {
		all = all[:tr.Limit]
	}
	ans.Scores = all
	return abci.Answer(ans.Height, ans)
}
