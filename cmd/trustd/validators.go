package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cometbft/cometbft/privval"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
)

// parseValidatorKey reads an ed25519 validator key as 64 hex digits or as the base64 value that
// `trustd show-validator` prints.
func parseValidatorKey(s string) (ledger.PubKey, error) {
	if k, err := ledger.ParsePubKey(s); err == nil {
		return k, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return ledger.PubKey{}, fmt.Errorf("validator key %q is neither 64 hex digits nor a base64 ed25519 key", s)
	}
	var k ledger.PubKey
	copy(k[:], b)
	return k, nil
}

type validatorUpdateFlags struct{ proposal, validator, power string }

func bindValidatorUpdate(f *pflag.FlagSet) *validatorUpdateFlags {
	v := &validatorUpdateFlags{}
	f.StringVar(&v.proposal, "proposal-id", "", "proposal id: 64 hex digits or text (hashed), used once (required)")
	f.StringVar(&v.validator, "validator", "", "the validator's consensus key: hex, or the base64 value of 'trustd show-validator' (required)")
	f.StringVar(&v.power, "power", "", "new voting power; 0 removes the validator (required)")
	return v
}

func (v *validatorUpdateFlags) build() (*ledger.ValidatorUpdate, error) {
	id, err := parseID("proposal-id", v.proposal)
	if err != nil {
		return nil, err
	}
	k, err := parseValidatorKey(v.validator)
	if err != nil {
		return nil, fmt.Errorf("--validator: %w", err)
	}
	p, err := strconv.ParseUint(v.power, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("--power %q: %w", v.power, err)
	}
	return &ledger.ValidatorUpdate{ProposalID: id, Validator: k, Power: p}, nil
}

// newSignValidatorUpdateCmd approves a validator update with this node's consensus key
// (config/priv_validator_key.json); it prints "key:signature" for `trustd tx validator-update`.
func newSignValidatorUpdateCmd(g *globals) *cobra.Command {
	var chainID string
	cmd := &cobra.Command{Use: "validator-update", Short: "Approve a validator update with this node's validator key", Args: cobra.NoArgs}
	v := bindValidatorUpdate(cmd.Flags())
	cmd.Flags().StringVar(&chainID, "chain-id", "", "chain id (default: asked from the node)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		u, err := v.build()
		if err != nil {
			return err
		}
		c, err := node.LoadConfig(g.homeDir())
		if err != nil {
			return err
		}
		if _, err := os.Stat(c.PrivValidatorKeyFile()); err != nil {
			return fmt.Errorf("no validator key in %s: %w", g.home, err)
		}
		pv := privval.LoadFilePVEmptyState(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
		chain, err := chainIDFlag(cmd, g, chainID)
		if err != nil {
			return err
		}
		sig, err := pv.Key.PrivKey.Sign(ledger.ValidatorUpdateBytes(chain, u))
		if err != nil {
			return err
		}
		var k ledger.PubKey
		copy(k[:], pv.Key.PubKey.Bytes())
		fmt.Fprintf(cmd.OutOrStdout(), "%s:%x\n", k, sig)
		return nil
	}
	return cmd
}

// newTxValidatorUpdateCmd submits a validator update with the collected approvals.
func newTxValidatorUpdateCmd(g *globals) *cobra.Command {
	var from string
	var approvals []string
	var pp keystore.Passphrase
	var timeout time.Duration
	cmd := &cobra.Command{Use: "validator-update", Short: "Change a validator's power, with approvals from more than 2/3 of the voting power", Args: cobra.NoArgs}
	v := bindValidatorUpdate(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "local key that signs the transaction (any registered node) (required)")
	f.StringSliceVar(&approvals, "approval", nil, "an approval from 'trustd sign validator-update' (key:signature); repeatable")
	f.StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the commit")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		u, err := v.build()
		if err != nil {
			return err
		}
		for _, a := range approvals {
			k, s, ok := strings.Cut(a, ":")
			if !ok {
				return fmt.Errorf("--approval %q: want key:signature", a)
			}
			key, err := ledger.ParsePubKey(k)
			if err != nil {
				return fmt.Errorf("--approval: %w", err)
			}
			sig, err := ledger.ParseSig(s)
			if err != nil {
				return fmt.Errorf("--approval: %w", err)
			}
			u.Approvals = append(u.Approvals, ledger.Approval{Validator: key, Sig: sig})
		}
		if from == "" {
			return fmt.Errorf("--from is required")
		}
		priv, c, params, err := g.signer(cmd, from, pp)
		if err != nil {
			return err
		}
		res, err := submit(cmd.Context(), c, params.ChainID, priv, 0, timeout, u)
		if err != nil {
			return err
		}
		return printOut(cmd, g, res, func() {
			fmt.Fprintf(cmd.OutOrStdout(), "committed validator_update at height %d (tx %s); CometBFT applies it two blocks later\n", res.Height, res.TxHash)
		})
	}
	return cmd
}
