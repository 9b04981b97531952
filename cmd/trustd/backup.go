package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trustledger/trustledger/node"
)

func newBackupCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Back up files on other nodes, encrypted and erasure-coded, and get them back (the running node's customer service)",
		Long: "Files are encrypted on this device with a key derived from the node's key, cut into stripes of\n" +
			"[customer] data_shards + parity_shards shards, one per supplier, so that any parity_shards suppliers\n" +
			"may vanish with nothing lost. Suppliers are hired among registered nodes by this node's own trust\n" +
			"view. The index of files (names, sizes, where the shards are) is itself sealed and kept on the\n" +
			"suppliers: with only the key file, `trustd backup restore` brings everything back.\n" +
			"These commands talk to the node running on --home through its control socket.",
	}
	var dir string
	restore := &cobra.Command{
		Use:   "restore [DIR]",
		Short: "Find this key's index on its suppliers (from the ledger's contracts) and, with DIR, write every file under it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				dir = args[0]
			}
			bar := newBar(cmd, g, "restore")
			res, err := node.DialControl(g.homeDir()).Restore(cmd.Context(), dir, bar.tell)
			bar.finish()
			if err != nil {
				return err
			}
			return printOut(cmd, g, res, func() {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "index version %d: %d files\n", res.IndexVersion, len(res.Files))
				for _, p := range res.Written {
					fmt.Fprintf(w, "wrote %s\n", p)
				}
			})
		},
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "put PATH...",
			Short: "Back up files, or directories and every file in them",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				bar := newBar(cmd, g, "put")
				res, err := node.DialControl(g.homeDir()).Put(cmd.Context(), args, bar.tell)
				bar.finish()
				if err != nil {
					if len(res.Files) > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "%d files were stored before the error:\n", len(res.Files))
						printFiles(cmd.ErrOrStderr(), res.Files)
					}
					return err
				}
				return printOut(cmd, g, res, func() {
					w := cmd.OutOrStdout()
					var total uint64
					for _, f := range res.Files {
						total += f.Size
					}
					fmt.Fprintf(w, "stored %d files, %s, in %.1fs", len(res.Files), humanize.IBytes(total), res.Seconds)
					if len(res.Hired) > 0 {
						fmt.Fprintf(w, " (%d suppliers hired)", len(res.Hired))
					}
					fmt.Fprintln(w)
					printFiles(w, res.Files)
				})
			},
		},
		&cobra.Command{
			Use:   "ls",
			Short: "List the backed-up files",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				files, err := node.DialControl(g.homeDir()).List(cmd.Context())
				if err != nil {
					return err
				}
				return printOut(cmd, g, files, func() { printFiles(cmd.OutOrStdout(), files) })
			},
		},
		&cobra.Command{
			Use:   "get ID OUT",
			Short: "Write a backed-up file (ID or a prefix of it, from `backup ls`) to OUT, or into the directory OUT, verified",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				bar := newBar(cmd, g, "get")
				path, err := node.DialControl(g.homeDir()).Get(cmd.Context(), args[0], args[1], bar.tell)
				bar.finish()
				if err != nil {
					return err
				}
				return printOut(cmd, g, map[string]string{"written": path}, func() { fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path) })
			},
		},
		&cobra.Command{
			Use:   "rm ID",
			Short: "Delete a backed-up file from its suppliers and the index",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				res, err := node.DialControl(g.homeDir()).Remove(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printOut(cmd, g, res, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%s)\n", idPrefix(res.File.ID), res.File.Name)
					for _, l := range res.Left {
						fmt.Fprintf(cmd.OutOrStdout(), "  not confirmed deleted: %s\n", l)
					}
				})
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "Each file's health and each supplier's: shards held as committed, reachability, last audit",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				st, err := node.DialControl(g.homeDir()).Status(cmd.Context())
				if err != nil {
					return err
				}
				return printOut(cmd, g, st, func() { printStatus(cmd.OutOrStdout(), st) })
			},
		},
		&cobra.Command{
			Use:   "audit",
			Short: "Audit every supplier now on a random shard it holds, and submit the results to the ledger",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				res, err := node.DialControl(g.homeDir()).Audit(cmd.Context())
				if err != nil {
					return err
				}
				return printOut(cmd, g, res, func() {
					w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "SUPPLIER\tCONTRACT\tNUMBER\tRESULT")
					for _, a := range res.Audits {
						result := "passed"
						if !a.Passed {
							result = "FAILED: " + a.Why
						}
						fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", short(a.Supplier), short(a.Contract), a.Number, result)
					}
					w.Flush()
					if res.Height > 0 {
						fmt.Fprintf(cmd.OutOrStdout(), "committed at height %d\n", res.Height)
					}
				})
			},
		},
		restore,
	)
	return cmd
}

// idPrefix is enough of a file id to name it in `backup get` and `rm`.
func idPrefix(id string) string { return id[:min(16, len(id))] }

func printFiles(out io.Writer, files []node.BackupFile) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSIZE\tSTORED\tSHAPE\tNAME")
	for _, f := range files {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d+%d\t%s\n", idPrefix(f.ID), humanize.IBytes(f.Size), f.Stored.Local().Format(time.DateTime), f.K, f.M, f.Name)
	}
	w.Flush()
}

func printStatus(out io.Writer, st node.BackupStatus) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tHEALTH\tWEAKEST STRIPE\tSIZE\tNAME")
	for _, f := range st.Files {
		fmt.Fprintf(w, "%s\t%s\t%d of %d shards\t%s\t%s\n", idPrefix(f.ID), f.Health, f.Weakest, f.K+f.M, humanize.IBytes(f.Size), f.Name)
	}
	w.Flush()
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SUPPLIER\tCONTRACT\tREACHABLE\tSHARDS HELD\tBYTES\tLAST AUDIT\tALL AUDITED SINCE")
	var why, stray []string
	for _, s := range st.Suppliers {
		reach := "yes"
		if !s.Reachable {
			reach = "no"
			why = append(why, fmt.Sprintf("%s: %s", short(s.Supplier), strings.SplitN(s.Error, "\n", 2)[0]))
		}
		audit := "never"
		if a := s.LastAudit; a != nil {
			audit = fmt.Sprintf("%d %s at height %d (%s)", a.Number, map[bool]string{true: "passed", false: "FAILED"}[a.Passed], a.Height, a.Time.Local().Format(time.DateTime))
		}
		since := "-"
		if s.AllAuditedSince != nil {
			since = s.AllAuditedSince.Local().Format(time.DateTime)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d of %d\t%s\t%s\t%s\n", short(s.Supplier), short(s.Contract), reach, s.Held, s.Shards, humanize.IBytes(s.Bytes), audit, since)
		if s.Unaccounted > 0 {
			stray = append(stray, fmt.Sprintf("%s: %d shards the catalogue does not reference (left by an interrupted operation)", short(s.Supplier), s.Unaccounted))
		}
	}
	w.Flush()
	if len(why) > 0 {
		fmt.Fprintln(out, "\nunreachable:")
		for _, l := range why {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	if len(stray) > 0 {
		fmt.Fprintln(out, "\nunaccounted:")
		for _, l := range stray {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
}

// bar is a progress bar on a terminal's standard error (bytes, rate and time left), or nothing
// when standard error is not a terminal or the output is JSON.
type bar struct {
	pb   *progressbar.ProgressBar
	desc string
}

func newBar(cmd *cobra.Command, g *globals, desc string) *bar {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || g.output == "json" || !term.IsTerminal(int(f.Fd())) {
		return &bar{}
	}
	return &bar{desc: desc, pb: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(f) }),
	)}
}

func (b *bar) tell(p node.BackupProgress) {
	if b.pb == nil {
		return
	}
	if int64(p.Total) != b.pb.GetMax64() {
		b.pb.ChangeMax64(int64(p.Total))
	}
	if p.File != "" {
		b.pb.Describe(fmt.Sprintf("%s %s", b.desc, strings.TrimSpace(p.File)))
	}
	_ = b.pb.Set64(int64(p.Done))
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Exit()
	}
}
