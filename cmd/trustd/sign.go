package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/node/keystore"
)

// newSignCmd builds `trustd sign`: the other party's step of a bilateral event. It prints the
// countersignature that the submitter passes to `trustd tx KIND --countersig`.
func newSignCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sign", Short: "Countersign a bilateral event (offline), or sign an audit answer"}
	for _, spec := range eventSpecs() {
		if !spec.bilateral {
			continue
		}
		cmd.AddCommand(newSignKindCmd(g, spec))
	}
	cmd.AddCommand(newSignCommitmentCmd(g), newSignAuditAnswerCmd(g), newSignValidatorUpdateCmd(g))
	return cmd
}

func chainIDFlag(cmd *cobra.Command, g *globals, chainID string) (string, error) {
	if chainID != "" {
		return chainID, nil
	}
	if _, p, err := g.params(cmd.Context()); err == nil {
		return p.ChainID, nil
	}
	return "", fmt.Errorf("--chain-id is required when no node is reachable")
}

func newSignKindCmd(g *globals, spec eventSpec) *cobra.Command {
	var from, chainID string
	var pp keystore.Passphrase
	cmd := &cobra.Command{Use: spec.use, Short: "Countersign: " + spec.short, Args: cobra.NoArgs}
	f := cmd.Flags()
	build := spec.bind(f)
	f.StringVar(&from, "from", "", "local key of the countersigning party (required)")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file (else TRUSTD_PASSPHRASE, else a prompt)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if from == "" {
			return fmt.Errorf("--from is required")
		}
		chain, err := chainIDFlag(cmd, g, chainID)
		if err != nil {
			return err
		}
		ev, err := build(g.keys(), chain)
		if err != nil {
			return err
		}
		b := ev.(ledger.Bilateral)
		priv, err := g.keys().Unlock(from, pp)
		if err != nil {
			return err
		}
		x, y := b.Parties()
		me := keystore.PubKey(priv)
		if me != x && me != y {
			return fmt.Errorf("key %q (%s) is not a party of this event", from, me)
		}
		// A countersigned receipt can become double-sign evidence against its signer: journal it
		// first, and never sign another receipt under the same number (R-EVID-3).
		if st, err := journal.Receipt(chain, ev); err == nil {
			if err := g.journal().Record(me, st); err != nil {
				return err
			}
			testExitAfterJournal()
		}
		sig := ledger.Countersign(priv, chain, ev)
		return printOut(cmd, g, map[string]string{"countersig": sig.String()}, func() { fmt.Fprintln(cmd.OutOrStdout(), sig) })
	}
	return cmd
}
