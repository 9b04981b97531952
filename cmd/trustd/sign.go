package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/ledger"
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
	cmd.AddCommand(newSignAuditAnswerCmd(g), newSignValidatorUpdateCmd(g))
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
		ev, err := build(g.keys())
		if err != nil {
			return err
		}
		b := ev.(ledger.Bilateral)
		priv, err := g.keys().Unlock(from, pp)
		if err != nil {
			return err
		}
		x, y := b.Parties()
		if me := keystore.PubKey(priv); me != x && me != y {
			return fmt.Errorf("key %q (%s) is not a party of this event", from, me)
		}
		chain, err := chainIDFlag(cmd, g, chainID)
		if err != nil {
			return err
		}
		sig := ledger.Countersign(priv, chain, ev)
		return printOut(cmd, g, map[string]string{"countersig": sig.String()}, func() { fmt.Fprintln(cmd.OutOrStdout(), sig) })
	}
	return cmd
}

func newSignAuditAnswerCmd(g *globals) *cobra.Command {
	var from, chainID, contract, challenge, answer string
	var pp keystore.Passphrase
	cmd := &cobra.Command{
		Use:   "audit-answer",
		Short: "Sign your answer to an audit challenge, as a supplier (it can be attached as evidence)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cid, err := parseID("contract-id", contract)
			if err != nil {
				return err
			}
			ch, err := parseID("challenge", challenge)
			if err != nil {
				return err
			}
			ans, err := parseID("answer", answer)
			if err != nil {
				return err
			}
			priv, err := g.keys().Unlock(from, pp)
			if err != nil {
				return err
			}
			chain, err := chainIDFlag(cmd, g, chainID)
			if err != nil {
				return err
			}
			sig := ledger.SignAuditAnswer(priv, chain, cid, ch, ans)
			return printOut(cmd, g, map[string]string{"signature": sig.String()}, func() { fmt.Fprintln(cmd.OutOrStdout(), sig) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "local key of the supplier (required)")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")
	f.StringVar(&contract, "contract-id", "", "contract id (required)")
	f.StringVar(&challenge, "challenge", "", "challenge digest (required)")
	f.StringVar(&answer, "answer", "", "your answer digest (required)")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file")
	return cmd
}
