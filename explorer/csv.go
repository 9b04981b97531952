package explorer

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// csvMaxRows bounds one CSV download; past it the last line says where to continue (?cursor=).
const csvMaxRows = 100_000

// nodeCSV is a node's events, oldest first, as CSV.
func (s *Server) nodeCSV(w http.ResponseWriter, r *http.Request) {
	n, err := parseNode(r.PathValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeCSV(w, r, api.EventsRequest{Node: n.String()}, "events-"+n.String()[:12]+".csv")
}

// relationCSV is the events between two nodes, oldest first, as CSV.
func (s *Server) relationCSV(w http.ResponseWriter, r *http.Request) {
	a, err := parseNode(r.PathValue("a"))
	if err == nil {
		var b ledger.PubKey
		if b, err = parseNode(r.PathValue("b")); err == nil {
			s.writeCSV(w, r, api.EventsRequest{Node: a.String(), Peer: b.String()}, "relation-"+a.String()[:8]+"-"+b.String()[:8]+".csv")
			return
		}
	}
	s.fail(w, r, err)
}

var csvHeader = []string{"height", "tx_index", "event_index", "time", "tx_hash", "kind", "signer", "subject", "counterparty", "event"}

func (s *Server) writeCSV(w http.ResponseWriter, r *http.Request, req api.EventsRequest, filename string) {
	req.Cursor, req.Limit = r.URL.Query().Get("cursor"), api.MaxPageSize
	// The first page is read before anything is written, so a bad cursor is still a 400.
	page, err := s.c.Events(r.Context(), req)
	if err != nil {
		s.fail(w, r, cursorError(err))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	rows := 0
	for {
		for _, rec := range page.Records {
			ev, _ := json.Marshal(rec.Event)
			_ = cw.Write([]string{strconv.FormatInt(rec.Height, 10), strconv.FormatUint(uint64(rec.TxIndex), 10),
				strconv.FormatUint(uint64(rec.EventIndex), 10), strconv.FormatInt(rec.Time, 10), rec.TxHash.String(), rec.KindName,
				rec.Signer.String(), rec.Subject.String(), rec.Counterparty.String(), string(ev)})
			rows++
		}
		if page.Next == "" {
			break
		}
		if rows >= csvMaxRows {
			_ = cw.Write([]string{"# more: ask again with ?cursor=" + page.Next})
			break
		}
		req.Cursor = page.Next
		if page, err = s.c.Events(r.Context(), req); err != nil {
			_ = cw.Write([]string{"# failed here: " + err.Error()})
			break
		}
	}
	cw.Flush()
}
