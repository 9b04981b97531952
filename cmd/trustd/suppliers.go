package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
)

func newSuppliersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suppliers",
		Short: "The running node's suppliers as a customer: score as this node sees it, shards held, last audit, why hired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := node.DialControl(g.homeDir()).Suppliers(cmd.Context())
			if err != nil {
				return err
			}
			return printOut(cmd, g, list, func() {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "SUPPLIER\tSCORE\tCONFIDENCE\tSTATUS\tSHARDS\tBYTES\tSINCE\tLAST AUDIT\tHIRED")
				for _, s := range list {
					audit := "never"
					if a := s.LastAudit; a != nil {
						audit = fmt.Sprintf("%d %s", a.Number, map[bool]string{true: "passed", false: "FAILED"}[a.Passed])
					}
					fmt.Fprintf(w, "%s\t%.3f\t%.2f\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Supplier[:16], s.Score, s.Confidence, s.Status, s.Shards,
						humanize.IBytes(s.Bytes), s.OpenedTime.Local().Format(time.DateTime), audit, s.Hired)
				}
				w.Flush()
			})
		},
	}
	var reason string
	fire := &cobra.Command{
		Use:   "fire SUPPLIER",
		Short: "Drop a supplier (8 or more hex digits of its key): its shards are rebuilt onto another first, then the contract is closed (fired)",
		Long: "Drop a supplier by hand. Every file's shard on it is rebuilt from the others onto a replacement\n" +
			"(a supplier holding no shard of those files, hired by this node's trust view if needed), then a\n" +
			"contract_close (fired) goes to the ledger and its shards are deleted. The decision and --reason\n" +
			"go to `trustd suppliers history`. Nothing is closed unless every file was repaired. When an audit\n" +
			"of the contract failed with the supplier's signed answer as evidence, a misbehavior_report\n" +
			"(data_corrupted) pointing to it goes to the ledger too. A fire interrupted by a crash is finished\n" +
			"when the node starts again.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := node.DialControl(g.homeDir()).Fire(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printOut(cmd, g, res, func() {
				d := res.Decision
				fmt.Fprintf(cmd.OutOrStdout(), "fired %s (contract %s) at height %d: %s\n", short(d.Supplier), short(d.Contract), res.Height, d.Reason)
				if len(d.Repaired) > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%d files repaired onto contract %s\n", len(d.Repaired), short(d.Replacement))
				}
				if d.Report != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "reported: %s\n", d.Report)
				}
				for _, l := range res.Left {
					fmt.Fprintf(cmd.OutOrStdout(), "  not confirmed deleted: %s\n", l)
				}
			})
		},
	}
	fire.Flags().StringVar(&reason, "reason", "", "why (required): kept in the history with the decision")
	cmd.AddCommand(fire, &cobra.Command{
		Use:   "history",
		Short: "Past hires and fires, each with its reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hist, err := node.DialControl(g.homeDir()).History(cmd.Context())
			if err != nil {
				return err
			}
			return printOut(cmd, g, hist, func() {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "TIME\tACTION\tSUPPLIER\tCONTRACT\tREASON")
				for _, d := range hist {
					reason := d.Reason
					if len(d.Repaired) > 0 {
						reason += fmt.Sprintf(" (%d files repaired onto %s)", len(d.Repaired), short(d.Replacement))
					}
					if d.Report != "" {
						reason += "; reported: " + d.Report
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.Time.Local().Format(time.DateTime), d.Action, short(d.Supplier), short(d.Contract), strings.TrimSpace(reason))
				}
				w.Flush()
			})
		},
	})
	return cmd
}
