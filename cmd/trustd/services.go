package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trustledger/trustledger/node"
)

func newServicesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "services",
		Short: "List the running node's services, and stop, start or restart one (through its local control socket)",
		Long: "List the services of the node running on --home: state (running, stopped, failed and why), since when,\n" +
			"what each requires and is required by, and whether it starts with the node (app.toml [services]).\n" +
			"The control channel is the unix socket <home>/trustd.sock (mode 0600): only this home's owner reaches it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listServices(cmd, g) },
	}
	cmd.AddCommand(&cobra.Command{Use: "list", Short: "List the services (the default)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listServices(cmd, g) }})
	for _, a := range []struct{ action, short string }{
		{"stop", "Stop a service; --cascade also stops the running services that require it (first)"},
		{"start", "Start a service; --cascade also starts the services it requires (first)"},
		{"restart", "Stop and start a service; --cascade restarts the running services that require it too"},
	} {
		var cascade bool
		c := &cobra.Command{Use: a.action + " NAME", Short: a.short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return changeService(cmd, g, a.action, args[0], cascade)
			}}
		c.Flags().BoolVar(&cascade, "cascade", false, "change the services that depend on this change too")
		cmd.AddCommand(c)
	}
	for _, a := range []struct {
		action string
		on     bool
	}{{"enable", true}, {"disable", false}} {
		var now, cascade bool
		c := &cobra.Command{Use: a.action + " NAME", Args: cobra.ExactArgs(1),
			Short: fmt.Sprintf("Make a service %s with the node (app.toml [services]); --now also %s it in the running node", map[bool]string{true: "start", false: "not start"}[a.on], map[bool]string{true: "starts", false: "stops"}[a.on]),
			RunE: func(cmd *cobra.Command, args []string) error {
				// A running node records the change itself (one writer of app.toml while it runs).
				ans, err := node.DialControl(g.homeDir()).Change(cmd.Context(), a.action, args[0], cascade, now)
				if errors.Is(err, node.ErrNotRunning) {
					if err := node.SetServiceEnabled(g.homeDir(), args[0], a.on); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %sd in %s (no node is running: it takes effect at the next start)\n", args[0], a.action, g.homeDir().AppConfigFile())
					return nil
				}
				if err != nil {
					return err
				}
				return printOut(cmd, g, ans, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %sd in %s\n", args[0], a.action, g.homeDir().AppConfigFile())
					if len(ans.Changed) > 0 {
						fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", map[bool]string{true: "started", false: "stopped"}[a.on], strings.Join(ans.Changed, ", "))
					}
					printServices(cmd, ans.Services)
				})
			}}
		c.Flags().BoolVar(&now, "now", false, "also start (enable) or stop (disable) it in the running node")
		c.Flags().BoolVar(&cascade, "cascade", false, "with --now: change the services that depend on this change too")
		cmd.AddCommand(c)
	}
	return cmd
}

func listServices(cmd *cobra.Command, g *globals) error {
	ans, err := node.DialControl(g.homeDir()).Services(cmd.Context())
	if errors.Is(err, node.ErrNotRunning) {
		return listConfiguredServices(cmd, g, err)
	}
	if err != nil {
		return err
	}
	return printOut(cmd, g, ans, func() { printServices(cmd, ans.Services) })
}

// listConfiguredServices is what `trustd services` says when no node runs: what would start.
func listConfiguredServices(cmd *cobra.Command, g *globals, notRunning error) error {
	conf, err := node.LoadAppConfig(g.homeDir())
	if err != nil {
		return err
	}
	var list []node.Status
	for _, name := range node.ServiceNames() {
		list = append(list, node.Status{Name: name, State: "not running", Enabled: conf.ServiceEnabled(name)})
	}
	return printOut(cmd, g, struct {
		Running  bool          `json:"running"`
		Services []node.Status `json:"services"`
	}{false, list}, func() {
		fmt.Fprintf(cmd.OutOrStdout(), "%v\n", notRunning)
		printServices(cmd, list)
	})
}

func printServices(cmd *cobra.Command, list []node.Status) {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tSTATE\tSINCE\tREQUIRES\tREQUIRED BY\tAT START")
	for _, s := range list {
		since := "-"
		if !s.Since.IsZero() {
			since = s.Since.UTC().Format(time.RFC3339)
		}
		state := string(s.State)
		if s.Error != "" {
			state += ": " + s.Error
		}
		at := "enabled"
		switch {
		case s.Off != "":
			at = "off: " + s.Off
		case !s.Enabled:
			at = "disabled"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, state, since, dash(s.Requires), dash(s.RequiredBy), at)
	}
	w.Flush()
}

func dash(list []string) string {
	if len(list) == 0 {
		return "-"
	}
	return strings.Join(list, ",")
}

func changeService(cmd *cobra.Command, g *globals, action, name string, cascade bool) error {
	ans, err := node.DialControl(g.homeDir()).Change(cmd.Context(), action, name, cascade, false)
	if err != nil {
		return err
	}
	return printOut(cmd, g, ans, func() {
		past := map[string]string{"start": "started", "stop": "stopped", "restart": "started"}[action]
		if len(ans.Changed) == 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "%s: nothing to do (already %s)\n", name, past)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", past, strings.Join(ans.Changed, ", "))
		}
		printServices(cmd, ans.Services)
	})
}
