package explorer

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// blockRow is one block in a list.
type blockRow struct {
	Height   int64     `json:"height"`
	Time     time.Time `json:"time"`
	Hash     string    `json:"hash"`
	Txs      int       `json:"txs"`
	Proposer string    `json:"proposer"` // consensus address, hex
}

type homeView struct {
	ChainID     string          `json:"chain_id"`
	Height      int64           `json:"height"`
	Time        time.Time       `json:"time"`
	Validators  int             `json:"validators"`
	VotingPower int64           `json:"voting_power"`
	Stats       api.StatsAnswer `json:"stats"`
	Blocks      []blockRow      `json:"latest_blocks"`
	Chart       template.HTML   `json:"-"`
}

func (homeView) page() string { return "home" }

// homeCache keeps the home page's data for the height it was read at: a hundred visitors in one
// block cost one read.
type homeCache struct {
	mu sync.Mutex
	v  *homeView
}

// latestBlocks is how many blocks the home page lists.
const latestBlocks = 10

func (s *Server) loadHome(r *http.Request) (view, error) {
	ctx := r.Context()
	st, err := s.latestStatus(ctx)
	if err != nil {
		return nil, err
	}
	h := st.SyncInfo.LatestBlockHeight
	s.home.mu.Lock()
	defer s.home.mu.Unlock()
	if s.home.v != nil && s.home.v.Height == h {
		return *s.home.v, nil
	}
	v := homeView{ChainID: st.NodeInfo.Network, Height: h, Time: st.SyncInfo.LatestBlockTime.UTC()}
	if v.Blocks, err = s.blockRows(ctx, h, latestBlocks); err != nil {
		return nil, err
	}
	if v.Stats, err = s.c.Stats(ctx, 60); err != nil {
		return nil, err
	}
	if v.Validators, v.VotingPower, err = s.validators(ctx, h); err != nil {
		return nil, err
	}
	v.Chart = activityChart(v.Stats.Minutes)
	s.home.v = &v
	return v, nil
}

func (s *Server) validators(ctx context.Context, h int64) (int, int64, error) {
	rpc, err := s.c.RPC()
	if err != nil {
		return 0, 0, err
	}
	perPage := 100
	var n int
	var power int64
	for page := 1; page <= 100; page++ {
		vs, err := rpc.Validators(ctx, &h, &page, &perPage)
		if err != nil {
			return 0, 0, fmt.Errorf("validators at height %d: %w", h, err)
		}
		for _, v := range vs.Validators {
			power += v.VotingPower
		}
		n += vs.Count
		if n >= vs.Total {
			break
		}
	}
	return n, power, nil
}

// blockRows lists up to n blocks from height down, newest first.
func (s *Server) blockRows(ctx context.Context, height int64, n int) ([]blockRow, error) {
	rpc, err := s.c.RPC()
	if err != nil {
		return nil, err
	}
	var rows []blockRow
	for height >= 1 && len(rows) < n {
		lo := max(1, height-int64(min(n-len(rows), 20))+1)
		info, err := rpc.BlockchainInfo(ctx, lo, height)
		if err != nil {
			return nil, fmt.Errorf("blocks %d..%d: %w", lo, height, err)
		}
		if len(info.BlockMetas) == 0 {
			break
		}
		for _, m := range info.BlockMetas {
			rows = append(rows, blockRow{Height: m.Header.Height, Time: m.Header.Time.UTC(), Hash: m.BlockID.Hash.String(),
				Txs: m.NumTxs, Proposer: m.Header.ProposerAddress.String()})
		}
		height = info.BlockMetas[len(info.BlockMetas)-1].Header.Height - 1
		if lo < info.BlockMetas[len(info.BlockMetas)-1].Header.Height {
			break // the node keeps no older blocks
		}
	}
	return rows, nil
}

type blocksView struct {
	Blocks []blockRow `json:"blocks"`
	Before int64      `json:"before,omitempty"` // the cursor of the next (older) page; 0 at the end
}

func (blocksView) page() string { return "blocks" }

func (s *Server) loadBlocks(r *http.Request) (view, error) {
	ctx := r.Context()
	n, err := rows(r)
	if err != nil {
		return nil, err
	}
	st, err := s.c.Status(ctx)
	if err != nil {
		return nil, err
	}
	from := st.SyncInfo.LatestBlockHeight
	if b := r.URL.Query().Get("before"); b != "" {
		h, err := strconv.ParseInt(b, 10, 64)
		if err != nil || h < 1 {
			return nil, badRequest("before %q is not a height (a whole number from 1)", b)
		}
		from = min(from, h-1)
	}
	var v blocksView
	if v.Blocks, err = s.blockRows(ctx, from, n); err != nil {
		return nil, err
	}
	if len(v.Blocks) == n && v.Blocks[n-1].Height > 1 {
		v.Before = v.Blocks[n-1].Height
	}
	return v, nil
}

// rows is the page size a request asks (?limit=), DefaultRows if none.
func rows(r *http.Request) (int, error) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return DefaultRows, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > MaxRows {
		return 0, badRequest("limit %q: a page has 1 to %d rows", l, MaxRows)
	}
	return n, nil
}

// eventView is one decoded event of a transaction.
type eventView struct {
	Index        int           `json:"index"`
	Kind         string        `json:"kind"`
	Subject      ledger.PubKey `json:"subject"`
	Counterparty ledger.PubKey `json:"counterparty"`
	Event        ledger.Event  `json:"event"`
}

// txView is a transaction: its envelope, its events decoded and its result.
type txView struct {
	Hash     string        `json:"hash"`
	Height   int64         `json:"height"`
	Index    uint32        `json:"index"`
	Bytes    int           `json:"bytes"`
	ChainID  string        `json:"chain_id,omitempty"`
	Signer   ledger.PubKey `json:"signer"`
	Sequence uint64        `json:"sequence"`
	Code     uint32        `json:"code"`
	CodeName string        `json:"code_name"`
	Log      string        `json:"log,omitempty"`
	Events   []eventView   `json:"events"`
	Error    string        `json:"decode_error,omitempty"` // the bytes are not a trustledger tx
}

func (txView) page() string { return "tx" }

func decodeTxView(raw []byte, height int64, index uint32, code uint32, log string) txView {
	v := txView{Hash: ledger.TxHash(raw).String(), Height: height, Index: index, Bytes: len(raw),
		Code: code, CodeName: ledger.Code(code).String(), Log: log}
	tx, err := ledger.DecodeTx(raw)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	v.ChainID, v.Signer, v.Sequence = tx.ChainID, tx.Signer, tx.Sequence
	for i, ev := range tx.Events {
		sub, cp := ledger.SubjectAndCounterparty(ev, tx.Signer)
		v.Events = append(v.Events, eventView{Index: i, Kind: ev.Kind().String(), Subject: sub, Counterparty: cp, Event: ev})
	}
	return v
}

type blockView struct {
	Height          int64                `json:"height"`
	Hash            string               `json:"hash"`
	Time            time.Time            `json:"time"`
	ChainID         string               `json:"chain_id"`
	Proposer        string               `json:"proposer"`
	AppHash         string               `json:"app_hash"`
	LastBlockHash   string               `json:"last_block_hash"`
	ValidatorsHash  string               `json:"validators_hash"`
	Signatures      int                  `json:"signatures"` // precommits of the previous block
	Txs             []txView             `json:"txs"`
	Latest          int64                `json:"latest"`
	ConsensusEvents []ledger.EventRecord `json:"consensus_events,omitempty"` // written by the ledger itself
}

func (blockView) page() string { return "block" }

func (s *Server) loadBlock(r *http.Request) (view, error) {
	ctx := r.Context()
	p := r.PathValue("height")
	h, err := strconv.ParseInt(p, 10, 64)
	if err != nil || h < 1 {
		return nil, notFound("no block %q: a height is a whole number from 1", p)
	}
	st, err := s.c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if h > st.SyncInfo.LatestBlockHeight || h < st.SyncInfo.EarliestBlockHeight {
		return nil, notFound("no block at height %d: this node has blocks %d to %d", h, st.SyncInfo.EarliestBlockHeight, st.SyncInfo.LatestBlockHeight)
	}
	rpc, err := s.c.RPC()
	if err != nil {
		return nil, err
	}
	b, err := rpc.Block(ctx, &h)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", h, err)
	}
	res, err := rpc.BlockResults(ctx, &h)
	if err != nil {
		return nil, fmt.Errorf("results of block %d: %w", h, err)
	}
	hd := b.Block.Header
	v := blockView{Height: h, Hash: b.BlockID.Hash.String(), Time: hd.Time.UTC(), ChainID: hd.ChainID, Proposer: hd.ProposerAddress.String(),
		AppHash: hd.AppHash.String(), LastBlockHash: hd.LastBlockID.Hash.String(), ValidatorsHash: hd.ValidatorsHash.String(),
		Latest: st.SyncInfo.LatestBlockHeight}
	if b.Block.LastCommit != nil {
		for _, sig := range b.Block.LastCommit.Signatures {
			if sig.BlockIDFlag == types.BlockIDFlagCommit {
				v.Signatures++
			}
		}
	}
	for i, raw := range b.Block.Txs {
		var code uint32
		var log string
		if i < len(res.TxsResults) {
			code, log = res.TxsResults[i].Code, res.TxsResults[i].Log
		}
		v.Txs = append(v.Txs, decodeTxView(raw, h, uint32(i), code, log))
	}
	// Events the ledger writes itself (misbehaviour from CometBFT's evidence) carry no tx: the
	// block's misbehaviour reports, a page at a time (at most blockReportPages), until the next
	// height.
	cursor := positionBefore(h)
pages:
	for range blockReportPages {
		page, err := s.c.Events(ctx, api.EventsRequest{Kind: ledger.KindMisbehaviorReport.String(), Limit: MaxRows, Cursor: cursor})
		if err != nil {
			break // none at all (api.ErrNotFound), or the node did not answer: the block still shows
		}
		for _, rec := range page.Records {
			if rec.Height != h {
				break pages
			}
			if rec.TxIndex == ledger.ConsensusTxIndex {
				v.ConsensusEvents = append(v.ConsensusEvents, rec)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	return v, nil
}

// blockReportPages bounds the pages of misbehaviour reports a block page reads.
const blockReportPages = 10

// positionBefore is the listing cursor just before the first event at height h.
func positionBefore(h int64) string {
	return api.CursorAfter(&ledger.EventRecord{Height: h - 1, TxIndex: ^uint32(0), EventIndex: ^uint32(0)})
}

func (s *Server) loadTx(r *http.Request) (view, error) {
	ctx := r.Context()
	p := r.PathValue("hash")
	hash, err := ledger.ParseID(p)
	if err != nil {
		return nil, notFound("no transaction %q: a tx hash is 64 hex digits", p)
	}
	rpc, err := s.c.RPC()
	if err != nil {
		return nil, err
	}
	res, err := rpc.Tx(ctx, hash[:], false)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, notFound("no committed transaction has hash %s", hash)
		}
		return nil, fmt.Errorf("tx %s: %w", hash, err)
	}
	return decodeTxView(res.Tx, res.Height, res.Index, res.TxResult.Code, res.TxResult.Log), nil
}

// parseNode reads a node named in a path: a 64-hex key or a peer id.
func parseNode(p string) (ledger.PubKey, error) {
	if k, err := ledger.ParsePubKey(p); err == nil {
		return k, nil
	}
	if k, err := ledger.PubKeyOfPeerID(p); err == nil {
		return k, nil
	}
	return ledger.PubKey{}, notFound("no node %q: a node is named by its key (64 hex digits) or its peer id (12D3KooW…)", p)
}

type nodeView struct {
	Node         ledger.PubKey        `json:"node"`
	PeerID       string               `json:"peer_id"`
	Record       *ledger.NodeRecord   `json:"record"`
	Aggregate    *ledger.Aggregate    `json:"aggregate"`
	Kind         string               `json:"kind,omitempty"`
	Events       []ledger.EventRecord `json:"events"` // newest first
	Next         string               `json:"next,omitempty"`
	Counterparts []api.Counterpart    `json:"counterparts"`
	CpNext       string               `json:"counterparts_next,omitempty"`
	// Recorded is what the node's side of its relations says about the others (audits it ran,
	// bytes served to it, payments it received, reports it made), summed over its first
	// recordedMax counterparts; RecordedCapped says it has more.
	Recorded       *ledger.Aggregate `json:"recorded_about_others"`
	RecordedOver   int               `json:"recorded_over_counterparts"`
	RecordedCapped bool              `json:"recorded_capped,omitempty"`
}

// recordedMax bounds the counterparts a node page sums (five pages of a hundred).
const recordedMax = 500

func (nodeView) page() string { return "node" }

func (s *Server) loadNode(r *http.Request) (view, error) {
	ctx := r.Context()
	n, err := parseNode(r.PathValue("key"))
	if err != nil {
		return nil, err
	}
	limit, err := rows(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	v := nodeView{Node: n, PeerID: ledger.PeerIDOf(n), Kind: q.Get("kind")}
	if v.Kind != "" {
		if _, err := ledger.ParseKind(v.Kind); err != nil {
			return nil, badRequest("kind: %v", err)
		}
	}
	nv, err := s.c.Node(ctx, n)
	switch {
	case err == nil:
		v.Record, v.Aggregate = nv.Record, nv.Aggregate
	case !errors.Is(err, api.ErrNotFound):
		return nil, err
	}
	page, err := s.c.Events(ctx, api.EventsRequest{Node: n.String(), Kind: v.Kind, Cursor: q.Get("cursor"), Limit: limit, Newest: true})
	if err != nil {
		return nil, cursorError(err)
	}
	v.Events, v.Next = page.Records, page.Next
	if v.Record == nil && len(v.Events) == 0 && q.Get("cursor") == "" && v.Kind == "" {
		return nil, notFound("node %s is not registered and has no events on this ledger", n)
	}
	var first api.CounterpartsPage
	if v.Recorded, v.RecordedOver, v.RecordedCapped, first, err = s.recordedAboutOthers(ctx, n); err != nil {
		return nil, err
	}
	if cp := q.Get("cp"); cp != "" {
		cps, err := s.c.Counterparts(ctx, n, cp, limit)
		if err != nil {
			return nil, cursorError(err)
		}
		v.Counterparts, v.CpNext = cps.Counterparts, cps.Next
	} else { // the first page is the start of the one summed
		v.Counterparts, v.CpNext = first.Counterparts[:min(limit, len(first.Counterparts))], first.Next
		if limit < len(first.Counterparts) {
			v.CpNext = v.Counterparts[limit-1].Node.String()
		}
	}
	return v, nil
}

// recordedAboutOthers sums the aggregates of n's counterparts about which n is the other party;
// it returns their first page too (MaxRows of them).
func (s *Server) recordedAboutOthers(ctx context.Context, n ledger.PubKey) (*ledger.Aggregate, int, bool, api.CounterpartsPage, error) {
	var sum ledger.Aggregate
	var first api.CounterpartsPage
	count, cursor := 0, ""
	for count < recordedMax {
		page, err := s.c.Counterparts(ctx, n, cursor, MaxRows)
		if err != nil {
			return nil, 0, false, first, err
		}
		if count == 0 {
			first = page
		}
		for _, cp := range page.Counterparts {
			count++
			if a := cp.AboutPartner; a != nil {
				sum.Events += a.Events
				sum.ContractsOpened += a.ContractsOpened
				sum.ContractsExpired += a.ContractsExpired
				sum.ContractsFired += a.ContractsFired
				sum.ContractsQuit += a.ContractsQuit
				sum.StorageReceipts += a.StorageReceipts
				sum.ByteSeconds += a.ByteSeconds
				sum.BandwidthReceipts += a.BandwidthReceipts
				sum.BandwidthBytes += a.BandwidthBytes
				sum.AuditsPassed += a.AuditsPassed
				sum.AuditsFailed += a.AuditsFailed
				sum.AuditsFailedProven += a.AuditsFailedProven
				sum.PaymentsMade += a.PaymentsMade
				sum.AmountPaid += a.AmountPaid
				sum.ReportsReceived += a.ReportsReceived
				if sum.FirstHeight == 0 || (a.FirstHeight > 0 && a.FirstHeight < sum.FirstHeight) {
					sum.FirstHeight = a.FirstHeight
				}
				sum.LastHeight = max(sum.LastHeight, a.LastHeight)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if count == 0 {
		return nil, 0, false, first, nil
	}
	return &sum, count, cursor != "", first, nil
}

// cursorError turns the node's refusal of a cursor into a 400.
func cursorError(err error) error {
	var qe *api.QueryError
	if errors.As(err, &qe) && qe.Code == api.CodeBadRequest {
		return badRequest("%s", qe.Log)
	}
	return err
}

type relationView struct {
	A          ledger.PubKey        `json:"a"`
	B          ledger.PubKey        `json:"b"`
	MonikerA   string               `json:"moniker_a,omitempty"`
	MonikerB   string               `json:"moniker_b,omitempty"`
	AboutA     *ledger.Aggregate    `json:"about_a_from_b"`
	AboutB     *ledger.Aggregate    `json:"about_b_from_a"`
	Events     []ledger.EventRecord `json:"events"` // newest first
	Next       string               `json:"next,omitempty"`
	Proofs     []ledger.EventRecord `json:"proofs"` // audits failed with the supplier's signed answer, reports with evidence
	Chart      template.HTML        `json:"-"`
	ChartCount int                  `json:"-"`
}

func (relationView) page() string { return "relation" }

// chartEvents is how many of a relation's latest events its chart draws.
const chartEvents = 100

func (s *Server) loadRelation(r *http.Request) (view, error) {
	ctx := r.Context()
	a, err := parseNode(r.PathValue("a"))
	if err != nil {
		return nil, err
	}
	b, err := parseNode(r.PathValue("b"))
	if err != nil {
		return nil, err
	}
	if a == b {
		return nil, notFound("no relation of node %s with itself", a)
	}
	limit, err := rows(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	rel, err := s.c.Relation(ctx, a, b)
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return nil, err
	}
	v := relationView{A: a, B: b, AboutA: rel.AbB, AboutB: rel.BbA}
	if rel.A == b { // the node answers in its own order
		v.AboutA, v.AboutB = rel.BbA, rel.AbB
	}
	// The chart's events are the newest chartEvents; the first page of the table is their start.
	recent, err := s.c.Events(ctx, api.EventsRequest{Node: a.String(), Peer: b.String(), Limit: chartEvents, Newest: true})
	if err != nil {
		return nil, err
	}
	if cursor := q.Get("cursor"); cursor != "" || limit > len(recent.Records) && recent.Next != "" {
		page, err := s.c.Events(ctx, api.EventsRequest{Node: a.String(), Peer: b.String(), Cursor: cursor, Limit: limit, Newest: true})
		if err != nil {
			return nil, cursorError(err)
		}
		v.Events, v.Next = page.Records, page.Next
	} else {
		v.Events = slices.Clone(recent.Records[:min(limit, len(recent.Records))])
		if limit < len(recent.Records) || recent.Next != "" {
			v.Next = api.CursorAfter(&v.Events[len(v.Events)-1])
		}
	}
	if v.AboutA == nil && v.AboutB == nil && len(v.Events) == 0 && q.Get("cursor") == "" {
		return nil, notFound("nodes %s and %s have no events together", a, b)
	}
	v.MonikerA, v.MonikerB = s.moniker(ctx, a), s.moniker(ctx, b)
	slices.Reverse(recent.Records)
	v.Chart, v.ChartCount = relationChart(recent.Records, a, b), len(recent.Records)
	for _, rec := range recent.Records {
		switch ev := rec.Event.(type) {
		case *ledger.AuditResult:
			if ev.Evidence != nil {
				v.Proofs = append(v.Proofs, rec)
			}
		case *ledger.MisbehaviorReport:
			if len(ev.Evidence) > 0 {
				v.Proofs = append(v.Proofs, rec)
			}
		}
	}
	return v, nil
}

// moniker is a node's registered name ("" if none or unknown), remembered until a node
// registers anew (registrations: at most registrationsEvery late).
func (s *Server) moniker(ctx context.Context, n ledger.PubKey) string {
	regs, err := s.registrations(ctx)
	if err != nil {
		return ""
	}
	s.names.mu.Lock()
	if s.names.epoch != regs || len(s.names.m) > maxNames {
		s.names.epoch, s.names.m = regs, map[ledger.PubKey]string{}
	}
	m, ok := s.names.m[n]
	s.names.mu.Unlock()
	if ok {
		return m
	}
	nv, err := s.c.Node(ctx, n)
	if err == nil && nv.Record != nil {
		m = nv.Record.Moniker
	} else if !errors.Is(err, api.ErrNotFound) {
		return "" // not remembered: ask again next time
	}
	s.names.mu.Lock()
	if s.names.epoch == regs {
		s.names.m[n] = m
	}
	s.names.mu.Unlock()
	return m
}

// maxNames bounds how many monikers are remembered.
const maxNames = 100_000

// nameCache is the monikers read as of a newest registration.
type nameCache struct {
	mu    sync.Mutex
	epoch string
	m     map[ledger.PubKey]string
}

// scoreRow is one score with its explanation.
type scoreRow struct {
	Score   reputation.Score `json:"score"`
	Moniker string           `json:"moniker,omitempty"`
	Reasons []string         `json:"reasons"`
}

type trustView struct {
	Observer ledger.PubKey    `json:"observer"`
	Moniker  string           `json:"moniker,omitempty"`
	Height   int64            `json:"height"`
	Total    int              `json:"total"`
	Most     []scoreRow       `json:"most_trusted"`
	Least    []scoreRow       `json:"least_trusted"`
	Graph    reputation.Graph `json:"graph"`
	Picture  template.HTML    `json:"-"`
}

func (trustView) page() string { return "trust" }

// trustRows is how many of the most and least trusted the trust page lists.
const trustRows = 20

func (s *Server) loadTrust(r *http.Request) (view, error) {
	ctx := r.Context()
	o, err := parseNode(r.PathValue("key"))
	if err != nil {
		return nil, err
	}
	n := trustRows
	if r.URL.Query().Get("limit") != "" {
		if n, err = rows(r); err != nil {
			return nil, err
		}
	}
	tv, err := s.c.TrustView(ctx, o, n)
	if err != nil {
		return nil, err
	}
	pol := tv.Policy
	names := map[ledger.PubKey]string{}
	name := func(k ledger.PubKey) string {
		m, ok := names[k]
		if !ok {
			m = s.moniker(ctx, k)
			names[k] = m
		}
		if m == "" {
			return reputation.ShortName(k)
		}
		return m
	}
	v := trustView{Observer: o, Moniker: s.moniker(ctx, o), Height: tv.Height, Total: tv.Total, Graph: tv.Graph}
	names[o] = v.Moniker
	for _, list := range []struct {
		in  []reputation.Score
		out *[]scoreRow
	}{{tv.Most, &v.Most}, {tv.Least, &v.Least}} {
		*list.out = make([]scoreRow, 0, len(list.in))
		for _, sc := range list.in {
			name(sc.Subject)
			*list.out = append(*list.out, scoreRow{Score: sc, Moniker: names[sc.Subject], Reasons: reputation.Explain(sc, pol, name, 3)})
		}
	}
	v.Picture = graphPicture(tv.Graph, func(k ledger.PubKey) string {
		if m, ok := names[k]; ok && m != "" {
			return m
		}
		return reputation.ShortName(k)
	})
	return v, nil
}

// searchHit is one thing a search found, and where it is.
type searchHit struct {
	Kind  string `json:"kind"` // block, tx, node
	Label string `json:"label"`
	URL   string `json:"url"`
}

type searchView struct {
	Query string      `json:"query"`
	Hits  []searchHit `json:"hits"`
}

func (searchView) page() string { return "search" }

// loadSearch finds what the query names: a height, a tx hash or node key (64 hex), a peer id,
// or the start of monikers.
func (s *Server) loadSearch(r *http.Request) (view, error) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := searchView{Query: q, Hits: []searchHit{}}
	if q == "" {
		return v, nil
	}
	if len(q) > 200 {
		return nil, badRequest("a search is at most 200 characters, not %d", len(q))
	}
	if h, err := strconv.ParseInt(q, 10, 64); err == nil && h >= 1 {
		v.Hits = append(v.Hits, searchHit{"block", "block " + q, "/block/" + q})
	}
	if id, err := ledger.ParseID(q); err == nil {
		k := ledger.PubKey(id)
		if _, err := s.c.Node(ctx, k); err == nil {
			v.Hits = append(v.Hits, searchHit{"node", "node " + reputation.ShortName(k), "/node/" + k.String()})
		} else if page, err := s.c.Events(ctx, api.EventsRequest{Node: k.String(), Limit: 1}); err == nil && len(page.Records) > 0 {
			v.Hits = append(v.Hits, searchHit{"node", "node " + reputation.ShortName(k), "/node/" + k.String()})
		}
		if rpc, err := s.c.RPC(); err == nil {
			if _, err := rpc.Tx(ctx, id[:], false); err == nil {
				v.Hits = append(v.Hits, searchHit{"tx", "transaction " + reputation.ShortName(k), "/tx/" + id.String()})
			}
		}
	}
	if k, err := ledger.PubKeyOfPeerID(q); err == nil {
		v.Hits = append(v.Hits, searchHit{"node", "node " + reputation.ShortName(k) + " (peer " + q + ")", "/node/" + k.String()})
	}
	ans, err := s.c.SearchMonikers(ctx, q, 20)
	if err != nil {
		return nil, err
	}
	for _, h := range ans.Hits {
		v.Hits = append(v.Hits, searchHit{"node", h.Moniker + " · " + reputation.ShortName(h.Node), "/node/" + h.Node.String()})
	}
	return v, nil
}

type apiDocView struct{}

func (apiDocView) page() string { return "api" }

func loadAPIDoc(*http.Request) (view, error) { return apiDocView{}, nil }
