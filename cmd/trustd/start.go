package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
)

func newStartCmd(g *globals) *cobra.Command {
	var initIfMissing bool
	var logLevel string
	var pp keystore.Passphrase
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node in the foreground: its services (consensus and RPC, trust, snapshots, metrics)",
		Long: "Run the node in the foreground until interrupted (Ctrl-C or SIGTERM stops it cleanly).\n" +
			"Which services start is app.toml's [services]; `trustd services` changes them while it runs.\n" +
			"With --init, a missing home is first initialised as a single-validator chain.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if initIfMissing {
				if _, err := node.Init(g.homeDir(), node.DefaultInitOptions()); err != nil {
					return err
				}
			}
			o := node.Options{LogLevel: logLevel}
			key, err := p2pKey(g.homeDir(), pp)
			if err != nil {
				return err
			}
			o.P2PKey = key
			if hook := os.Getenv("TRUSTD_TEST_CRASH_BEFORE_COMMIT"); hook != "" {
				at, err := strconv.ParseInt(hook, 10, 64)
				if err != nil {
					return fmt.Errorf("TRUSTD_TEST_CRASH_BEFORE_COMMIT=%q is not a height", hook)
				}
				o.CrashBeforeCommit = at
			}
			n, err := node.Open(g.homeDir(), o)
			if err != nil {
				return err
			}
			startErr := n.Start(cmd.Context())
			printStarted(n, startErr)
			<-cmd.Context().Done()
			fmt.Fprintln(os.Stderr, "trustd: stopping")
			return n.Close()
		},
	}
	cmd.Flags().BoolVar(&initIfMissing, "init", false, "initialise a single-validator home first if there is none")
	cmd.Flags().StringVar(&pp.File, "passphrase-file", "", "read the passphrase of app.toml's [p2p] key from this file (else TRUSTD_PASSPHRASE, else a prompt)")
	cmd.Flags().StringVar(&logLevel, "log-level", "", "log level, as config.toml's log_level: info shows CometBFT's every step (default: the config's, quiet for new homes: "+node.DefaultLogLevel+")")
	return cmd
}

// p2pKey unlocks app.toml's [p2p] key when the p2p service is to run; nil when there is none.
func p2pKey(home node.Home, pp keystore.Passphrase) (ed25519.PrivateKey, error) {
	ac, err := node.LoadAppConfig(home)
	if err != nil || ac.P2P.Key == "" || !ac.ServiceEnabled(node.ServiceP2P) {
		return nil, err // a bad app.toml is reported by node.Open with the rest
	}
	priv, err := keystore.New(home.KeysDir()).Unlock(ac.P2P.Key, pp)
	if err != nil {
		return nil, fmt.Errorf("app.toml [p2p] key %q: %w", ac.P2P.Key, err)
	}
	return priv, nil
}

// printStarted says on standard error where the node listens and what runs.
func printStarted(n *node.Node, startErr error) {
	c := n.Config()
	metrics := "off"
	if n.Services().Running(node.ServiceMetrics) {
		metrics = "http://" + c.Instrumentation.PrometheusListenAddr + "/metrics"
	}
	fmt.Fprintf(os.Stderr, "trustd: rpc %s · p2p %s · metrics %s · home %s\n", c.RPC.ListenAddress, c.P2P.ListenAddress, metrics, n.Home())
	if h := n.P2P(); h != nil {
		fmt.Fprintf(os.Stderr, "trustd: libp2p host %s at %v\n", h.ID(), h.Addrs())
	}
	if u := n.ExplorerURL(); u != "" {
		fmt.Fprintf(os.Stderr, "trustd: explorer %s\n", u)
	}
	line := "trustd: services"
	var off []string
	for _, s := range n.Services().Statuses() {
		line += fmt.Sprintf(" · %s %s", s.Name, s.State)
		if s.Off != "" && s.State != node.StateRunning {
			off = append(off, fmt.Sprintf("%s is off: %s", s.Name, s.Off))
		}
	}
	if len(off) > 0 {
		line += "\ntrustd: " + strings.Join(off, "; ")
	}
	fmt.Fprintf(os.Stderr, "%s\n", line)
	fmt.Fprintf(os.Stderr, "trustd: try: trustd status · trustd services · trustd keys add NAME (each with --home %s); Ctrl-C stops the node\n", n.Home())
	if startErr != nil {
		for _, l := range strings.Split(startErr.Error(), "\n") {
			fmt.Fprintf(os.Stderr, "trustd: %s\n", l)
		}
		fmt.Fprintln(os.Stderr, "trustd: the other services run; `trustd services start NAME` tries again")
	}
}
