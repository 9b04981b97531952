package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
)

func newQueryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Read the ledger: nodes, relations, events, transactions"}
	cmd.AddCommand(newQueryNodeCmd(g), newQueryRelationCmd(g), newQueryContractCmd(g), newQueryEventsCmd(g), newQueryTxCmd(g))
	return cmd
}

// safe escapes user-chosen text (monikers, peer ids) for a terminal.
func safe(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// proved is an answer with, when --prove was given, what it was verified against.
type proved[T any] struct {
	View         T
	Verification *client.Verification
}

// MarshalJSON prints the view's fields with a "verification" field beside them.
func (p proved[T]) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(p.View)
	if err != nil || p.Verification == nil || len(b) < 2 || b[0] != '{' {
		return b, err
	}
	v, err := json.Marshal(p.Verification)
	if err != nil {
		return nil, err
	}
	return append(append(append(b[:len(b)-1:len(b)-1], `,"verification":`...), v...), '}'), nil
}

// read answers from the node, or, with --prove, from proofs checked by a light client.
func read[T any](cmd *cobra.Command, g *globals, p proveFlags, plain func(*client.Client) (T, error),
	verified func(*client.Verifier) (T, client.Verification, error)) (proved[T], error) {
	c, err := g.client()
	if err != nil {
		return proved[T]{}, err
	}
	if !p.prove {
		v, err := plain(c)
		return proved[T]{View: v}, err
	}
	ver, err := p.verifier(cmd, g, c)
	if err != nil {
		return proved[T]{}, err
	}
	defer ver.Close()
	v, vf, err := verified(ver)
	return proved[T]{View: v, Verification: &vf}, err
}

func newQueryNodeCmd(g *globals) *cobra.Command {
	var p proveFlags
	cmd := &cobra.Command{
		Use: "node NODE", Short: "A node's registration and totals (NODE: key name or hex)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := g.resolve(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out, err := read(cmd, g, p, func(c *client.Client) (api.NodeView, error) { return c.Node(ctx, n) },
				func(v *client.Verifier) (api.NodeView, client.Verification, error) { return v.Node(ctx, n) })
			if err != nil {
				return err
			}
			return printOut(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				view, r := out.View, out.View.Record
				fmt.Fprintf(w, "node        %s\nmoniker     %s\npeer id     %s\ncapacity    %d bytes\nregistered  height %d (%s)\nsequence    %d\n",
					view.Node, safe(r.Moniker), safe(r.PeerID), r.Capacity, r.RegisteredHeight,
					time.Unix(r.RegisteredTime, 0).UTC().Format(time.RFC3339), r.Sequence)
				printAggregate(w, "as subject of events", view.Aggregate)
				printVerification(w, out.Verification)
			})
		},
	}
	bindProve(cmd, &p)
	return cmd
}

func newQueryContractCmd(g *globals) *cobra.Command {
	var p proveFlags
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
			ctx := cmd.Context()
			out, err := read(cmd, g, p, func(c *client.Client) (api.ContractView, error) { return c.Contract(ctx, id) },
				func(v *client.Verifier) (api.ContractView, client.Verification, error) { return v.Contract(ctx, id) })
			if err != nil {
				return err
			}
			return printOut(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				view, r := out.View, out.View.Record
				status := "open"
				if r.Closed {
					status = fmt.Sprintf("closed (%s) at height %d", r.CloseReason, r.ClosedHeight)
				}
				fmt.Fprintf(w, "contract    %s\ncustomer    %s\nsupplier    %s\nbytes       %d\nduration    %d s\nprice       %d per GiB-month\nopened      height %d (%s)\nstatus      %s\n",
					id, r.Customer, r.Supplier, r.Bytes, r.DurationSeconds, r.PricePerGiBMonth, r.OpenedHeight,
					time.Unix(r.OpenedTime, 0).UTC().Format(time.RFC3339), status)
				for _, kind := range []string{"storage", "bandwidth", "audits"} {
					rv := view.Receipts[kind]
					label := kind + " receipts"
					if kind == "audits" {
						label = "audits"
					}
					fmt.Fprintf(w, "%-18s highest %d, next %d", label+":", rv.Highest, rv.Next)
					if len(rv.Missing) > 0 {
						fmt.Fprintf(w, ", missing %s", numberRanges(rv.Missing))
					}
					fmt.Fprintln(w)
				}
				printVerification(w, out.Verification)
			})
		},
	}
	bindProve(cmd, &p)
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
	var p proveFlags
	cmd := &cobra.Command{
		Use: "relation A B", Short: "Totals of the events between two nodes, each direction", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.resolve(args[0])
			if err != nil {
				return err
			}
			b, err := g.resolve(args[1])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out, err := read(cmd, g, p, func(c *client.Client) (api.RelationView, error) { return c.Relation(ctx, a, b) },
				func(v *client.Verifier) (api.RelationView, client.Verification, error) { return v.Relation(ctx, a, b) })
			if err != nil {
				return err
			}
			return printOut(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "A %s\nB %s\n", a, b)
				printAggregate(w, "events about A, with B", out.View.AbB)
				printAggregate(w, "events about B, with A", out.View.BbA)
				printVerification(w, out.Verification)
			})
		},
	}
	bindProve(cmd, &p)
	return cmd
}

func newQueryEventsCmd(g *globals) *cobra.Command {
	var req api.EventsRequest
	var nodeArg, peer string
	cmd := &cobra.Command{
		Use: "events", Short: "List committed events, oldest first, a page at a time", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodeArg != "" {
				n, err := g.resolve(nodeArg)
				if err != nil {
					return fmt.Errorf("--involving: %w", err)
				}
				req.Node = n.String()
			}
			if peer != "" {
				p, err := g.resolve(peer)
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
			c, err := g.client()
			if err != nil {
				return err
			}
			page, err := c.Events(cmd.Context(), req)
			if err != nil {
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
	f.StringVar(&nodeArg, "involving", "", "only events where this node signed, or is subject or counterparty")
	f.StringVar(&peer, "with", "", "with --involving: only events between the two nodes")
	f.StringVar(&req.Kind, "kind", "", "only events of this kind (register_node, contract_open, …)")
	f.StringVar(&req.Cursor, "cursor", "", "continue after a previous page (its 'more: --cursor' value)")
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
			c, err := g.client()
			if err != nil {
				return err
			}
			recs, err := c.Tx(cmd.Context(), h)
			if err != nil {
				return err
			}
			return printOut(cmd, g, recs, func() { printRecords(cmd.OutOrStdout(), recs) })
		},
	}
}
