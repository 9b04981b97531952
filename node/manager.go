package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type entry struct {
	name     string
	svc      Service
	requires []string
	enabled  bool
	state    State
	err      string
	since    time.Time
	started  bool // Start succeeded and Stop was not called: it holds resources, even if failed since
	off      string
}

// Manager runs a node's services in dependency order. Changes are serialised; Statuses may be
// read while one is in progress (a stop of consensus takes seconds) and show it.
type Manager struct {
	ops    sync.Mutex // one start/stop/restart at a time
	mu     sync.Mutex // guards the entries' state
	order  []*entry
	byName map[string]*entry
	gauge  *prometheus.GaugeVec
	clock  func() time.Time
}

// NewManager returns an empty manager; reg, if not nil, gets the gauge
// trustledger_service_state{service, state}: 1 for each service's current state, 0 for others.
func NewManager(reg prometheus.Registerer) (*Manager, error) {
	m := &Manager{byName: map[string]*entry{}, clock: time.Now,
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "trustledger", Name: "service_state",
			Help: "State of each node service: 1 for its current state (stopped, starting, running, stopping, failed), 0 for the others."},
			[]string{"service", "state"})}
	if reg != nil {
		if err := reg.Register(m.gauge); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Add registers a service after those it requires; enabled says whether StartEnabled starts it.
func (m *Manager) Add(name string, svc Service, enabled bool, requires ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.byName[name]; dup {
		return fmt.Errorf("service %s added twice", name)
	}
	for _, r := range requires {
		if _, ok := m.byName[r]; !ok {
			return fmt.Errorf("service %s requires %s, which is not added before it", name, r)
		}
	}
	e := &entry{name: name, svc: svc, requires: requires, enabled: enabled}
	m.order = append(m.order, e)
	m.byName[name] = e
	m.set(e, StateStopped, nil)
	return nil
}

// SetOff records why a service app.toml enables does not start with the node (Status.Off).
func (m *Manager) SetOff(name, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byName[name]; ok {
		e.off = why
	}
}

// set records a state change; call with mu held.
func (m *Manager) set(e *entry, s State, err error) {
	e.state, e.since, e.err = s, m.clock(), ""
	if err != nil {
		e.err = err.Error()
	}
	for _, st := range allStates {
		v := 0.0
		if st == s {
			v = 1
		}
		m.gauge.WithLabelValues(e.name, string(st)).Set(v)
	}
}

func (m *Manager) state(e *entry) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.state
}

func (m *Manager) lookup(name string) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byName[name]
	if !ok {
		names := make([]string, len(m.order))
		for i, e := range m.order {
			names[i] = e.name
		}
		return nil, fmt.Errorf("%w %q (services: %s)", ErrUnknownService, name, strings.Join(names, ", "))
	}
	return e, nil
}

// dependents are the services that require e, directly or not, in start order.
func (m *Manager) dependents(e *entry) []*entry {
	need := map[string]bool{e.name: true}
	var out []*entry
	for _, d := range m.order {
		for _, r := range d.requires {
			if need[r] && !need[d.name] {
				need[d.name] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// requirements are the services e requires, directly or not, in start order.
func (m *Manager) requirements(e *entry) []*entry {
	need := map[string]bool{}
	var visit func(*entry)
	visit = func(x *entry) {
		for _, r := range x.requires {
			if !need[r] {
				need[r] = true
				visit(m.byName[r])
			}
		}
	}
	visit(e)
	var out []*entry
	for _, d := range m.order {
		if need[d.name] {
			out = append(out, d)
		}
	}
	return out
}

func names(es []*entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out
}

// start runs one service's Start; call with ops held.
func (m *Manager) start(ctx context.Context, e *entry) error {
	if e.started && m.state(e) == StateFailed {
		// It broke while running: release what it holds before starting it again.
		if err := m.stop(e); err != nil {
			return err
		}
	}
	m.mu.Lock()
	if e.state == StateRunning {
		m.mu.Unlock()
		return nil
	}
	m.set(e, StateStarting, nil)
	m.mu.Unlock()
	err := e.svc.Start(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("start %s: %w", e.name, err)
		m.set(e, StateFailed, err)
		return err
	}
	e.started = true
	m.set(e, StateRunning, nil)
	return nil
}

// stop runs one service's Stop; call with ops held. A service that never started (stopped, or
// failed to start) is left as is; one that failed while running is stopped, to release what it holds.
func (m *Manager) stop(e *entry) error {
	m.mu.Lock()
	if !e.started {
		m.mu.Unlock()
		return nil
	}
	m.set(e, StateStopping, nil)
	m.mu.Unlock()
	err := e.svc.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	e.started = false
	if err != nil {
		err = fmt.Errorf("stop %s: %w", e.name, err)
		m.set(e, StateFailed, err)
		return err
	}
	m.set(e, StateStopped, nil)
	return nil
}

// Start starts the named service. If a service it requires is not running, Start refuses with
// ErrNeedsCascade naming it, unless cascade, which starts those first. It returns the services
// it started, in order.
func (m *Manager) Start(ctx context.Context, name string, cascade bool) ([]string, error) {
	m.ops.Lock()
	defer m.ops.Unlock()
	e, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	var todo []*entry
	for _, r := range m.requirements(e) {
		if m.state(r) != StateRunning {
			todo = append(todo, r)
		}
	}
	if len(todo) > 0 && !cascade {
		return nil, fmt.Errorf("%s requires %s, which is not running: start it first, or ask again with cascade: %w",
			name, strings.Join(names(todo), ", "), ErrNeedsCascade)
	}
	if m.state(e) != StateRunning {
		todo = append(todo, e)
	}
	var started []string
	for _, x := range todo {
		if err := m.start(ctx, x); err != nil {
			return started, err
		}
		started = append(started, x.name)
	}
	return started, nil
}

// Stop stops the named service. If running services require it, Stop refuses with
// ErrNeedsCascade naming them, unless cascade, which stops those first (dependents before what
// they depend on). It returns the services it stopped, in order.
func (m *Manager) Stop(name string, cascade bool) ([]string, error) {
	m.ops.Lock()
	defer m.ops.Unlock()
	return m.stopLocked(name, cascade)
}

func (m *Manager) stopLocked(name string, cascade bool) ([]string, error) {
	e, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	var todo []*entry
	for _, d := range m.dependents(e) {
		if s := m.state(d); s == StateRunning {
			todo = append(todo, d)
		}
	}
	if len(todo) > 0 && !cascade {
		return nil, fmt.Errorf("%s is required by %s, which is running: stop it first, or ask again with cascade: %w",
			name, strings.Join(names(todo), ", "), ErrNeedsCascade)
	}
	slices.Reverse(todo)
	todo = append(todo, e)
	var stopped []string
	for _, x := range todo {
		was := m.state(x)
		if err := m.stop(x); err != nil {
			return stopped, err
		}
		if was == StateRunning {
			stopped = append(stopped, x.name)
		}
	}
	return stopped, nil
}

// Restart stops the named service (and, with cascade, the running services that require it)
// and starts them all again. It returns the services started, in order.
func (m *Manager) Restart(ctx context.Context, name string, cascade bool) ([]string, error) {
	m.ops.Lock()
	defer m.ops.Unlock()
	e, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	for _, r := range m.requirements(e) {
		if m.state(r) != StateRunning {
			return nil, fmt.Errorf("%s requires %s, which is not running: start it first: %w", name, r.name, ErrNeedsCascade)
		}
	}
	stopped, err := m.stopLocked(name, cascade)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(stopped, name) {
		stopped = append(stopped, name) // it was stopped or failed: a restart starts it
	}
	var started []string
	for _, x := range m.order {
		if !slices.Contains(stopped, x.name) {
			continue
		}
		if err := m.start(ctx, x); err != nil {
			return started, err
		}
		started = append(started, x.name)
	}
	return started, nil
}

// StartEnabled starts every enabled service in order. A service whose start fails is marked
// failed and the others go on; a service that requires one not running is not started and is
// marked failed with the reason. It returns the failures, joined.
func (m *Manager) StartEnabled(ctx context.Context) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	var errs []error
	for _, e := range m.order {
		if !e.enabled {
			continue
		}
		var missing []string
		for _, r := range m.requirements(e) {
			if m.state(r) != StateRunning {
				missing = append(missing, r.name)
			}
		}
		if len(missing) > 0 {
			err := fmt.Errorf("start %s: it requires %s, which is not running", e.name, strings.Join(missing, ", "))
			m.mu.Lock()
			m.set(e, StateFailed, err)
			m.mu.Unlock()
			errs = append(errs, err)
			continue
		}
		if err := m.start(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StopAll stops every running service, dependents first; it returns the failures, joined.
func (m *Manager) StopAll() error {
	m.ops.Lock()
	defer m.ops.Unlock()
	var errs []error
	for i := len(m.order) - 1; i >= 0; i-- {
		if err := m.stop(m.order[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Fail marks a running service failed with err: it broke by itself (CometBFT's consensus after
// the application failed). It stays as it is until stopped or restarted.
func (m *Manager) Fail(name string, err error) {
	e, lerr := m.lookup(name)
	if lerr != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.state == StateRunning {
		m.set(e, StateFailed, err)
	}
}

// SetEnabled records whether the named service starts with the node (what Statuses says; the
// caller persists it in app.toml).
func (m *Manager) SetEnabled(name string, enabled bool) error {
	e, err := m.lookup(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	e.enabled = enabled
	m.mu.Unlock()
	return nil
}

// Running reports whether the named service runs.
func (m *Manager) Running(name string) bool {
	e, err := m.lookup(name)
	return err == nil && m.state(e) == StateRunning
}

// Statuses lists every service in start order.
func (m *Manager) Statuses() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.order))
	for _, e := range m.order {
		st := Status{Name: e.name, State: e.state, Error: e.err, Since: e.since, Requires: slices.Clone(e.requires), Enabled: e.enabled, Off: e.off}
		for _, d := range m.order {
			if slices.Contains(d.requires, e.name) {
				st.RequiredBy = append(st.RequiredBy, d.name)
			}
		}
		out = append(out, st)
	}
	return out
}
