package explorer

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Paging: 50 rows by default, at most 100 (issue 15).
const (
	DefaultRows = 50
	MaxRows     = 100
)

// Server serves the explorer of one node. It is safe for concurrent use.
type Server struct {
	c      *client.Client
	pages  map[string]*template.Template
	live   *liveFeed
	home   homeCache
	names  nameCache
	regs   registrationsSeen
	status statusSeen
	cache  *pageCache
	costly gate
	// costlyWait bounds a visitor's wait for a turn at costly (pageTimeout).
	costlyWait time.Duration
	logError   func(msg string, keyvals ...any)
}

// New returns the explorer of the node c reads; logError (nil: none) hears what fails on the
// explorer's side. Call Close when done (it stops the live feed).
func New(c *client.Client, logError func(msg string, keyvals ...any)) (*Server, error) {
	if logError == nil {
		logError = func(string, ...any) {}
	}
	s := &Server{c: c, pages: map[string]*template.Template{}, cache: newPageCache(cacheBytes),
		costly: newGate(runtime.GOMAXPROCS(0)), costlyWait: pageTimeout, logError: logError}
	base, err := template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "base" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		s.pages[name] = t
	}
	s.live = newLiveFeed(c)
	return s, nil
}

// Close stops the live feed; open /live streams end.
func (s *Server) Close() { s.live.close() }

// loader gathers one page's data from the request.
type loader func(r *http.Request) (view, error)

// view is a page's data: rendered by its template as HTML, or encoded as JSON.
type view interface{ page() string }

// Handler serves every page, its JSON twin, the live feed and the embedded assets.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	both := func(path string, l loader) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) { s.serveHTML(w, r, l) })
		mux.HandleFunc("GET /api"+path, func(w http.ResponseWriter, r *http.Request) { s.serveJSON(w, r, l) })
	}
	// Pages whose version is cheap to read are kept as drawn (cache.go).
	kept := func(html, json string, l loader, version versionFunc) {
		mux.HandleFunc("GET "+html, func(w http.ResponseWriter, r *http.Request) { s.serveKept(w, r, l, version, false) })
		mux.HandleFunc("GET "+json, func(w http.ResponseWriter, r *http.Request) { s.serveKept(w, r, l, version, true) })
	}
	kept("/{$}", "/api/home", s.loadHome, s.homeVersion)
	both("/blocks", s.loadBlocks)
	both("/block/{height}", s.loadBlock)
	both("/tx/{hash}", s.loadTx)
	kept("/node/{key}", "/api/node/{key}", s.loadNode, s.nodeVersion)
	kept("/relation/{a}/{b}", "/api/relation/{a}/{b}", s.loadRelation, s.relationVersion)
	both("/trust/{key}", s.loadTrust)
	both("/search", s.loadSearch)
	mux.HandleFunc("GET /node/{key}/events.csv", s.nodeCSV)
	mux.HandleFunc("GET /relation/{a}/{b}/events.csv", s.relationCSV)
	mux.HandleFunc("GET /api/node/{key}/events.csv", s.nodeCSV)
	mux.HandleFunc("GET /api/relation/{a}/{b}/events.csv", s.relationCSV)
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) { s.serveHTML(w, r, loadAPIDoc) })
	mux.HandleFunc("GET /live", s.live.serve)
	mux.HandleFunc("GET /fragment/latest", s.serveLatest)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, notFound("no page at %s", r.URL.Path))
	})
	return secure(mux)
}

// secure sets the headers every answer carries: a Content-Security-Policy that allows nothing
// but the explorer's own origin, and no sniffing, framing or referrers.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "the explorer only reads: use GET", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Errors a loader returns: a status and a message for the visitor.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// status maps an error to its HTTP status: the node's not-found and bad-request answers keep
// their meaning; a node that cannot answer is 503.
func status(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, api.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, api.ErrBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, api.ErrServiceStopped), errors.Is(err, client.ErrUnreachable), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

type errorView struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Error  string `json:"error"`
}

func (errorView) page() string { return "error" }

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	if code == http.StatusInternalServerError {
		s.logError("explorer page failed", "path", r.URL.Path, "err", err)
	}
	v := errorView{Status: code, Title: http.StatusText(code), Error: msg}
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasSuffix(r.URL.Path, ".csv") {
		writeJSON(w, code, v)
		return
	}
	s.render(w, code, v)
}

const pageTimeout = 10 * time.Second

// load runs a page's loader within pageTimeout; on failure it has answered with the error.
func (s *Server) load(w http.ResponseWriter, r *http.Request, l loader) (view, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	v, err := l(r.WithContext(ctx))
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return v, true
}

// serveHTML answers with a page no cache keeps (the trust page, a block, a tx, a search); it is
// loaded and drawn within the costly gate.
func (s *Server) serveHTML(w http.ResponseWriter, r *http.Request, l loader) {
	v, leave, ok := s.loadCostly(w, r, l)
	if !ok {
		return
	}
	defer leave()
	if sv, ok := v.(searchView); ok && len(sv.Hits) == 1 {
		http.Redirect(w, r, sv.Hits[0].URL, http.StatusSeeOther) // one answer: go there
		return
	}
	buf, err := s.draw(v)
	leave() // drawn: sending it is no work for the cores
	if err != nil {
		s.drawFailed(w, v, err)
		return
	}
	defer drawn(buf)
	w.Header().Set("Content-Type", htmlType)
	_, _ = w.Write(buf.Bytes())
}

// loadCostly waits its turn at the costly gate, within costlyWait, and loads the page there;
// leave (which may be called more than once) gives the turn back. When the wait or the load
// fails it has answered (503 after costlyWait; nothing when the visitor left; the loader's
// error), the turn is back and ok is false.
func (s *Server) loadCostly(w http.ResponseWriter, r *http.Request, l loader) (v view, leave func(), ok bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.costlyWait)
	defer cancel()
	if err := s.costly.enter(ctx); err != nil {
		if r.Context().Err() == nil {
			s.fail(w, r, fmt.Errorf("%w: %d pages were being drawn for all of %s", errBusy, cap(s.costly), s.costlyWait))
		}
		return nil, nil, false
	}
	var once sync.Once
	leave = func() { once.Do(s.costly.leave) }
	if v, ok = s.load(w, r, l); !ok {
		leave()
		return nil, nil, false
	}
	return v, leave, true
}

// serveLatest is the home page's latest-blocks table alone, for the live refresh.
func (s *Server) serveLatest(w http.ResponseWriter, r *http.Request) {
	v, ok := s.load(w, r, s.loadHome)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := s.pages["home"].ExecuteTemplate(&buf, "latest", v); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, l loader) {
	v, leave, ok := s.loadCostly(w, r, l)
	if !ok {
		return
	}
	defer leave()
	a, err := jsonAnswer(v)
	leave()
	if err != nil {
		s.drawFailed(w, v, err)
		return
	}
	send(w, a)
}

func (s *Server) render(w http.ResponseWriter, code int, v view) {
	buf, err := s.draw(v)
	if err != nil {
		s.drawFailed(w, v, err)
		return
	}
	defer drawn(buf)
	w.Header().Set("Content-Type", htmlType)
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// drawFailed answers that page v could not be drawn (a template's or the JSON encoder's
// error: a bug, logged).
func (s *Server) drawFailed(w http.ResponseWriter, v view, err error) {
	s.logError("explorer page failed", "page", v.page(), "err", err)
	http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
}

const htmlType = "text/html; charset=utf-8"

// htmlAnswer draws a page to keep.
func (s *Server) htmlAnswer(v view) (*keptAnswer, error) {
	buf, err := s.draw(v)
	if err != nil {
		return nil, err
	}
	defer drawn(buf)
	return &keptAnswer{contentType: htmlType, body: bytes.Clone(buf.Bytes())}, nil
}

// pageBuffers are the buffers pages are drawn in, reused: growing a new one to a page's size
// for every answer was the explorer's largest allocation under load.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// draw draws a page into a buffer that the caller gives back with drawn.
func (s *Server) draw(v view) (*bytes.Buffer, error) {
	buf := pageBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if err := s.pages[v.page()].ExecuteTemplate(buf, "base.html", v); err != nil {
		drawn(buf)
		return nil, err
	}
	return buf, nil
}

// drawn gives a buffer back; one grown past 1 MiB is let go.
func drawn(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		pageBuffers.Put(buf)
	}
}

// jsonAnswer is a page's data as JSON.
func jsonAnswer(v any) (*keptAnswer, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return &keptAnswer{contentType: "application/json", body: append(b, '\n')}, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	a, err := jsonAnswer(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.WriteHeader(code)
	_, _ = w.Write(a.body)
}
