package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
)

// globals are the flags every command shares. They live in a struct built per root command, not
// in package variables.
type globals struct {
	home   string
	node   string // RPC address of the node to talk to
	output string // "text" or "json"
}

func defaultHome() string {
	if h := os.Getenv("TRUSTD_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".trustd")
	}
	return ".trustd"
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "trustd",
		Short:         "trustledger node and client: a public, BFT-replicated ledger of storage service events",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = readBuildVersion().String()
	root.SetVersionTemplate("{{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node and key directory (env TRUSTD_HOME)")
	pf.StringVar(&g.node, "node", envOr("TRUSTD_NODE", ""), "RPC address of the node (default: the rpc.laddr of --home's config, else tcp://127.0.0.1:26657; env TRUSTD_NODE)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.AddCommand(
		newInitCmd(g),
		newStartCmd(g),
		newServicesCmd(g),
		newKeysCmd(g),
		newTxCmd(g),
		newSignCmd(g),
		newQueryCmd(g),
		newStatusCmd(g),
		newTrustCmd(g),
		newAuditCmd(g),
		newBackupCmd(g),
		newSupplierCmd(g),
		newSuppliersCmd(g),
		newExportCmd(g),
		newTestnetCmd(),
		newShowNodeIDCmd(g),
		newShowValidatorCmd(g),
		newResetCmd(g),
		newRollbackCmd(g),
		newVerifyCmd(g),
		newReindexCmd(g),
		newSnapshotsCmd(g),
		newVersionCmd(g),
	)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// homeDir is --home as a node home.
func (g *globals) homeDir() node.Home { return node.Home(g.home) }

// keys is the home's key store.
func (g *globals) keys() keystore.Store { return keystore.New(g.homeDir().KeysDir()) }

// resolve reads a node given as a local key name or 64 hex digits.
func (g *globals) resolve(s string) (ledger.PubKey, error) { return g.keys().Resolve(s) }

func (g *globals) rpcAddr() string {
	if g.node != "" {
		return g.node
	}
	if c, err := node.LoadConfig(g.homeDir()); err == nil {
		return c.RPC.ListenAddress
	}
	return "tcp://127.0.0.1:26657"
}

// client is a client of the node at --node (or the home's RPC address).
func (g *globals) client() (*client.Client, error) {
	return client.Dial(g.rpcAddr(), client.DefaultTimeout)
}

// params connects and asks the chain's id and parameters.
func (g *globals) params(ctx context.Context) (*client.Client, api.ParamsView, error) {
	c, err := g.client()
	if err != nil {
		return nil, api.ParamsView{}, err
	}
	p, err := c.Params(ctx)
	return c, p, err
}

// printOut prints v as JSON with --output json, else calls text.
func printOut(cmd *cobra.Command, g *globals, v any, text func()) error {
	switch g.output {
	case "json":
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "text", "":
		text()
		return nil
	}
	return fmt.Errorf("--output %q: want text or json", g.output)
}
