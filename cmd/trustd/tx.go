package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

func newTxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Sign a service event, broadcast it and wait until it is committed"}
	for _, spec := range eventSpecs() {
		cmd.AddCommand(newTxKindCmd(g, spec))
	}
	cmd.AddCommand(newTxBatchCmd(g), newTxValidatorUpdateCmd(g))
	return cmd
}

func newTxKindCmd(g *globals, spec eventSpec) *cobra.Command {
	var from, countersig string
	var sequence uint64
	var timeout time.Duration
	var pp passphraseSource
	cmd := &cobra.Command{Use: spec.use, Short: spec.short, Args: cobra.NoArgs}
	f := cmd.Flags()
	build := spec.bind(f)
	f.StringVar(&from, "from", "", "local key that signs the transaction (required)")
	f.StringVar(&pp.file, "passphrase-file", "", "read the passphrase from this file (else TRUSTD_PASSPHRASE, else a prompt)")
	f.Uint64Var(&sequence, "sequence", 0, "signer sequence (default: the next one, asked from the node)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the commit")
	if spec.bilateral {
		f.StringVar(&countersig, "countersig", "", "the other party's countersignature from `trustd sign "+spec.use+"` (hex or @file)")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if from == "" {
			return fmt.Errorf("--from is required")
		}
		ev, err := build(g.home)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		priv, client, params, err := g.signer(cmd, from, pp)
		if err != nil {
			return err
		}
		signer := pub(priv)
		if reg, ok := ev.(*ledger.RegisterNode); ok {
			reg.PowNonce = ledger.SolvePoW(params.ChainID, signer, int(params.Params.PowDifficulty))
		}
		if b, ok := ev.(ledger.Bilateral); ok && countersig != "" {
			sig, err := readSigArg("countersig", countersig)
			if err != nil {
				return err
			}
			b.SetCountersignature(sig)
		}
		res, err := submit(ctx, client, params.ChainID, priv, sequence, timeout, ev)
		if err != nil {
			return err
		}
		return printOut(cmd, g, res, func() {
			fmt.Fprintf(cmd.OutOrStdout(), "committed %s at height %d (tx %s)\n", ev.Kind(), res.Height, res.TxHash)
		})
	}
	return cmd
}

// submit signs events into one transaction at the signer's next sequence and broadcasts it.
func submit(ctx context.Context, client *rpc, chainID string, priv privKey, sequence uint64, timeout time.Duration, evs ...ledger.Event) (*broadcastResult, error) {
	signer := pub(priv)
	if sequence == 0 {
		var err error
		if sequence, err = client.nextSequence(ctx, signer); err != nil {
			return nil, err
		}
	}
	tx := &ledger.Tx{ChainID: chainID, Sequence: sequence, Events: evs}
	tx.Sign(priv)
	return client.broadcast(ctx, tx.Encode(), timeout)
}

// signer unlocks the submitting key and connects to the node: what every `trustd tx` needs before
// it can build and sign a transaction.
func (g *globals) signer(cmd *cobra.Command, from string, pp passphraseSource) (privKey, *rpc, api.ParamsView, error) {
	priv, err := unlock(g.home, from, pp)
	if err != nil {
		return nil, nil, api.ParamsView{}, err
	}
	client, err := g.client()
	if err != nil {
		return nil, nil, api.ParamsView{}, err
	}
	params, err := client.params(cmd.Context())
	if err != nil {
		return nil, nil, api.ParamsView{}, err
	}
	return priv, client, params, nil
}
