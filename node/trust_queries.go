package node

import (
	"encoding/json"
	"errors"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/trustledger/trustledger/abci"
	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// errStopped is what the trust queries answer while the service is stopped.
var errStopped = fmt.Errorf("service %s is stopped on this node (`trustd services start %s`): %w", ServiceTrust, ServiceTrust, api.ErrServiceStopped)

// view returns the observer's view, computed again only if the engine has moved on; mu held.
func (s *TrustService) view(observer ledger.PubKey) *reputation.View {
	if v, ok := s.views.Get(observer); ok && !v.Stale() {
		return v
	}
	v := s.engine.View(observer)
	s.views.Add(observer, v)
	return v
}

// Score is subject's score as seen by observer, at the last block applied.
func (s *TrustService) Score(observer, subject ledger.PubKey) (api.ScoreAnswer, error) {
	if !s.serving.Load() {
		return api.ScoreAnswer{}, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.view(observer).Score(subject)
	return api.ScoreAnswer{Height: s.height, Observer: observer, Score: sc}, err
}

// Top is the limit nodes observer trusts most (least, least trusted first), and how many it knows.
func (s *TrustService) Top(observer ledger.PubKey, limit int, least bool) (api.TopAnswer, error) {
	if limit <= 0 || limit > api.MaxTopLimit {
		return api.TopAnswer{}, fmt.Errorf("limit %d must be between 1 and %d: %w", limit, api.MaxTopLimit, api.ErrBadRequest)
	}
	if !s.serving.Load() {
		return api.TopAnswer{}, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	most, leastOnes, total, err := s.view(observer).Extremes(limit)
	if err != nil {
		return api.TopAnswer{}, err
	}
	ans := api.TopAnswer{Height: s.height, Observer: observer, Total: total, Scores: most}
	if least {
		ans.Scores = leastOnes
	}
	return ans, nil
}

// View is what a page on observer's trust shows, from one view under one hold of the lock: its
// limit most and least trusted, its ego graph at the caps, and the policy. An answer is kept
// with its view until the engine moves on, so asking again is free; callers share its lists
// and must not change them.
func (s *TrustService) View(observer ledger.PubKey, limit int) (api.TrustViewAnswer, error) {
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > api.MaxTopLimit {
		return api.TrustViewAnswer{}, fmt.Errorf("limit %d must be between 1 and %d: %w", limit, api.MaxTopLimit, api.ErrBadRequest)
	}
	if !s.serving.Load() {
		return api.TrustViewAnswer{}, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view(observer)
	key := viewAnswerKey{observer, limit}
	if s.answers == nil {
		s.answers, _ = simplelru.NewLRU[viewAnswerKey, viewAnswer](ViewCacheSize, nil)
	}
	if kept, ok := s.answers.Get(key); ok && kept.view == v {
		ans := kept.ans
		ans.Height = s.height // the same view, maybe blocks without events later
		return ans, nil
	}
	most, least, total, err := v.Extremes(limit)
	if err != nil {
		return api.TrustViewAnswer{}, err
	}
	ans := api.TrustViewAnswer{Height: s.height, Observer: observer, Total: total, Most: most, Least: least, Policy: s.engine.Policy(),
		Graph: s.engine.Neighbourhood(observer, api.MaxGraphNodes, api.MaxGraphEdges)}
	s.answers.Add(key, viewAnswer{view: v, ans: ans})
	return ans, nil
}

// Graph is the ego graph of observer's strongest trust edges (reputation.Engine.Neighbourhood).
func (s *TrustService) Graph(observer ledger.PubKey, maxNodes, maxEdges int) (api.GraphAnswer, error) {
	if maxNodes == 0 {
		maxNodes = api.MaxGraphNodes
	}
	if maxEdges == 0 {
		maxEdges = api.MaxGraphEdges
	}
	if maxNodes < 1 || maxNodes > api.MaxGraphNodes || maxEdges < 1 || maxEdges > api.MaxGraphEdges {
		return api.GraphAnswer{}, fmt.Errorf("a graph has 1..%d nodes and 1..%d edges, not %d and %d: %w",
			api.MaxGraphNodes, api.MaxGraphEdges, maxNodes, maxEdges, api.ErrBadRequest)
	}
	if !s.serving.Load() {
		return api.GraphAnswer{}, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return api.GraphAnswer{Height: s.height, Graph: s.engine.Neighbourhood(observer, maxNodes, maxEdges)}, nil
}

// Choose picks up to n suppliers among candidates by observer's view (reputation.View.Choose,
// specs/trust.md §5); slot is the observer's count of supplier slots filled so far.
func (s *TrustService) Choose(observer ledger.PubKey, candidates []reputation.Candidate, n int, slot uint64) ([]reputation.Choice, error) {
	if !s.serving.Load() {
		return nil, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view(observer).Choose(candidates, n, slot)
}

// ShouldDrop is observer's answer, by its view, to whether it should drop its supplier
// (reputation.View.ShouldDrop, specs/trust.md §5), with the reason.
func (s *TrustService) ShouldDrop(observer, supplier ledger.PubKey) (reputation.Drop, error) {
	if !s.serving.Load() {
		return reputation.Drop{}, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view(observer).ShouldDrop(supplier)
}

// Review is one tick of observer's supplier manager by its view (reputation.View.Review): whom
// to fire among its hired suppliers, and why.
func (s *TrustService) Review(observer ledger.PubKey, hired []reputation.Hired, now, grace int64) ([]reputation.Decision, error) {
	if !s.serving.Load() {
		return nil, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view(observer).Review(hired, now, grace)
}

// Policy is the policy the engine computes with.
func (s *TrustService) Policy() (reputation.Policy, error) {
	if !s.serving.Load() {
		return reputation.Policy{}, errStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.engine.Policy(), nil
}

// answer turns a method's result into a query answer with the code of its error.
func (s *TrustService) answer(height func() int64, v any, err error) *abcitypes.ResponseQuery {
	switch {
	case err == nil:
		return abci.Answer(height(), v)
	case errors.Is(err, api.ErrServiceStopped):
		return abci.ErrorAnswer(api.CodeServiceStopped, "%v", err)
	case errors.Is(err, api.ErrBadRequest):
		return abci.ErrorAnswer(api.CodeBadRequest, "%v", err)
	}
	return abci.ErrorAnswer(api.CodeInternal, "%v", err)
}

func parseTrustRequest(req *abcitypes.RequestQuery, needSubject bool) (api.TrustRequest, ledger.PubKey, ledger.PubKey, error) {
	var tr api.TrustRequest
	var x ledger.PubKey
	o, err := decodeObserver(req, &tr, &tr.Observer)
	if err != nil {
		return tr, o, x, err
	}
	if needSubject {
		if x, err = ledger.ParsePubKey(tr.Subject); err != nil {
			return tr, o, x, fmt.Errorf("subject: %v: %w", err, api.ErrBadRequest)
		}
	}
	return tr, o, x, nil
}

func (s *TrustService) queryScore(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	_, o, x, err := parseTrustRequest(req, true)
	var ans api.ScoreAnswer
	if err == nil {
		ans, err = s.Score(o, x)
	}
	return s.answer(func() int64 { return ans.Height }, ans, err)
}

func (s *TrustService) queryTop(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	tr, o, _, err := parseTrustRequest(req, false)
	var ans api.TopAnswer
	if err == nil {
		ans, err = s.Top(o, tr.Limit, tr.Least)
	}
	return s.answer(func() int64 { return ans.Height }, ans, err)
}

func (s *TrustService) queryView(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	var vr api.TrustViewRequest
	var ans api.TrustViewAnswer
	o, err := decodeObserver(req, &vr, &vr.Observer)
	if err == nil {
		ans, err = s.View(o, vr.Limit)
	}
	if err == nil && vr.Encoding == api.EncodingBinary {
		return &abcitypes.ResponseQuery{Value: api.EncodeTrustView(ans), Height: ans.Height}
	}
	if err == nil && vr.Encoding != "" {
		err = fmt.Errorf("encoding %q: want %q or none (JSON): %w", vr.Encoding, api.EncodingBinary, api.ErrBadRequest)
	}
	return s.answer(func() int64 { return ans.Height }, ans, err)
}

func (s *TrustService) queryGraph(req *abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	var gr api.GraphRequest
	var ans api.GraphAnswer
	o, err := decodeObserver(req, &gr, &gr.Observer)
	if err == nil {
		ans, err = s.Graph(o, gr.MaxNodes, gr.MaxEdges)
	}
	return s.answer(func() int64 { return ans.Height }, ans, err)
}

// decodeObserver decodes a trust query's JSON data into into and parses the observer key that
// decoding fills in at observer; its errors wrap api.ErrBadRequest.
func decodeObserver(req *abcitypes.RequestQuery, into any, observer *string) (ledger.PubKey, error) {
	if err := json.Unmarshal(req.Data, into); err != nil {
		return ledger.PubKey{}, fmt.Errorf("%s request is not JSON: %v: %w", req.Path, err, api.ErrBadRequest)
	}
	o, err := ledger.ParsePubKey(*observer)
	if err != nil {
		return o, fmt.Errorf("observer: %v: %w", err, api.ErrBadRequest)
	}
	return o, nil
}

func (s *TrustService) queryPolicy(*abcitypes.RequestQuery) *abcitypes.ResponseQuery {
	p, err := s.Policy()
	return s.answer(func() int64 { return 0 }, p, err)
}
