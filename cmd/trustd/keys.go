package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node/keystore"
)

func newKeysCmd(g *globals) *cobra.Command {
	var pp keystore.Passphrase
	cmd := &cobra.Command{Use: "keys", Short: "Manage local node keys (ed25519, encrypted with a local passphrase)"}
	cmd.PersistentFlags().StringVar(&pp.File, "passphrase-file", "", "read the passphrase from this file (else TRUSTD_PASSPHRASE, else a prompt)")

	var recoverHex string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a new key (or import one with --recover-hex)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := keystore.CheckName(args[0]); err != nil {
				return err
			}
			if g.keys().Exists(args[0]) { // before asking for a passphrase
				return fmt.Errorf("a key named %q already exists in %s (see `trustd keys list`)", args[0], g.keys().Dir())
			}
			var priv ed25519.PrivateKey
			if recoverHex != "" {
				seed, err := hex.DecodeString(recoverHex)
				if err != nil || len(seed) != ed25519.SeedSize {
					return fmt.Errorf("--recover-hex must be %d hex-encoded bytes", ed25519.SeedSize)
				}
				priv = ed25519.NewKeyFromSeed(seed)
			} else {
				var err error
				if _, priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
					return err
				}
			}
			pass, err := pp.Get(fmt.Sprintf("New passphrase for key %q: ", args[0]), true)
			if err != nil {
				return err
			}
			if n := len([]rune(pass)); n < keystore.MinPassphrase {
				return fmt.Errorf("the passphrase has %d characters; use at least %d (it is all that protects the key file)", n, keystore.MinPassphrase)
			}
			kf, err := g.keys().Add(args[0], pass, priv)
			if err != nil {
				return err
			}
			return printOut(cmd, g, summary(kf), func() { fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", kf.Name, kf.PublicKey) })
		},
	}
	add.Flags().StringVar(&recoverHex, "recover-hex", "", "import this 32-byte seed instead of generating one")

	list := &cobra.Command{
		Use: "list", Short: "List local keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kfs, err := g.keys().List()
			if err != nil {
				return err
			}
			out := make([]keySummary, len(kfs))
			for i, kf := range kfs {
				out[i] = summary(kf)
			}
			return printOut(cmd, g, out, func() {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tPUBLIC KEY")
				for _, kf := range kfs {
					fmt.Fprintf(w, "%s\t%s\n", kf.Name, kf.PublicKey)
				}
				w.Flush()
			})
		},
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a key's public key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kf, err := g.keys().Load(args[0])
			if err != nil {
				return err
			}
			return printOut(cmd, g, summary(kf), func() { fmt.Fprintln(cmd.OutOrStdout(), kf.PublicKey) })
		},
	}
	var unsafeHex bool
	export := &cobra.Command{
		Use:   "export NAME",
		Short: "Print the encrypted key file (or, with --unsafe-hex, the raw seed after the passphrase)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !unsafeHex {
				if _, err := g.keys().Load(args[0]); err != nil {
					return err
				}
				b, err := os.ReadFile(g.keys().Path(args[0]))
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			priv, err := g.keys().Unlock(args[0], pp)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), hex.EncodeToString(priv.Seed()))
			return nil
		},
	}
	export.Flags().BoolVar(&unsafeHex, "unsafe-hex", false, "print the unencrypted seed (anyone who sees it owns the key)")
	cmd.AddCommand(add, list, show, export)
	return cmd
}

type keySummary struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

func summary(kf *keystore.File) keySummary { return keySummary{Name: kf.Name, PublicKey: kf.PublicKey} }
