package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recorder is a service that records its starts and stops in a shared log; failStart makes
// its next start fail.
type recorder struct {
	name      string
	log       *[]string
	mu        *sync.Mutex
	failStart error
}

func (r *recorder) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failStart != nil {
		err := r.failStart
		r.failStart = nil
		return err
	}
	*r.log = append(*r.log, "start "+r.name)
	return nil
}

func (r *recorder) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, "stop "+r.name)
	return nil
}

// testManager has db ← api ← web, and a separate metrics: web requires api, api requires db.
func testManager(t *testing.T) (*Manager, map[string]*recorder, func() []string, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewManager(reg)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	var mu sync.Mutex
	recs := map[string]*recorder{}
	for _, s := range []struct {
		name string
		reqs []string
	}{{"metrics", nil}, {"db", nil}, {"api", []string{"db"}}, {"web", []string{"api"}}} {
		recs[s.name] = &recorder{name: s.name, log: &log, mu: &mu}
		if err := m.Add(s.name, recs[s.name], true, s.reqs...); err != nil {
			t.Fatal(err)
		}
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := log
		log = nil
		return out
	}
	return m, recs, take, reg
}

func states(m *Manager) map[string]State {
	out := map[string]State{}
	for _, s := range m.Statuses() {
		out[s.Name] = s.State
	}
	return out
}

// TestManagerOrder: services start in dependency order and stop in reverse; stopping one that
// running services need is refused without cascade and stops them first with it.
func TestManagerOrder(t *testing.T) {
	m, _, take, _ := testManager(t)
	ctx := context.Background()
	if err := m.StartEnabled(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := take(), []string{"start metrics", "start db", "start api", "start web"}; !slices.Equal(got, want) {
		t.Fatalf("start order %v, want %v", got, want)
	}
	if _, err := m.Stop("db", false); !errors.Is(err, ErrNeedsCascade) || !strings.Contains(err.Error(), "api, web") {
		t.Fatalf("stop db without cascade: %v, want ErrNeedsCascade naming api, web", err)
	}
	if got := take(); len(got) != 0 {
		t.Fatalf("a refused stop did %v", got)
	}
	stopped, err := m.Stop("db", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"web", "api", "db"}; !slices.Equal(stopped, want) {
		t.Errorf("stopped %v, want %v", stopped, want)
	}
	if got, want := take(), []string{"stop web", "stop api", "stop db"}; !slices.Equal(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
	if s := states(m); s["metrics"] != StateRunning || s["db"] != StateStopped || s["web"] != StateStopped {
		t.Errorf("states after the cascade: %v", s)
	}
	// Starting web needs api and db: refused, then started with them in order.
	if _, err := m.Start(ctx, "web", false); !errors.Is(err, ErrNeedsCascade) || !strings.Contains(err.Error(), "db, api") {
		t.Fatalf("start web without cascade: %v", err)
	}
	started, err := m.Start(ctx, "web", true)
	if err != nil || !slices.Equal(started, []string{"db", "api", "web"}) {
		t.Fatalf("start web with cascade: %v %v", started, err)
	}
	take()
	// Restart api with cascade: web stops first, both start again in order.
	started, err = m.Restart(ctx, "api", true)
	if err != nil || !slices.Equal(started, []string{"api", "web"}) {
		t.Fatalf("restart api: %v %v", started, err)
	}
	if got, want := take(), []string{"stop web", "stop api", "start api", "start web"}; !slices.Equal(got, want) {
		t.Errorf("restart order %v, want %v", got, want)
	}
	if _, err := m.Stop("nope", false); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
	if err := m.StopAll(); err != nil {
		t.Fatal(err)
	}
	if got, want := take(), []string{"stop web", "stop api", "stop db", "stop metrics"}; !slices.Equal(got, want) {
		t.Errorf("stop-all order %v, want %v", got, want)
	}
}

// TestManagerFailedStart: a service whose start fails is marked failed with its error, the
// services that do not need it run, the ones that need it are not started and say why; a later
// start succeeds. The Prometheus gauge follows.
func TestManagerFailedStart(t *testing.T) {
	m, recs, take, reg := testManager(t)
	recs["api"].failStart = errors.New("port 8080 in use")
	err := m.StartEnabled(context.Background())
	if err == nil || !strings.Contains(err.Error(), "port 8080 in use") || !strings.Contains(err.Error(), "web: it requires api") {
		t.Fatalf("start error %v", err)
	}
	if got, want := take(), []string{"start metrics", "start db"}; !slices.Equal(got, want) {
		t.Errorf("started %v, want %v", got, want)
	}
	st := map[string]Status{}
	for _, s := range m.Statuses() {
		st[s.Name] = s
	}
	if st["api"].State != StateFailed || !strings.Contains(st["api"].Error, "port 8080 in use") {
		t.Errorf("api: %+v", st["api"])
	}
	if st["web"].State != StateFailed || st["db"].State != StateRunning || st["metrics"].State != StateRunning {
		t.Errorf("states: %v", states(m))
	}
	if !slices.Equal(st["db"].RequiredBy, []string{"api"}) || !slices.Equal(st["web"].Requires, []string{"api"}) {
		t.Errorf("dependencies: db required by %v, web requires %v", st["db"].RequiredBy, st["web"].Requires)
	}
	if v := testutil.ToFloat64(m.gauge.WithLabelValues("api", string(StateFailed))); v != 1 {
		t.Errorf("gauge of api failed = %v, want 1", v)
	}
	if _, err := m.Start(context.Background(), "web", true); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.gauge.WithLabelValues("web", string(StateRunning))); v != 1 {
		t.Errorf("gauge of web running = %v, want 1", v)
	}
	if v := testutil.ToFloat64(m.gauge.WithLabelValues("web", string(StateFailed))); v != 0 {
		t.Errorf("gauge of web failed = %v, want 0", v)
	}
	if n, err := testutil.GatherAndCount(reg, "trustledger_service_state"); err != nil || n != 4*len(allStates) {
		t.Errorf("gauge series: %d %v", n, err)
	}
}
