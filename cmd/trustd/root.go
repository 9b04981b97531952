package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
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
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "node and key directory (env TRUSTD_HOME)")
	pf.StringVar(&g.node, "node", envOr("TRUSTD_NODE", ""), "RPC address of the node (default: the rpc.laddr of --home's config, else tcp://127.0.0.1:26657; env TRUSTD_NODE)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.AddCommand(
		newInitCmd(g),
		newStartCmd(g),
		newKeysCmd(g),
		newTxCmd(g),
		newSignCmd(g),
		newQueryCmd(g),
		newStatusCmd(g),
		newTrustCmd(g),
		newExportCmd(g),
		newTestnetCmd(),
		newShowNodeIDCmd(g),
		newShowValidatorCmd(g),
		newResetCmd(g),
		newRollbackCmd(g),
		newVerifyCmd(g),
		newReindexCmd(g),
		newSnapshotsCmd(g),
		newVersionCmd(),
	)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// splitList splits a comma-separated flag value, trimming spaces and dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
