package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/client"
)

// proveFlags are the flags of a query that can be proved.
type proveFlags struct {
	prove bool
	opts  client.VerifyOptions
}

func bindProve(cmd *cobra.Command, p *proveFlags) {
	f := cmd.Flags()
	f.BoolVar(&p.prove, "prove", false, "verify the answer: ICS23 proof against the app hash of a header checked by CometBFT's light client")
	f.Int64Var(&p.opts.TrustHeight, "trust-height", 0, "with --prove: height of a header you trust (default: height 1, trusted on first use)")
	f.StringVar(&p.opts.TrustHash, "trust-hash", "", "with --prove: hex hash of the header at --trust-height")
	f.StringSliceVar(&p.opts.Witnesses, "witness", nil, "with --prove: other nodes' RPC addresses to cross-check headers (default: the queried node)")
}

// verifier starts a light client for the proved read of one command; close it after.
func (p *proveFlags) verifier(cmd *cobra.Command, g *globals, c *client.Client) (*client.Verifier, error) {
	if p.opts.TrustHeight > 0 && p.opts.TrustHash == "" {
		return nil, fmt.Errorf("--trust-height needs --trust-hash")
	}
	o := p.opts
	o.Dir = g.homeDir().LightDir()
	return client.NewVerifier(cmd.Context(), c, o)
}

// printVerification says what a proved answer was checked against (nothing for an unproved one).
func printVerification(w io.Writer, v *client.Verification) {
	if v == nil {
		return
	}
	if v.Note != "" {
		fmt.Fprintln(w, v.Note)
	}
	fmt.Fprintf(w, "verified: state at height %d against app hash %s in light-client-verified header %d\n", v.Height, v.AppHash, v.Header)
}
