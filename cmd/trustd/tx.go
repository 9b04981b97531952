package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
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
	var pp keystore.Passphrase
	cmd := &cobra.Command{Use: spec.use, Short: spec.short, Args: cobra.NoArgs}
	f := cmd.Flags()
	build := spec.bind(f)
	f.StringVar(&from, "from", "", "local key that signs the transaction (required)")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file (else TRUSTD_PASSPHRASE, else a prompt)")
	f.Uint64Var(&sequence, "sequence", 0, "signer sequence (default: the next one, asked from the node)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the commit")
	if spec.bilateral {
		f.StringVar(&countersig, "countersig", "", "the other party's countersignature from 'trustd sign "+spec.use+"' (hex or @file)")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if from == "" {
			return fmt.Errorf("--from is required")
		}
		priv, c, params, err := g.signer(cmd, from, pp)
		if err != nil {
			return err
		}
		ev, err := build(g.keys(), params.ChainID)
		if err != nil {
			return err
		}
		if reg, ok := ev.(*ledger.RegisterNode); ok {
			me := keystore.PubKey(priv)
			switch want := ledger.PeerIDOf(me); reg.PeerID {
			case "":
				reg.PeerID = want
			case want:
			default:
				return fmt.Errorf("--peer-id %s is not the libp2p peer id of key %q, %s: a node's peer id is its key's (R-REG-3); leave --peer-id out", reg.PeerID, from, want)
			}
			reg.PowNonce = ledger.SolvePoW(params.ChainID, me, int(params.Params.PowDifficulty))
		}
		if a, ok := ev.(*ledger.AuditResult); ok && a.Number == 0 {
			// The next audit number of the contract; of a contract never opened, 1 (the ledger
			// then refuses the audit, with its code).
			a.Number = 1
			switch cv, err := c.Contract(cmd.Context(), a.ContractID); {
			case err == nil:
				a.Number = cv.Receipts["audits"].Next
			case !errors.Is(err, api.ErrNotFound):
				return fmt.Errorf("the next audit number of contract %s: %w", a.ContractID, err)
			}
		}
		if b, ok := ev.(ledger.Bilateral); ok && countersig != "" {
			sig, err := readSigArg("countersig", countersig)
			if err != nil {
				return err
			}
			b.SetCountersignature(sig)
		}
		res, err := submit(cmd.Context(), c, params.ChainID, priv, sequence, timeout, ev)
		if err != nil {
			return err
		}
		return printOut(cmd, g, res, func() {
			fmt.Fprintf(cmd.OutOrStdout(), "committed %s at height %d (tx %s)\n", ev.Kind(), res.Height, res.TxHash)
		})
	}
	return cmd
}

// submitResult is what `trustd tx` prints.
type submitResult struct {
	TxHash string `json:"tx_hash"`
	Height int64  `json:"height"`
	Events int    `json:"events"`
}

// submit signs events into one transaction at the signer's next sequence (or at sequence, if
// not 0), broadcasts it and waits until it is committed or timeout passes.
func submit(ctx context.Context, c *client.Client, chainID string, priv ed25519.PrivateKey, sequence uint64, timeout time.Duration, evs ...ledger.Event) (*submitResult, error) {
	s, err := client.NewSubmitter(client.SubmitterConfig{ChainID: chainID, Key: priv, Endpoints: []*client.Client{c}, CommitTimeout: timeout})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if sequence > 0 {
		s.StartAt(sequence)
	}
	p, commit, err := s.SubmitAndWait(ctx, evs...)
	if err != nil {
		return nil, err
	}
	return &submitResult{TxHash: p.Hash.String(), Height: commit.Height, Events: p.Events}, nil
}

// signer unlocks the submitting key and connects to the node: what every `trustd tx` needs before
// it can build and sign a transaction.
func (g *globals) signer(cmd *cobra.Command, from string, pp keystore.Passphrase) (ed25519.PrivateKey, *client.Client, api.ParamsView, error) {
	priv, err := g.keys().Unlock(from, pp)
	if err != nil {
		return nil, nil, api.ParamsView{}, err
	}
	c, params, err := g.params(cmd.Context())
	if err != nil {
		return nil, nil, api.ParamsView{}, err
	}
	return priv, c, params, nil
}
