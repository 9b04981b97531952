package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
)

// newExportCmd writes the whole ledger as JSON lines, one event a line, oldest first, with
// heights and tx hashes (specs/events.md §5), paging through the node's /events query.
func newExportCmd(g *globals) *cobra.Command {
	var output string
	var partial bool
	cmd := &cobra.Command{
		Use: "export", Short: "Write every committed event as JSON lines (for `trustd trust scores` and audits)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.params(cmd.Context())
			if err != nil {
				return err
			}
			if p.HistoryFrom > 0 && !partial {
				return fmt.Errorf("this node restored a state-sync snapshot at height %d and holds only the events above it; "+
					"export from a node that replayed from genesis, or pass --partial for events from height %d on", p.HistoryFrom, p.HistoryFrom+1)
			}
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			if output != "" && output != "-" {
				// Write beside the target and rename at the end: no partial file on failure.
				if f, err = os.CreateTemp(filepath.Dir(output), ".export-*"); err != nil {
					return err
				}
				defer os.Remove(f.Name())
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			enc := json.NewEncoder(bw)
			n := 0
			for rec, err := range c.AllEvents(cmd.Context(), api.EventsRequest{}) {
				if err != nil {
					return err
				}
				if err := enc.Encode(rec); err != nil {
					return err
				}
				n++
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				if err := f.Sync(); err != nil {
					return err
				}
				f.Close()
				if err := os.Rename(f.Name(), output); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d events to %s\n", n, output)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output-file", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&partial, "partial", false, "on a node restored from a snapshot: export the events it has (those above the snapshot height)")
	return cmd
}
