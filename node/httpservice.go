package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpService serves one HTTP handler at a listen address as a node service (the metrics and
// the explorer): Start listens, Stop closes the port and waits for the answers in progress.
type httpService struct {
	addr    string
	noAddr  string                               // what to set when addr is empty
	handler func() (http.Handler, func(), error) // a new handler, and what Stop closes before the server
	started func(url string)                     // told the address once it listens (nil: nobody)

	mu    sync.Mutex
	srv   *http.Server
	close func()
	url   string
}

func (s *httpService) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	if s.addr == "" {
		return errors.New("no address: set " + s.noAddr)
	}
	h, closeFn, err := s.handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		closeFn()
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	s.srv, s.close = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, closeFn
	s.url = "http://" + ln.Addr().String()
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.srv)
	if s.started != nil {
		s.started(s.url)
	}
	return nil
}

// URL is where the service answers while it runs ("" while stopped).
func (s *httpService) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

func (s *httpService) Stop() error {
	s.mu.Lock()
	srv, closeFn := s.srv, s.close
	s.srv, s.close, s.url = nil, nil, ""
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	closeFn() // ends long answers (the explorer's live streams), which Shutdown would wait for
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}
