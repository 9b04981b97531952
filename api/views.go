package api

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
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

// EventsRequest is the data of /events. The zero request lists every event from the start.
type EventsRequest struct {
	Node   string `json:"node,omitempty"` // hex key: events it signed or is subject or counterparty of
	Peer   string `json:"peer,omitempty"` // with Node: the relation between Node and Peer
	Kind   string `json:"kind,omitempty"` // an event kind's name (register_node, audit_result, …)
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"` // 1..MaxPageSize; 0 asks for 50
	// Newest lists the newest events first; Next then continues with older ones.
	Newest bool `json:"newest,omitempty"`
	// Encoding "records" asks for the page as EncodePage's bytes instead of JSON: the canonical
	// records, decoded without JSON's cost (package client always asks so).
	Encoding string `json:"encoding,omitempty"`
}

// NewestAnswer is /events/newest's: the position of the newest event a filter matches (the
// cursor a newest-first listing would give after it), "" when none does. It names what changed
// last: a page made of those events is the same while it stays.
type NewestAnswer struct {
	Position string `json:"position"`
}

// EncodingRecords is EventsRequest.Encoding for a binary page.
const EncodingRecords = "records"

// EncodePage is a page in binary: u16 length and the Next cursor, then per record a u32 length
// and its canonical bytes (ledger.EventRecord.Encode).
func EncodePage(p Page) []byte {
	out := binary.BigEndian.AppendUint16(nil, uint16(len(p.Next)))
	out = append(out, p.Next...)
	for i := range p.Records {
		rec := p.Records[i].Encode()
		out = binary.BigEndian.AppendUint32(out, uint32(len(rec)))
		out = append(out, rec...)
	}
	return out
}

// DecodePage parses EncodePage's bytes.
func DecodePage(b []byte) (Page, error) {
	var p Page
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return p, fmt.Errorf("events page of %d bytes is cut short", len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	p.Next, b = string(b[2:2+n]), b[2+n:]
	p.Records = []ledger.EventRecord{}
	for len(b) > 0 {
		if len(b) < 4 || len(b) < 4+int(binary.BigEndian.Uint32(b)) {
			return p, fmt.Errorf("events page: record %d is cut short", len(p.Records))
		}
		n := int(binary.BigEndian.Uint32(b))
		rec, err := ledger.DecodeEventRecord(b[4 : 4+n])
		if err != nil {
			return p, fmt.Errorf("events page: record %d: %w", len(p.Records), err)
		}
		p.Records = append(p.Records, *rec)
		b = b[4+n:]
	}
	return p, nil
}

// CursorAfter is the /events cursor that continues a listing after rec, in either order: rec's
// position in history, height (8) ‖ tx index (4) ‖ event index (4) big-endian, in hex
// (specs/state.md §4).
func CursorAfter(rec *ledger.EventRecord) string { return hex.EncodeToString(Position(rec)) }

// Position is rec's place in history as the event indexes key it: height (8) ‖ tx index (4) ‖
// event index (4), big-endian, so keys sort by history (specs/state.md §4).
func Position(rec *ledger.EventRecord) []byte {
	p := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(rec.Height))
	p = binary.BigEndian.AppendUint32(p, rec.TxIndex)
	return binary.BigEndian.AppendUint32(p, rec.EventIndex)
}

// Page is one page of a listing, oldest first (newest first when asked). Next is the cursor of the following page, empty
// at the end.
type Page struct {
	Records []ledger.EventRecord `json:"records"`
	Next    string               `json:"next,omitempty"`
}

// ParamsView is the answer to /params.
type ParamsView struct {
	ChainID string        `json:"chain_id"`
	Params  ledger.Params `json:"params"`
	// HistoryFrom is, for a node restored from a state-sync snapshot, the snapshot height: its
	// event indexes (and the trust engine's history) hold only events above it. 0: from genesis.
	HistoryFrom int64 `json:"history_from,omitempty"`
}

// ContractView is a contract as a client shows it: the record, and per kind of numbered event
// ("storage", "bandwidth" receipts, "audits") the highest number recorded, the next one and the
// numbers below it still missing within the anti-replay window (specs/events.md R-RCPT-1, R-AUD-2).
type ContractView struct {
	ContractID ledger.ID               `json:"contract_id"`
	Record     *ledger.ContractRecord  `json:"record"`
	Receipts   map[string]ReceiptsView `json:"receipts"`
}

// ReceiptsView is one kind of receipt of a contract.
type ReceiptsView struct {
	Highest uint64   `json:"highest"`
	Next    uint64   `json:"next"`
	Missing []uint64 `json:"missing"`
}

// NewContractView derives the receipt numbers from a contract record.
func NewContractView(id ledger.ID, r *ledger.ContractRecord) ContractView {
	v := ContractView{ContractID: id, Record: r, Receipts: map[string]ReceiptsView{}}
	for kind, w := range map[string]ledger.NumberWindow{"storage": r.StorageReceipts, "bandwidth": r.BandwidthReceipts, "audits": r.Audits} {
		v.Receipts[kind] = ReceiptsView{Highest: w.Highest, Next: w.Next(), Missing: w.Missing()}
	}
	return v
}

// TrustRequest is the data of the /trust/* queries: keys as hex.
type TrustRequest struct {
	Observer string `json:"observer"`
	Subject  string `json:"subject,omitempty"` // /trust/score
	Limit    int    `json:"limit,omitempty"`   // /trust/top: 1..MaxTopLimit
	Least    bool   `json:"least,omitempty"`   // /trust/top: the least trusted first instead
}

// ScoreAnswer is the answer to /trust/score.
type ScoreAnswer struct {
	Height   int64            `json:"height"`
	Observer ledger.PubKey    `json:"observer"`
	Score    reputation.Score `json:"score"`
}

// TopAnswer is the answer to /trust/top: the best Limit scores (or the worst, least trusted
// first, when asked), and how many nodes are known.
type TopAnswer struct {
	Height   int64              `json:"height"`
	Observer ledger.PubKey      `json:"observer"`
	Total    int                `json:"total"`
	Scores   []reputation.Score `json:"scores"`
}
