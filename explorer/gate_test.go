package explorer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGateBoundsTurns: the costly gate lets at most n in at once, lets everyone in in time, and
// a wait ends with its context.
func TestGateBoundsTurns(t *testing.T) {
	g := newGate(2)
	var (
		mu           sync.Mutex
		inside, most int
		served       int
		wg           sync.WaitGroup
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.enter(context.Background()); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			served++
			mu.Unlock()
			g.leave()
		}()
	}
	wg.Wait()
	if most > 2 || served != 20 {
		t.Fatalf("at most %d inside at once (want 2), %d of 20 served", most, served)
	}
	for range 2 {
		g.enter(context.Background()) //nolint:errcheck // free turns
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.enter(ctx); err == nil {
		t.Fatal("entered a full gate")
	}
	if g := newGate(0); cap(g) != 1 {
		t.Fatalf("a gate of 0 turns has %d, want 1", cap(g))
	}
}

// TestCostlyPagesWaitKeptPagesDoNot (issue 15): with every turn of the costly gate taken, a kept
// page is still answered at once; a page no cache keeps waits, and past costlyWait is a 503 that
// says the explorer is busy; a visitor who leaves while waiting gets nothing written.
func TestCostlyPagesWaitKeptPagesDoNot(t *testing.T) {
	s, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.costlyWait = 50 * time.Millisecond
	for range cap(s.costly) {
		s.costly.enter(context.Background()) //nolint:errcheck // free turns
	}
	always := func(*http.Request) (string, bool) { return "v1", true }

	w := httptest.NewRecorder()
	s.serveKept(w, httptest.NewRequest("GET", "/api", nil), loadAPIDoc, always, false)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<html") {
		t.Fatalf("kept page with the gate full: %d %.100q", w.Code, w.Body.String())
	}

	for _, serve := range []func(http.ResponseWriter, *http.Request, loader){s.serveHTML, s.serveJSON} {
		w = httptest.NewRecorder()
		start := time.Now()
		serve(w, httptest.NewRequest("GET", "/api", nil), loadAPIDoc)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "busy") {
			t.Fatalf("costly page with the gate full: %d %.200q", w.Code, w.Body.String())
		}
		if waited := time.Since(start); waited < s.costlyWait {
			t.Fatalf("answered busy after %s, before costlyWait %s", waited, s.costlyWait)
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w = httptest.NewRecorder()
		serve(w, httptest.NewRequest("GET", "/api", nil).WithContext(ctx), loadAPIDoc)
		if w.Body.Len() != 0 {
			t.Fatalf("a visitor who left got %.100q", w.Body.String())
		}
	}

	s.costly.leave() // one turn free: the costly page is drawn, and gives its turn back
	for range 3 {
		w = httptest.NewRecorder()
		s.serveHTML(w, httptest.NewRequest("GET", "/api", nil), loadAPIDoc)
		if w.Code != http.StatusOK {
			t.Fatalf("costly page with a turn free: %d %.200q", w.Code, w.Body.String())
		}
	}
}
