package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/p2p"
)

func newSupplierCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "supplier",
		Short: "The running node's contracts as a supplier, and leaving one (its supplier service)",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "contracts",
			Short: "List the contracts this node supplies: customer, space agreed and used, shards, bytes served and receipted",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				list, err := node.DialControl(g.homeDir()).SupplierContracts(cmd.Context())
				if err != nil {
					return err
				}
				return printOut(cmd, g, list, func() { printSupplierContracts(cmd, list) })
			},
		},
		&cobra.Command{
			Use:   "quit CONTRACT",
			Short: "Leave a contract: no more shards under it, a contract_close (quit) committed to the ledger, then its shards deleted",
			Long: "Leave a contract (its 64-digit id, from `trustd supplier contracts`). The supplier takes no more\n" +
				"shards under it at once, but keeps serving and answering audits for those it holds until the\n" +
				"ledger has the close; only then are they deleted. The customer's files lose that shard of each\n" +
				"stripe and read back from the others.",
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := node.DialControl(g.homeDir()).Quit(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printOut(cmd, g, c, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "quit contract %s with %s: closed in the ledger, %d shards (%s) deleted\n",
						c.Open.ContractID, short(c.Open.Customer.String()), c.Shards, humanize.IBytes(c.Used))
				})
			},
		},
	)
	return cmd
}

func printSupplierContracts(cmd *cobra.Command, list []p2p.SupplierContract) {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONTRACT\tCUSTOMER\tAGREED\tUSED\tSHARDS\tSERVED\tRECEIPTED")
	for _, c := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Open.ContractID, short(c.Open.Customer.String()), humanize.IBytes(c.Open.Bytes),
			humanize.IBytes(c.Used), c.Shards, humanize.IBytes(c.Served), humanize.IBytes(c.Receipted))
	}
	w.Flush()
}
