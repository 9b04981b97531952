package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/storage"
)

// snapshotView is one local state-sync snapshot, as `trustd snapshots` lists it.
type snapshotView struct {
	Height int64  `json:"height"`
	Format uint32 `json:"format"`
	Chunks uint32 `json:"chunks"`
	Hash   string `json:"hash"`
}

func newSnapshotsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshots",
		Short: "List this node's state-sync snapshots (data/snapshots), newest first; safe while the node runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := node.LoadConfig(g.homeDir())
			if err != nil {
				return err
			}
			list, err := storage.ReadSnapshotStore(node.SnapshotsDir(c)).List()
			if err != nil {
				return err
			}
			views := make([]snapshotView, 0, len(list))
			for _, s := range list {
				views = append(views, snapshotView{Height: s.Height, Format: s.Format, Chunks: s.Chunks, Hash: fmt.Sprintf("%X", s.Hash)})
			}
			return printOut(cmd, g, views, func() {
				if len(views) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no snapshots (app.toml [snapshots] interval says when they are taken)")
				}
				for _, v := range views {
					fmt.Fprintf(cmd.OutOrStdout(), "height %d · format %d · %d chunks · hash %s\n", v.Height, v.Format, v.Chunks, v.Hash)
				}
			})
		},
	}
}
