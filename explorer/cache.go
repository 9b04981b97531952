package explorer

import (
	"container/list"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	coretypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/ledger"
)

// pageCache keeps answers as they were sent, by the request and the version of the data they
// are made of: a page asked a thousand times between two changes of what it shows is drawn
// once. A version is the position of the newest event a page is made of (the ledger only
// appends, so older events never change) and of the newest registration (monikers), so a kept
// answer is never stale: a new event moves the version and the next visitor gets a new page.
// It holds at most maxBytes, and drops the least recently used first.
type pageCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	lru      *list.List // of *keptAnswer, the most recently used at the front
	byKey    map[string]*list.Element
	hits     uint64
	misses   uint64
	// drawing holds the answers being drawn, by key: a hundred visitors of a page that just
	// changed (the home page at each new block) wait for one drawing instead of each drawing it.
	drawing map[string]*drawingAnswer
}

// drawingAnswer is an answer one visitor is drawing; done closes when it is kept (a is set) or
// could not be (a stays nil, and those who waited draw it themselves).
type drawingAnswer struct {
	done chan struct{}
	a    *keptAnswer
}

// startDrawing returns the answer being drawn for key, and whether the caller is to draw it (and
// then call doneDrawing).
func (c *pageCache) startDrawing(key string) (*drawingAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.drawing[key]; ok {
		return d, false
	}
	if c.drawing == nil {
		c.drawing = map[string]*drawingAnswer{}
	}
	d := &drawingAnswer{done: make(chan struct{})}
	c.drawing[key] = d
	return d, true
}

// doneDrawing ends the drawing of key with answer a (nil: none to share).
func (c *pageCache) doneDrawing(key string, d *drawingAnswer, a *keptAnswer) {
	c.mu.Lock()
	delete(c.drawing, key)
	c.mu.Unlock()
	d.a = a
	close(d.done)
}

// keptAnswer is one answer as sent.
type keptAnswer struct {
	key         string
	contentType string
	body        []byte
}

// cacheBytes bounds the pages kept (a node or relation page is 10–60 KB).
const cacheBytes = 96 << 20

func newPageCache(maxBytes int) *pageCache {
	return &pageCache{maxBytes: maxBytes, lru: list.New(), byKey: map[string]*list.Element{}}
}

func (c *pageCache) get(key string) (*keptAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.lru.MoveToFront(el)
	return el.Value.(*keptAnswer), true
}

func (c *pageCache) put(a *keptAnswer) {
	if len(a.body) > c.maxBytes/16 {
		return // one answer never takes much of it
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[a.key]; ok {
		c.bytes -= len(el.Value.(*keptAnswer).body)
		c.lru.Remove(el)
	}
	c.byKey[a.key] = c.lru.PushFront(a)
	c.bytes += len(a.body)
	for c.bytes > c.maxBytes {
		old := c.lru.Remove(c.lru.Back()).(*keptAnswer)
		delete(c.byKey, old.key)
		c.bytes -= len(old.body)
	}
}

// versionFunc gives the version of what the page of a request shows; ok false when it cannot
// tell (a bad id, the node not answering), and the page is then drawn as if not kept.
type versionFunc func(r *http.Request) (version string, ok bool)

// serveKept answers from the cache when the page's version has not moved, else loads and draws
// it (HTML, or JSON when asJSON) and keeps it; visitors who ask while it is being drawn wait for
// that drawing. Only answers of 200 are kept.
func (s *Server) serveKept(w http.ResponseWriter, r *http.Request, l loader, version versionFunc, asJSON bool) {
	ver, ok := version(r)
	if !ok {
		s.drawAnswer(w, r, l, asJSON) // no version to keep it under
		return
	}
	key := "h"
	if asJSON {
		key = "j"
	}
	key += r.URL.RequestURI() + "\x00" + ver
	if a, hit := s.cache.get(key); hit {
		send(w, a)
		return
	}
	d, drawer := s.cache.startDrawing(key)
	if drawer {
		var a *keptAnswer
		defer func() { s.cache.doneDrawing(key, d, a) }()
		if a = s.drawAnswer(w, r, l, asJSON); a != nil {
			a.key = key
			s.cache.put(a)
		}
		return
	}
	select {
	case <-d.done:
	case <-r.Context().Done():
		return // the visitor left
	}
	if d.a != nil {
		send(w, d.a)
		return
	}
	s.drawAnswer(w, r, l, asJSON) // it could not be drawn for us: draw it here
}

// drawAnswer loads and draws a page and answers with it; on failure it has answered with the
// error and returns nil.
func (s *Server) drawAnswer(w http.ResponseWriter, r *http.Request, l loader, asJSON bool) *keptAnswer {
	v, loaded := s.load(w, r, l)
	if !loaded {
		return nil
	}
	var a *keptAnswer
	var err error
	if asJSON {
		a, err = jsonAnswer(v)
	} else {
		a, err = s.htmlAnswer(v)
	}
	if err != nil {
		s.drawFailed(w, v, err)
		return nil
	}
	send(w, a)
	return a
}

// send answers with a.
func send(w http.ResponseWriter, a *keptAnswer) {
	w.Header().Set("Content-Type", a.contentType)
	_, _ = w.Write(a.body)
}

// newestOf is the position of the newest event the request names ("none" when there is none).
func (s *Server) newestOf(ctx context.Context, req api.EventsRequest) (string, error) {
	pos, err := s.c.Newest(ctx, req)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return "none", nil
	case err != nil:
		return "", err
	case pos == "":
		return "none", nil
	}
	return pos, nil
}

// registrationsEvery is how often the newest registration is looked up: monikers on pages are
// at most that old.
const registrationsEvery = 250 * time.Millisecond

// registrations is the position of the newest register_node in the ledger, looked up at most
// every registrationsEvery: the monikers remembered and the pages kept are as of it.
func (s *Server) registrations(ctx context.Context) (string, error) {
	s.regs.mu.Lock()
	defer s.regs.mu.Unlock()
	if time.Since(s.regs.at) < registrationsEvery && s.regs.newest != "" {
		return s.regs.newest, nil
	}
	newest, err := s.newestOf(ctx, api.EventsRequest{Kind: ledger.KindRegisterNode.String()})
	if err != nil {
		return "", err
	}
	s.regs.newest, s.regs.at = newest, time.Now()
	return newest, nil
}

// registrationsSeen is the newest registration as last looked up.
type registrationsSeen struct {
	mu     sync.Mutex
	newest string
	at     time.Time
}

// nodeVersion is a node page's version: the node's newest event and the newest registration.
func (s *Server) nodeVersion(r *http.Request) (string, bool) {
	n, err := parseNode(r.PathValue("key"))
	if err != nil {
		return "", false
	}
	return s.versionOf(r.Context(), api.EventsRequest{Node: n.String()})
}

// relationVersion is a relation page's version: the pair's newest event and the newest
// registration.
func (s *Server) relationVersion(r *http.Request) (string, bool) {
	a, err := parseNode(r.PathValue("a"))
	if err != nil {
		return "", false
	}
	b, err := parseNode(r.PathValue("b"))
	if err != nil || a == b {
		return "", false
	}
	return s.versionOf(r.Context(), api.EventsRequest{Node: a.String(), Peer: b.String()})
}

func (s *Server) versionOf(ctx context.Context, req api.EventsRequest) (string, bool) {
	newest, err := s.newestOf(ctx, req)
	if err != nil {
		return "", false
	}
	regs, err := s.registrations(ctx)
	if err != nil {
		return "", false
	}
	return newest + "/" + regs, true
}

// homeVersion is the home page's: the height it shows.
func (s *Server) homeVersion(r *http.Request) (string, bool) {
	st, err := s.latestStatus(r.Context())
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(st.SyncInfo.LatestBlockHeight, 10), true
}

// statusEvery is how often the node's status (the latest height) is looked up for the home
// page, and statusStale how old the one remembered may be while a lookup is under way. CometBFT
// answers a status under its block store's lock, which saving a block holds until the block is
// on disk (tens of milliseconds under load): the home page's visitors do not wait for that.
// A new block is on the home page within statusEvery plus the time it takes to save, well
// inside the 2 s that issue 15 asks.
const (
	statusEvery = 100 * time.Millisecond
	statusStale = 2 * time.Second
)

// statusSeen is the node's status as last looked up.
type statusSeen struct {
	mu      sync.Mutex
	st      *coretypes.ResultStatus
	at      time.Time
	looking bool // a lookup is under way
}

// latestStatus is the node's status looked up at most statusEvery ago, or, while another
// visitor's lookup is under way, at most statusStale ago.
func (s *Server) latestStatus(ctx context.Context) (*coretypes.ResultStatus, error) {
	seen := &s.status
	seen.mu.Lock()
	if seen.st != nil {
		if age := time.Since(seen.at); age < statusEvery || (seen.looking && age < statusStale) {
			st := seen.st
			seen.mu.Unlock()
			return st, nil
		}
	}
	seen.looking = true
	seen.mu.Unlock()
	st, err := s.c.Status(ctx)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	seen.looking = false
	if err != nil {
		return nil, err
	}
	if seen.st == nil || st.SyncInfo.LatestBlockHeight >= seen.st.SyncInfo.LatestBlockHeight {
		seen.st, seen.at = st, time.Now()
	}
	return st, nil
}
