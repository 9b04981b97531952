// Package node assembles a trustledger node from its home directory: the home layout (Home),
// the configuration files and their sections (config.toml is CometBFT's; app.toml and
// trust.toml are ours, each section with defaults and validation), and the node's services,
// each of which can be stopped and started on its own while the process runs.
//
// Services (specs/network.md §5), in start order:
//
//	metrics    the Prometheus endpoint (instrumentation.prometheus_listen_addr)
//	trust      the reputation engine, fed by every commit, and the /trust/* queries
//	consensus  CometBFT: block production and validation, p2p and the RPC server
//	snapshots  state-sync snapshots: taken every [snapshots] interval, served to joiners (needs consensus)
//
// Which start is app.toml's [services] section. A Manager starts them in dependency order,
// records each one's state (running, stopped, failed with its error, since when) and refuses to
// stop a service that a running one needs unless asked to cascade. The control channel is a
// unix socket in the home (mode 0600, no password, no token): `trustd services` talks to it.
// One process holds a home at a time (a lock file beside the socket).
//
// Using it: Open(home, Options{}) takes the home's lock and opens the state; Start starts the
// control socket and the enabled services; Client is an in-process client (package client)
// that follows consensus restarts; Close stops everything and releases the home. Init and Join
// write new homes; WriteTestnet a whole local network; VerifyChain, Reindex, Rollback and
// Reset are the operator commands on a stopped home.
//
// What a new service touches: its constant and place in serviceOrder (services.go), a type
// with Start/Stop (a file of its own), its line in app.toml's [services] (appconfig.go), the
// table above, specs/network.md §5 and the README.
package node
