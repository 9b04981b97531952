package api

import (
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// The explorer's paths (specs/state.md §5): network figures, a node's counterparts, search,
// and the trust graph around an observer. Like the rest they only read.
const (
	PathStats        = "/stats"        // data: StatsRequest (JSON) → StatsAnswer
	PathCounterparts = "/counterparts" // data: CounterpartsRequest (JSON) → CounterpartsPage
	PathSearch       = "/search"       // data: SearchRequest (JSON) → SearchAnswer
	PathTrustGraph   = "/trust/graph"  // data: GraphRequest (JSON) → GraphAnswer
	PathTrustView    = "/trust/view"   // data: TrustViewRequest (JSON) → TrustViewAnswer (JSON, or binary on request)
)

// NetworkTotals are the whole network's figures after a block, derived from its events (as of
// HistoryFrom on a node restored from a snapshot: then from the state it restored).
type NetworkTotals struct {
	Events          uint64 `json:"events"`
	Nodes           uint64 `json:"nodes"`            // registered
	SpaceOffered    uint64 `json:"space_offered"`    // bytes: the capacity the nodes registered
	ContractsOpen   uint64 `json:"contracts_open"`   // opened and not closed
	SpaceContracted uint64 `json:"space_contracted"` // bytes under the open contracts
	AuditsPassed    uint64 `json:"audits_passed"`
	AuditsFailed    uint64 `json:"audits_failed"`
	BytesServed     uint64 `json:"bytes_served"` // by bandwidth receipts
	Payments        uint64 `json:"payments"`
	AmountPaid      uint64 `json:"amount_paid"`
	Reports         uint64 `json:"reports"` // misbehaviour reports
}

// StatsRequest is the data of /stats: the activity of the Minutes minutes (1..MaxStatsMinutes;
// 0 asks for 60) that end with the latest block.
type StatsRequest struct {
	Minutes int `json:"minutes,omitempty"`
}

// MaxStatsMinutes caps StatsRequest.Minutes (a day).
const MaxStatsMinutes = 24 * 60

// MinuteStats is one minute of activity: the events committed in blocks timed within it, by kind.
type MinuteStats struct {
	Start  int64             `json:"start"` // unix seconds, a multiple of 60
	Events map[string]uint64 `json:"events"`
}

// StatsAnswer is the answer to /stats: the totals after the latest block with events, and the
// recent activity, oldest minute first (every minute present, empty ones too).
type StatsAnswer struct {
	Height     int64         `json:"height"`     // the last committed height
	StatsAt    int64         `json:"stats_at"`   // the height of the latest block with events
	StatsTime  int64         `json:"stats_time"` // that block's time
	Totals     NetworkTotals `json:"totals"`     // after StatsAt
	Minutes    []MinuteStats `json:"minutes"`    // ending with the minute of StatsTime
	Incomplete bool          `json:"incomplete"` // more blocks fell in the window than one answer reads
}

// CounterpartsRequest is the data of /counterparts: the nodes Node has events with, in key
// order, after Cursor (a CounterpartsPage.Next), at most Limit (1..MaxPageSize; 0 asks for 50).
type CounterpartsRequest struct {
	Node   string `json:"node"`
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// Counterpart is one node Node has a relation with, and the relation's two directions.
type Counterpart struct {
	Node         ledger.PubKey     `json:"node"`
	Moniker      string            `json:"moniker,omitempty"`
	AboutNode    *ledger.Aggregate `json:"about_node"`    // events about Node, with this counterpart
	AboutPartner *ledger.Aggregate `json:"about_partner"` // events about this counterpart, with Node
}

// CounterpartsPage is one page of a node's counterparts.
type CounterpartsPage struct {
	Counterparts []Counterpart `json:"counterparts"`
	Next         string        `json:"next,omitempty"`
}

// SearchRequest is the data of /search: monikers starting with Query (case folded), at most Limit.
type SearchRequest struct {
	Query string `json:"query"`
	Limit int    `json:"limit,omitempty"` // 1..MaxSearchLimit; 0 asks for 20
}

// MaxSearchLimit caps SearchRequest.Limit.
const MaxSearchLimit = 100

// SearchHit is a registered node whose moniker matched.
type SearchHit struct {
	Node    ledger.PubKey `json:"node"`
	Moniker string        `json:"moniker"`
}

// SearchAnswer is the answer to /search, in moniker order.
type SearchAnswer struct {
	Hits []SearchHit `json:"hits"`
}

// GraphRequest is the data of /trust/graph: the ego graph of Observer, at most MaxNodes nodes
// (1..MaxGraphNodes; 0 asks for the maximum) and MaxEdges edges (likewise).
type GraphRequest struct {
	Observer string `json:"observer"`
	MaxNodes int    `json:"max_nodes,omitempty"`
	MaxEdges int    `json:"max_edges,omitempty"`
}

// The caps of a trust graph, as Tribler's trust view caps its own.
const (
	MaxGraphNodes = 500
	MaxGraphEdges = 2500
)

// GraphAnswer is the answer to /trust/graph.
type GraphAnswer struct {
	Height int64            `json:"height"`
	Graph  reputation.Graph `json:"graph"`
}

// TrustViewRequest is the data of /trust/view: what a page on Observer's trust shows, in one
// answer from one view: its Limit (1..MaxTopLimit; 0 asks for 20) most and least trusted, and its
// ego graph at the caps.
type TrustViewRequest struct {
	Observer string `json:"observer"`
	Limit    int    `json:"limit,omitempty"`
	// Encoding EncodingBinary asks for the answer in binary (EncodeTrustView); empty: JSON.
	Encoding string `json:"encoding,omitempty"`
}

// TrustViewAnswer is the answer to /trust/view.
type TrustViewAnswer struct {
	Height   int64              `json:"height"`
	Observer ledger.PubKey      `json:"observer"`
	Total    int                `json:"total"`
	Most     []reputation.Score `json:"most"`
	Least    []reputation.Score `json:"least"`
	Graph    reputation.Graph   `json:"graph"`
	Policy   reputation.Policy  `json:"policy"`
}
