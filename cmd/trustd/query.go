package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

func newQueryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Read the ledger: nodes, relations, events, transactions"}
	cmd.AddCommand(newQueryNodeCmd(g), newQueryRelationCmd(g), newQueryContractCmd(g), newQueryEventsCmd(g), newQueryTxCmd(g))
	return cmd
}

func bindProve(cmd *cobra.Command, o *proveOptions, prove *bool) {
	f := cmd.Flags()
	f.BoolVar(prove, "prove", false, "verify the answer: ICS23 proof against the app hash of a header checked by CometBFT's light client")
	f.Int64Var(&o.trustHeight, "trust-height", 0, "with --prove: height of a header you trust (default: height 1, trusted on first use)")
	f.StringVar(&o.trustHash, "trust-hash", "", "with --prove: hex hash of the header at --trust-height")
	f.StringSliceVar(&o.witnesses, "witness", nil, "with --prove: other nodes' RPC addresses to cross-check headers (default: the queried node)")
}

// verification is what a proved answer carries.
type verification struct {
	Verified bool   `json:"verified"`
	Height   int64  `json:"height"`
	AppHash  string `json:"app_hash"`
	Header   int64  `json:"header"`
	Note     string `json:"note,omitempty"`
}

func (v *verification) print(w io.Writer) {
	if v == nil {
		return
	}
	if v.Note != "" {
		fmt.Fprintln(w, v.Note)
	}
	fmt.Fprintf(w, "verified: state at height %d against app hash %s in light-client-verified header %d\n", v.Height, v.AppHash, v.Header)
}

// safe escapes user-chosen text (monikers, peer ids) for a terminal.
func safe(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func newQueryNodeCmd(g *globals) *cobra.Command {
	var prove bool
	var o proveOptions
	cmd := &cobra.Command{
		Use: "node NODE", Short: "A node's registration and totals (NODE: key name or hex)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := resolveNode(g.home, args[0])
			if err != nil {
				return err
			}
			client, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var view api.NodeView
			var ver *verification
			if prove {
				if view, ver, err = provedNode(cmd, g, client, n, o); err != nil {
					return err
				}
			} else if _, err := client.queryJSON(ctx, api.PathNode, n[:], &view); err != nil {
				return err
			}
			out := struct {
				api.NodeView
				Verification *verification `json:"verification,omitempty"`
			}{view, ver}
			return printOut(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				r := view.Record
				fmt.Fprintf(w, "node        %s\nmoniker     %s\npeer id     %s\ncapacity    %d bytes\nregistered  height %d (%s)\nsequence    %d\n",
					view.Node, safe(r.Moniker), safe(r.PeerID), r.Capacity, r.RegisteredHeight,
					time.Unix(r.RegisteredTime, 0).UTC().Format(time.RFC3339), r.Sequence)
				printAggregate(w, "as subject of events", view.Aggregate)
				ver.print(w)
			})
		},
	}
	bindProve(cmd, &o, &prove)
	return cmd
}

// proveState reads state keys with proofs checked against a light-client-verified header.
func proveState(cmd *cobra.Command, g *globals, client *rpc, o proveOptions, keys ...[]byte) ([]provedValue, *verification, error) {
	ctx := cmd.Context()
	p, err := client.params(ctx)
	if err != nil {
		return nil, nil, err
	}
	v, err := newVerifier(ctx, g, client, p.ChainID, o)
	if err != nil {
		return nil, nil, err
	}
	defer v.Close()
	vals, h, appHash, err := v.proveKeys(ctx, keys...)
	if err != nil {
		return nil, nil, err
	}
	return vals, &verification{Verified: true, Height: h, AppHash: hex.EncodeToString(appHash), Header: h + 1, Note: v.note}, nil
}

func provedNode(cmd *cobra.Command, g *globals, client *rpc, n ledger.PubKey, o proveOptions) (api.NodeView, *verification, error) {
	vals, ver, err := proveState(cmd, g, client, o, ledger.NodeKey(n), ledger.NodeAggKey(n))
	if err != nil {
		return api.NodeView{}, nil, err
	}
	if vals[0].Value == nil {
		return api.NodeView{}, nil, fmt.Errorf("node %s is not registered (absence verified at height %d)", n, ver.Height)
	}
	view := api.NodeView{Node: n}
	if view.Record, err = ledger.DecodeNodeRecord(vals[0].Value); err != nil {
		return view, nil, err
	}
	if vals[1].Value != nil {
		if view.Aggregate, err = ledger.DecodeAggregate(vals[1].Value); err != nil {
			return view, nil, err
		}
	}
	return view, ver, nil
}

// contractView is what `trustd query contract` prints: the record, and per kind of receipt the
// number to use next and the numbers still missing within the window (R-RCPT-1).
type contractView struct {
	ContractID   ledger.ID               `json:"contract_id"`
	Record       *ledger.ContractRecord  `json:"record"`
	Receipts     map[string]receiptsView `json:"receipts"`
	Verification *verification           `json:"verification,omitempty"`
}

type receiptsView struct {
	Highest uint64   `json:"highest"`
	Next    uint64   `json:"next"`
	Missing []uint64 `json:"missing"`
}

func newQueryContractCmd(g *globals) *cobra.Command {
	var prove bool
	var o proveOptions
	cmd := &cobra.Command{
		Use: "contract CONTRACT-ID", Short: "A contract: its parties and terms, whether it is open, and its receipt numbers so far",
		Long: "A contract: its parties and terms, whether it is open, and per kind of receipt the highest number\n" +
			"recorded, the next one, and the numbers below it that may still be submitted (specs/events.md R-RCPT-1).\n" +
			"CONTRACT-ID is 64 hex digits or the text the parties chose (hashed), as in trustd tx contract-open.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("contract-id", args[0])
			if err != nil {
				return err
			}
			client, err := g.client()
			if err != nil {
				return err
			}
			view := contractView{ContractID: id}
			var raw []byte
			if prove {
				var vals []provedValue
				if vals, view.Verification, err = proveState(cmd, g, client, o, ledger.ContractKey(id)); err != nil {
					return err
				}
				raw = vals[0].Value
			} else {
				res, err := client.query(cmd.Context(), api.PathStore, ledger.ContractKey(id), 0, false)
				if err != nil {
					return err
				}
				raw = res.Value
			}
			if raw == nil {
				return fmt.Errorf("contract %s was never opened", id)
			}
			if view.Record, err = ledger.DecodeContractRecord(raw); err != nil {
				return err
			}
			view.Receipts = map[string]receiptsView{}
			for kind, w := range map[string]ledger.ReceiptWindow{"storage": view.Record.StorageReceipts, "bandwidth": view.Record.BandwidthReceipts} {
				view.Receipts[kind] = receiptsView{Highest: w.Highest, Next: w.Next(), Missing: w.Missing()}
			}
			return printOut(cmd, g, view, func() {
				w := cmd.OutOrStdout()
				r := view.Record
				status := "open"
				if r.Closed {
					status = fmt.Sprintf("closed (%s) at height %d", r.CloseReason, r.ClosedHeight)
				}
				fmt.Fprintf(w, "contract    %s\ncustomer    %s\nsupplier    %s\nbytes       %d\nduration    %d s\nprice       %d per GiB-month\nopened      height %d (%s)\nstatus      %s\n",
					id, r.Customer, r.Supplier, r.Bytes, r.DurationSeconds, r.PricePerGiBMonth, r.OpenedHeight,
					time.Unix(r.OpenedTime, 0).UTC().Format(time.RFC3339), status)
				for _, kind := range []string{"storage", "bandwidth"} {
					rv := view.Receipts[kind]
					fmt.Fprintf(w, "%-9s receipts: highest %d, next %d", kind, rv.Highest, rv.Next)
					if len(rv.Missing) > 0 {
						fmt.Fprintf(w, ", missing %s", numberRanges(rv.Missing))
					}
					fmt.Fprintln(w)
				}
				view.Verification.print(w)
			})
		},
	}
	bindProve(cmd, &o, &prove)
	return cmd
}

// numberRanges prints ascending numbers compactly: 3, 7-9, 12.
func numberRanges(ns []uint64) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.FormatUint(ns[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

func printAggregate(w io.Writer, title string, a *ledger.Aggregate) {
	if a == nil {
		fmt.Fprintf(w, "%s: none\n", title)
		return
	}
	fmt.Fprintf(w, "%s (heights %d..%d):\n", title, a.FirstHeight, a.LastHeight)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := []struct {
		name string
		v    uint64
	}{
		{"events", a.Events}, {"contracts opened", a.ContractsOpened}, {"contracts expired", a.ContractsExpired},
		{"contracts fired", a.ContractsFired}, {"contracts quit", a.ContractsQuit}, {"storage receipts", a.StorageReceipts},
		{"byte-seconds stored", a.ByteSeconds}, {"bandwidth receipts", a.BandwidthReceipts}, {"bytes served", a.BandwidthBytes},
		{"audits passed", a.AuditsPassed}, {"audits failed", a.AuditsFailed}, {"  of which proven", a.AuditsFailedProven},
		{"payments made", a.PaymentsMade}, {"amount paid", a.AmountPaid}, {"reports received", a.ReportsReceived},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%d\n", r.name, r.v)
	}
	tw.Flush()
}

func newQueryRelationCmd(g *globals) *cobra.Command {
	var prove bool
	var o proveOptions
	cmd := &cobra.Command{
		Use: "relation A B", Short: "Totals of the events between two nodes, each direction", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := resolveNode(g.home, args[0])
			if err != nil {
				return err
			}
			b, err := resolveNode(g.home, args[1])
			if err != nil {
				return err
			}
			client, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			view := api.RelationView{A: a, B: b}
			var ver *verification
			if prove {
				var vals []provedValue
				if vals, ver, err = proveState(cmd, g, client, o, ledger.PairAggKey(a, b), ledger.PairAggKey(b, a)); err != nil {
					return err
				}
				for i, dst := range []**ledger.Aggregate{&view.AbB, &view.BbA} {
					if vals[i].Value != nil {
						if *dst, err = ledger.DecodeAggregate(vals[i].Value); err != nil {
							return err
						}
					}
				}
			} else if _, err := client.queryJSON(ctx, api.PathRelation, append(a[:], b[:]...), &view); err != nil {
				return err
			}
			out := struct {
				api.RelationView
				Verification *verification `json:"verification,omitempty"`
			}{view, ver}
			return printOut(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "A %s\nB %s\n", a, b)
				printAggregate(w, "events about A, with B", view.AbB)
				printAggregate(w, "events about B, with A", view.BbA)
				ver.print(w)
			})
		},
	}
	bindProve(cmd, &o, &prove)
	return cmd
}

func newQueryEventsCmd(g *globals) *cobra.Command {
	var req api.EventsRequest
	var node, peer string
	cmd := &cobra.Command{
		Use: "events", Short: "List committed events, oldest first, a page at a time", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node != "" {
				n, err := resolveNode(g.home, node)
				if err != nil {
					return fmt.Errorf("--involving: %w", err)
				}
				req.Node = n.String()
			}
			if peer != "" {
				p, err := resolveNode(g.home, peer)
				if err != nil {
					return fmt.Errorf("--with: %w", err)
				}
				req.Peer = p.String()
			}
			if req.Kind != "" {
				if _, err := ledger.ParseKind(req.Kind); err != nil {
					return err
				}
			}
			if req.Limit < 1 || req.Limit > api.MaxPageSize {
				return fmt.Errorf("--limit %d must be between 1 and %d", req.Limit, api.MaxPageSize)
			}
			client, err := g.client()
			if err != nil {
				return err
			}
			data, _ := json.Marshal(req)
			var page api.Page
			if _, err := client.queryJSON(cmd.Context(), api.PathEvents, data, &page); err != nil {
				return err
			}
			return printOut(cmd, g, page, func() {
				printRecords(cmd.OutOrStdout(), page.Records)
				if page.Next != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "more: --cursor %s\n", page.Next)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&node, "involving", "", "only events where this node signed, or is subject or counterparty")
	f.StringVar(&peer, "with", "", "with --involving: only events between the two nodes")
	f.StringVar(&req.Kind, "kind", "", "only events of this kind (register_node, contract_open, …)")
	f.StringVar(&req.Cursor, "cursor", "", "continue after a previous page (its `more: --cursor` value)")
	f.IntVar(&req.Limit, "limit", 50, "events per page")
	return cmd
}

func printRecords(w io.Writer, recs []ledger.EventRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HEIGHT\tTX\tKIND\tSUBJECT\tCOUNTERPARTY\tTIME")
	for _, r := range recs {
		tx := strconv.Itoa(int(r.TxIndex)) + "." + strconv.Itoa(int(r.EventIndex))
		if r.TxIndex == ledger.ConsensusTxIndex {
			tx = "consensus"
		}
		cp := "-"
		if !r.Counterparty.IsZero() {
			cp = short(r.Counterparty.String())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Height, tx, r.Kind, short(r.Subject.String()), cp,
			time.Unix(r.Time, 0).UTC().Format(time.RFC3339))
	}
	tw.Flush()
}

func short(hexKey string) string {
	if len(hexKey) > 16 {
		return hexKey[:16] + "…"
	}
	return hexKey
}

func newQueryTxCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "tx HASH", Short: "The events of a committed transaction", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := ledger.ParseID(args[0])
			if err != nil {
				return fmt.Errorf("tx hash: %w", err)
			}
			client, err := g.client()
			if err != nil {
				return err
			}
			var recs []ledger.EventRecord
			if _, err := client.queryJSON(cmd.Context(), api.PathTx, h[:], &recs); err != nil {
				return err
			}
			return printOut(cmd, g, recs, func() { printRecords(cmd.OutOrStdout(), recs) })
		},
	}
}
