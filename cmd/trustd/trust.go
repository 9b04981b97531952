package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/reputation"
)

func newTrustCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "trust", Short: "Your own trust scores of other nodes, computed from the public history"}
	cmd.AddCommand(newTrustScoreCmd(g), newTrustTopCmd(g), newTrustPolicyCmd(g), newTrustScoresCmd(g))
	return cmd
}

// localNamer names keys by their local key name when there is one.
func localNamer(g *globals) reputation.Namer {
	names := g.keys().Names()
	return func(k ledger.PubKey) string {
		if n, ok := names[k]; ok {
			return n
		}
		return reputation.ShortName(k)
	}
}

func newTrustScoreCmd(g *globals) *cobra.Command {
	var observer string
	var explain bool
	cmd := &cobra.Command{
		Use:   "score NODE",
		Short: "NODE's score in [0,1] from your viewpoint, with confidence and eligibility",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := node.ObserverKey(g.homeDir(), observer)
			if err != nil {
				return err
			}
			x, err := g.resolve(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ans, err := c.TrustScore(cmd.Context(), o, x)
			if err != nil {
				return err
			}
			name := localNamer(g)
			out := struct {
				api.ScoreAnswer
				Explanation []string `json:"explanation,omitempty"`
			}{ScoreAnswer: ans}
			if explain {
				pol, err := c.TrustPolicy(cmd.Context())
				if err != nil {
					return err
				}
				out.Explanation = reputation.Explain(ans.Score, pol, name, 5)
			}
			return printOut(cmd, g, out, func() {
				w := cmd.OutOrStdout()
				s := ans.Score
				eligible := "eligible"
				if !s.Eligible {
					eligible = "not eligible"
				}
				fmt.Fprintf(w, "%s as seen by %s at height %d\nscore %.4f  confidence %.2f  success rate %.4f  %s, %s\n",
					name(x), name(o), ans.Height, s.Score, s.Confidence, s.Rate, eligible, reputation.StatusText(s))
				for _, line := range out.Explanation {
					fmt.Fprintln(w, "  "+line)
				}
			})
		},
	}
	cmd.Flags().StringVar(&observer, "observer", "", "whose viewpoint (local key name or hex; default: trust.toml's observer, or your only key)")
	cmd.Flags().BoolVar(&explain, "explain", false, "say which events and trust paths produced the score")
	return cmd
}

func newTrustTopCmd(g *globals) *cobra.Command {
	var observer string
	var limit int
	cmd := &cobra.Command{
		Use: "top", Short: "The nodes you trust most", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := node.ObserverKey(g.homeDir(), observer)
			if err != nil {
				return err
			}
			if limit < 1 || limit > api.MaxTopLimit {
				return fmt.Errorf("--limit %d must be between 1 and %d", limit, api.MaxTopLimit)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ans, err := c.TrustTop(cmd.Context(), o, limit)
			if err != nil {
				return err
			}
			return printOut(cmd, g, ans, func() {
				name := localNamer(g)
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintf(w, "RANK\tNODE\tSCORE\tCONFIDENCE\tRATE\tSTATUS\n")
				for i, s := range ans.Scores {
					fmt.Fprintf(w, "%d\t%s\t%.4f\t%.2f\t%.4f\t%s\n", i+1, name(s.Subject), s.Score, s.Confidence, s.Rate, reputation.StatusText(s))
				}
				w.Flush()
				fmt.Fprintf(cmd.OutOrStdout(), "%d of %d nodes, as seen by %s at height %d\n", len(ans.Scores), ans.Total, name(o), ans.Height)
			})
		},
	}
	cmd.Flags().StringVar(&observer, "observer", "", "whose viewpoint (default: trust.toml's observer, or your only key)")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many nodes")
	return cmd
}

func newTrustPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "The trust policy in <home>/config/trust.toml"}
	cmd.AddCommand(&cobra.Command{
		Use: "show", Short: "Print the effective policy (the file over the documented defaults)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tc, err := node.LoadTrustConfig(g.homeDir())
			if err != nil {
				return err
			}
			return printOut(cmd, g, tc.Policy, func() {
				b, _ := json.MarshalIndent(tc.Policy, "", "  ")
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n(from %s over the defaults; see specs/trust.md §6)\n", b, g.homeDir().TrustConfigFile())
			})
		},
	})
	return cmd
}

// newTrustScoresCmd computes scores offline from an export file: no node, no signature checks.
func newTrustScoresCmd(g *globals) *cobra.Command {
	var file string
	var observers []string
	cmd := &cobra.Command{
		Use:   "scores --export FILE --observer ID [--observer ID]...",
		Short: "Compute scores offline from a `trustd export` file (same input, same observers, same policy: same bytes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" || len(observers) == 0 {
				return fmt.Errorf("--export and at least one --observer are required")
			}
			tc, err := node.LoadTrustConfig(g.homeDir())
			if err != nil {
				return err
			}
			e, err := reputation.NewEngine(tc.Policy)
			if err != nil {
				return err
			}
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := readExport(f, e.Apply); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			type observerScores struct {
				Observer ledger.PubKey      `json:"observer"`
				Scores   []reputation.Score `json:"scores"`
			}
			out := struct {
				Height int64            `json:"height"`
				Events uint64           `json:"events"`
				Views  []observerScores `json:"views"`
			}{Height: e.Height(), Events: e.Events()}
			for _, ob := range observers {
				o, err := g.resolve(ob)
				if err != nil {
					return fmt.Errorf("--observer: %w", err)
				}
				scores, err := e.View(o).All()
				if err != nil {
					return err
				}
				out.Views = append(out.Views, observerScores{Observer: o, Scores: scores})
			}
			return printOut(cmd, g, out, func() {
				name := localNamer(g)
				for _, v := range out.Views {
					fmt.Fprintf(cmd.OutOrStdout(), "as seen by %s (%d events to height %d):\n", name(v.Observer), out.Events, out.Height)
					for i, s := range v.Scores {
						fmt.Fprintf(cmd.OutOrStdout(), "  %d. %s %.4f (confidence %.2f) %s\n", i+1, name(s.Subject), s.Score, s.Confidence, s.Status)
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&file, "export", "", "a file written by 'trustd export'")
	cmd.Flags().StringSliceVar(&observers, "observer", nil, "observer (local key name or hex); repeatable")
	return cmd
}

// readExport reads JSON lines of event records, in order, and hands each to apply.
func readExport(r io.Reader, apply func(*ledger.EventRecord) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec ledger.EventRecord
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := apply(&rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return sc.Err()
}
