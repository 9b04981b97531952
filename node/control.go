package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// The control channel: HTTP over the unix socket Home.ControlSocket, mode 0600, so only the
// home's owner (and root) can reach it; no password, no token. Requests and answers are JSON:
//
//	GET  /v1/services                          → ServicesAnswer
//	POST /v1/services/{name}/start?cascade=1   → ServicesAnswer (Changed: the services started)
//	POST /v1/services/{name}/stop?cascade=1    → ServicesAnswer (Changed: the services stopped)
//	POST /v1/services/{name}/restart?cascade=1 → ServicesAnswer (Changed: the services started)
//	POST /v1/services/{name}/enable?now=1      → ServicesAnswer: app.toml says it starts with the
//	                                              node; with now, it starts too (Changed)
//	POST /v1/services/{name}/disable?now=1     → the same, the other way
//
// A refusal is a non-2xx status with {"error": "..."}: 404 unknown service, 409 needs cascade,
// 500 a start or stop that failed.
//
//	POST /v1/backup/{op}                      → JSON lines (control_backup.go): the customer
//	                                             service's operations
//	POST /v1/supplier/{op}                    → JSON lines: the supplier's contracts, quit

// ServicesAnswer is what the control channel answers.
type ServicesAnswer struct {
	Changed  []string `json:"changed,omitempty"`
	Services []Status `json:"services"`
}

type controlError struct {
	Error string `json:"error"`
}

// maxSocketPath is the longest unix socket path Linux takes (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

type controlServer struct {
	path string
	srv  *http.Server
	ln   net.Listener
}

// serveControl listens on the home's control socket for m's operations.
func serveControl(home Home, m *Manager, b Backups, sup *supplierService) (*controlServer, error) {
	enable := func(ctx context.Context, name string, on, now, cascade bool) ([]string, error) {
		if _, err := m.lookup(name); err != nil {
			return nil, err
		}
		if err := SetServiceEnabled(home, name, on); err != nil {
			return nil, err
		}
		if err := m.SetEnabled(name, on); err != nil {
			return nil, err
		}
		switch {
		case !now:
			return nil, nil
		case on:
			return m.Start(ctx, name, cascade)
		}
		return m.Stop(name, cascade)
	}
	path := home.ControlSocket()
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, more than the %d a unix socket takes: use a shorter --home", path, len(path), maxSocketPath)
	}
	// The home lock is held, so a socket file left here is a dead node's.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	old := syscall.Umask(0o177) // the socket is created 0600, with no window at a wider mode
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, ServicesAnswer{Services: m.Statuses()})
	})
	mux.HandleFunc("POST /v1/services/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		name, cascade, now := r.PathValue("name"), q.Get("cascade") == "1", q.Get("now") == "1"
		var changed []string
		var err error
		switch r.PathValue("action") {
		case "start":
			changed, err = m.Start(r.Context(), name, cascade)
		case "stop":
			changed, err = m.Stop(name, cascade)
		case "restart":
			changed, err = m.Restart(r.Context(), name, cascade)
		case "enable":
			changed, err = enable(r.Context(), name, true, now, cascade)
		case "disable":
			changed, err = enable(r.Context(), name, false, now, cascade)
		default:
			answer(w, http.StatusNotFound, controlError{Error: fmt.Sprintf("no action %q: want start, stop, restart, enable or disable", r.PathValue("action"))})
			return
		}
		switch {
		case errors.Is(err, ErrUnknownService):
			answer(w, http.StatusNotFound, controlError{Error: err.Error()})
		case errors.Is(err, ErrNeedsCascade):
			answer(w, http.StatusConflict, controlError{Error: err.Error()})
		case err != nil:
			answer(w, http.StatusInternalServerError, controlError{Error: err.Error()})
		default:
			answer(w, http.StatusOK, ServicesAnswer{Changed: changed, Services: m.Statuses()})
		}
	})
	mux.HandleFunc("POST /v1/backup/{op}", func(w http.ResponseWriter, r *http.Request) { serveBackup(b, w, r) })
	mux.HandleFunc("POST /v1/supplier/{op}", func(w http.ResponseWriter, r *http.Request) { serveSupplier(sup, w, r) })
	c := &controlServer{path: path, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *controlServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.srv.Shutdown(ctx)
	_ = os.Remove(c.path)
}

// ErrNotRunning is returned by a Control when no node runs on the home.
var ErrNotRunning = errors.New("no node is running on this home")

// Control talks to the node running on a home through its control socket.
type Control struct {
	home Home
	http *http.Client
}

// DialControl returns a control client of home's node; it connects at the first call.
func DialControl(home Home) *Control {
	path := home.ControlSocket()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	// A restart of consensus may take a while (it replays what the app lacks).
	return &Control{home: home, http: &http.Client{Transport: tr, Timeout: 5 * time.Minute}}
}

func (c *Control) do(ctx context.Context, method, path string) (ServicesAnswer, error) {
	var ans ServicesAnswer
	req, err := http.NewRequestWithContext(ctx, method, "http://trustd"+path, nil)
	if err != nil {
		return ans, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return ans, fmt.Errorf("%w (%s; start it with `trustd start --home %s`)", ErrNotRunning, c.home, c.home)
		}
		return ans, fmt.Errorf("control socket %s: %w", c.home.ControlSocket(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return ans, err
	}
	if res.StatusCode/100 != 2 {
		var ce controlError
		if json.Unmarshal(body, &ce) != nil || ce.Error == "" {
			ce.Error = strings.TrimSpace(string(body))
		}
		switch res.StatusCode {
		case http.StatusNotFound:
			return ans, remoteError{ce.Error, ErrUnknownService}
		case http.StatusConflict:
			return ans, remoteError{ce.Error, ErrNeedsCascade}
		}
		return ans, errors.New(ce.Error)
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return ans, fmt.Errorf("control socket answered with bad JSON: %w", err)
	}
	return ans, nil
}

// remoteError is the node's message, matching the sentinel it stands for with errors.Is.
type remoteError struct {
	msg string
	is  error
}

func (e remoteError) Error() string { return e.msg }
func (e remoteError) Unwrap() error { return e.is }

// Services lists the node's services.
func (c *Control) Services(ctx context.Context) (ServicesAnswer, error) {
	return c.do(ctx, http.MethodGet, "/v1/services")
}

// Change starts, stops, restarts, enables or disables (action) the named service; cascade lets
// it change the services the change depends on or affects; now makes enable and disable start
// or stop the service too.
func (c *Control) Change(ctx context.Context, action, name string, cascade, now bool) (ServicesAnswer, error) {
	q := url.Values{}
	if cascade {
		q.Set("cascade", "1")
	}
	if now {
		q.Set("now", "1")
	}
	path := "/v1/services/" + url.PathEscape(name) + "/" + action
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.do(ctx, http.MethodPost, path)
}
