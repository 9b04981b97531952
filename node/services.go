package node

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Service names (app.toml [services], `trustd services`).
const (
	ServiceMetrics   = "metrics"
	ServiceTrust     = "trust"
	ServiceConsensus = "consensus"
	ServiceSnapshots = "snapshots"
	ServiceP2P       = "p2p"
	ServiceSupplier  = "supplier"
	ServiceCustomer  = "customer"
	ServiceManager   = "supplier-manager"
	ServiceExplorer  = "explorer"
)

// serviceOrder is every service in start order; a service comes after those it requires.
var serviceOrder = []string{ServiceMetrics, ServiceTrust, ServiceConsensus, ServiceSnapshots, ServiceP2P, ServiceSupplier, ServiceCustomer, ServiceManager, ServiceExplorer}

// ServiceNames lists the services in start order.
func ServiceNames() []string { return slices.Clone(serviceOrder) }

func knownService(name string) bool { return slices.Contains(serviceOrder, name) }

// Service is one part of a node that can be started and stopped while the process runs. Start
// returns once the service runs (or with why it cannot); Stop returns once it has released
// everything it held (ports closed, goroutines ended). A service is started again after a Stop.
type Service interface {
	Start(ctx context.Context) error
	Stop() error
}

// State is a service's state.
type State string

const (
	StateStopped  State = "stopped"
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateStopping State = "stopping"
	StateFailed   State = "failed" // its last start or stop failed; Error says why
)

var allStates = []State{StateStopped, StateStarting, StateRunning, StateStopping, StateFailed}

// Status is one service as `trustd services` shows it.
type Status struct {
	Name       string    `json:"name"`
	State      State     `json:"state"`
	Error      string    `json:"error,omitempty"`
	Since      time.Time `json:"since"`
	Requires   []string  `json:"requires,omitempty"`
	RequiredBy []string  `json:"required_by,omitempty"`
	Enabled    bool      `json:"enabled"` // starts with the node (app.toml [services])
	// Off says why a service that app.toml enables does not start with the node: what its
	// configuration lacks (no [p2p] key, no [supplier] space, Prometheus off).
	Off string `json:"off,omitempty"`
}

// Errors of the Manager, for errors.Is.
var (
	ErrUnknownService = errors.New("no such service")
	// ErrNeedsCascade: the change needs other services changed too (stopping one that running
	// services require, or starting one whose requirements are stopped); ask again with cascade.
	ErrNeedsCascade = errors.New("other services depend on this change")
)
