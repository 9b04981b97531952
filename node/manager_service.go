package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// managerService is the supplier manager (issue 14, specs/p2p.md P-12): every check period it
// asks this node's trust view whether to drop each of the customer's suppliers (proven
// misbehaving, or dropped by the node's own audits) and fires those, with the view's reason;
// a supplier that has not answered for longer than the grace period is fired too. Each fire
// repairs every file onto a replacement first (customerService.Fire).
type managerService struct {
	customer *customerService
	trust    *TrustService
	every    time.Duration
	policy   func() (ManagerPolicy, error) // trust.toml's [manager], read at each start
	grace    time.Duration
	logger   log.Logger

	mu     sync.Mutex
	stop   context.CancelFunc
	done   chan struct{}
	silent map[ledger.PubKey]int64 // supplier → when (unix seconds) it was first seen not answering
}

func (s *managerService) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return nil
	}
	policy, err := s.policy()
	if err != nil {
		return err
	}
	s.grace = policy.Grace
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done, s.silent = cancel, make(chan struct{}), map[ledger.PubKey]int64{}
	go s.loop(ctx, s.done)
	return nil
}

func (s *managerService) Stop() error {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

func (s *managerService) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	runEvery(ctx, s.every, func(ctx context.Context) {
		fired, err := s.Check(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger.Info("supplier check", "err", err)
		}
		for _, f := range fired {
			s.logger.Info("supplier fired", "supplier", f.Decision.Supplier, "reason", f.Decision.Reason, "files_repaired", len(f.Decision.Repaired))
		}
	})
}

// runEvery calls round every period until ctx ends (a period of 0: never).
func runEvery(ctx context.Context, period time.Duration, round func(context.Context)) {
	if period <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			round(ctx)
		}
	}
}

// Check runs one round: the trust service decides (reputation.View.Review: the suppliers the
// view drops, and those silent beyond the grace period), and it fires those, returning what it
// fired.
func (s *managerService) Check(ctx context.Context) ([]FireResult, error) {
	cust, h, rctx, done, err := s.customer.running(ctx)
	if err != nil {
		return nil, err
	}
	// The suppliers holding the catalogue's shards, and whether each answered; the ledger's
	// audit results (Status's last column) are not needed here.
	suppliers, _ := s.customer.supplierStates(rctx, cust, h)
	// And the open contracts that hold none yet (spares): the trust view may drop them too.
	for _, open := range cust.Contracts() {
		if slices.ContainsFunc(suppliers, func(b BackupSupplier) bool { return b.contract == open.ContractID }) {
			continue
		}
		if v, err := s.customer.ledger.ContractOf(rctx, &open); err == nil && v.Record != nil && !v.Record.Closed {
			suppliers = append(suppliers, BackupSupplier{Supplier: open.Supplier.String(), Contract: open.ContractID.String(), contract: open.ContractID})
		}
	}
	done()
	// One entry a supplier (a supplier may hold shards under several contracts).
	var hired []reputation.Hired
	index := map[ledger.PubKey]int{}
	s.mu.Lock()
	for _, sup := range suppliers {
		key, err := ledger.ParsePubKey(sup.Supplier)
		if err != nil {
			continue
		}
		i, ok := index[key]
		if !ok {
			i = len(hired)
			index[key] = i
			hired = append(hired, reputation.Hired{Supplier: key, SilentSince: s.silent[key]})
		}
		hired[i].Shards += sup.Shards
		hired[i].Answered = hired[i].Answered || sup.Reachable
	}
	s.mu.Unlock()
	decisions, err := s.trust.Review(h.Key(), hired, time.Now().Unix(), int64(s.grace/time.Second))
	if err != nil {
		return nil, err
	}
	var fired []FireResult
	var errs []error
	for _, d := range decisions {
		s.mu.Lock()
		s.silent[d.Supplier] = d.SilentSince
		if d.SilentSince == 0 {
			delete(s.silent, d.Supplier)
		}
		s.mu.Unlock()
		if !d.Fire {
			continue
		}
		res, err := s.customer.Fire(ctx, d.Supplier.String(), d.Reason)
		if err != nil {
			errs = append(errs, fmt.Errorf("firing %s (%s): %w", d.Supplier, d.Reason, err))
			continue
		}
		s.mu.Lock()
		delete(s.silent, d.Supplier)
		s.mu.Unlock()
		fired = append(fired, res)
	}
	return fired, errors.Join(errs...)
}
