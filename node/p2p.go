package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/p2p"
)

// p2pService runs the node's libp2p host (specs/p2p.md) with the [p2p] key's identity; it
// learns who is registered from the node's own ledger.
type p2pService struct {
	key    ed25519.PrivateKey // nil: no [p2p] key, or not unlocked
	conf   P2PConfig
	ledger *client.Client
	logger log.Logger

	mu   sync.Mutex
	host *p2p.Host
}

// ErrNoP2PKey: the p2p service was asked to start without an identity.
var ErrNoP2PKey = errors.New("no p2p identity: name a local key in app.toml's [p2p] key and start the node with its passphrase")

func (s *p2pService) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.host != nil {
		return nil
	}
	if s.key == nil {
		return ErrNoP2PKey
	}
	var boot []peer.AddrInfo
	for _, b := range s.conf.Bootstrap {
		if ai, err := peer.AddrInfoFromString(b); err == nil { // validated when app.toml was read
			boot = append(boot, *ai)
		}
	}
	h, err := p2p.New(s.key, p2p.NewLedgerRegistry(s.ledger), p2p.Config{ListenAddrs: s.conf.Listen, Bootstrap: boot})
	if err != nil {
		return err
	}
	s.host = h
	// Bootstrap peers are dialled in the background, then the routing table is filled from
	// them (P-5): an unreachable one does not hold up the start (a host closed meanwhile makes
	// the dials fail at once).
	go func() {
		reached := 0
		for _, ai := range boot {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := h.Connect(ctx, ai); err != nil {
				s.logger.Info("bootstrap peer not reached", "peer", ai.ID, "err", err)
			} else {
				reached++
			}
			cancel()
		}
		if reached == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.RefreshRouting(ctx); err != nil {
			s.logger.Info("routing table not refreshed", "err", err)
		}
	}()
	return nil
}

func (s *p2pService) Stop() error {
	s.mu.Lock()
	h := s.host
	s.host = nil
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.Close()
}

// Host is the running host, or nil.
func (s *p2pService) Host() *p2p.Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host
}

// supplierService offers the node's space on its host: contract offers, shards and audits
// ([supplier], specs/p2p.md P-4, P-6, P-7). Its contracts and shards outlive a restart of the
// host under it.
type supplierService struct {
	host   func() *p2p.Host
	conf   p2p.SupplierConfig
	ledger *client.Client
	logger log.Logger
	key    ed25519.PrivateKey // signs the receipts' transactions: the supplier's evidence
	period time.Duration      // how often storage receipts are asked for

	mu     sync.Mutex
	sup    *p2p.Supplier
	signer *keySubmitter
	sub    *client.Submitter // the node key's shared submitter while it runs (nil: stopped)
	stop   context.CancelFunc
	done   chan struct{}
}

func newSupplierService(home Home, chainID string, sec SupplierSection, host func() *p2p.Host, key ed25519.PrivateKey, c *client.Client, logger log.Logger) (*supplierService, error) {
	space, err := sec.Bytes()
	if err != nil {
		return nil, err
	}
	period, err := sec.Period()
	if err != nil {
		return nil, err
	}
	return &supplierService{host: host, ledger: c, logger: logger, key: key, period: period, conf: p2p.SupplierConfig{ChainID: chainID,
		Terms: p2p.Terms{Space: space, PricePerGiBMonth: sec.PricePerGiBMonth, MaxDurationSeconds: sec.MaxDurationDays * 86400},
		Dir:   filepath.Join(home.DataDir(), "shards"), Journal: journal.Open(home.JournalDir())}}, nil
}

func (s *supplierService) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host()
	if h == nil {
		return errors.New("the p2p host is not running")
	}
	if s.conf.Terms.Space == 0 {
		return errors.New("no space to offer: set app.toml's [supplier] space (\"20GiB\")")
	}
	if s.sup == nil {
		sup, err := p2p.NewSupplier(s.conf)
		if err != nil {
			return err
		}
		open, err := s.openContracts(ctx, h.Key())
		if err != nil {
			return fmt.Errorf("supplier: reading its contracts from the ledger: %w", err)
		}
		kept, err := sup.Restore(h.Key(), open)
		if err != nil {
			return fmt.Errorf("supplier: %w", err)
		}
		s.logger.Info("supplier ready", "open_contracts", len(open), "shards", kept)
		s.sup = sup
	}
	if err := s.sup.Serve(h); err != nil {
		return err
	}
	sub, err := s.signer.acquire()
	if err != nil {
		s.sup.Stop()
		return err
	}
	loop, cancel := context.WithCancel(context.Background())
	s.stop, s.done, s.sub = cancel, make(chan struct{}), sub
	go s.receipts(loop, s.sup, sub, s.done)
	return nil
}

// receipts asks for the storage and bandwidth receipts due every period, and for bandwidth
// receipts whenever a customer has read a step's worth, and submits those countersigned in one
// transaction a round, until ctx ends (P-8).
func (s *supplierService) receipts(ctx context.Context, sup *p2p.Supplier, sub *client.Submitter, done chan struct{}) {
	defer close(done)
	defer s.signer.release()
	t := time.NewTicker(s.period)
	defer t.Stop()
	for {
		var evs []ledger.Event
		select {
		case <-ctx.Done():
			return
		case <-sup.BandwidthDue(): // a customer has read a step's worth: only bandwidth now
		case <-t.C:
			signed, errs := sup.CollectReceipts(ctx)
			for _, err := range errs {
				s.logger.Info("storage receipt not countersigned", "err", err)
			}
			for _, r := range signed {
				evs = append(evs, r)
			}
		}
		bw, errs := sup.CollectBandwidth(ctx)
		for _, err := range errs {
			s.logger.Info("bandwidth receipt not countersigned", "err", err)
		}
		for _, r := range bw {
			evs = append(evs, r)
		}
		if len(evs) == 0 {
			continue
		}
		// Submitted without waiting for the commit: a customer reading fast needs its next
		// bandwidth receipt collected within a step, not a block, later.
		p, err := sub.Submit(ctx, evs...)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("receipts not submitted", "receipts", len(evs), "err", err)
			}
			continue
		}
		go func(n int) {
			if _, err := p.Wait(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("receipts not committed", "receipts", n, "err", err)
			}
		}(len(evs))
	}
}

// openContracts lists the contracts the ledger has open with key as their supplier: the
// supplier countersigned each, and keeps their space and shards across a restart.
func (s *supplierService) openContracts(ctx context.Context, key ledger.PubKey) ([]p2p.OpenContract, error) {
	var out []p2p.OpenContract
	err := ledgerOpenContracts(ctx, s.ledger, key, func(open *ledger.ContractOpen, r *ledger.ContractRecord) {
		if open.Supplier == key {
			out = append(out, p2p.OpenContract{Open: *open, StorageReceipts: r.StorageReceipts.Highest, BandwidthReceipts: r.BandwidthReceipts.Highest})
		}
	})
	return out, err
}

// ledgerOpenContracts calls each with every contract_open of key's (as customer or supplier)
// that the ledger still holds open, and its record. A chain that has committed nothing yet has
// none.
func ledgerOpenContracts(ctx context.Context, c *client.Client, key ledger.PubKey, each func(*ledger.ContractOpen, *ledger.ContractRecord)) error {
	first := true
	for rec, err := range c.AllEvents(ctx, api.EventsRequest{Node: key.String(), Kind: ledger.KindContractOpen.String()}) {
		if errors.Is(err, api.ErrNotFound) && first {
			return nil
		}
		first = false
		if err != nil {
			return err
		}
		open, ok := rec.Event.(*ledger.ContractOpen)
		if !ok {
			continue
		}
		v, err := c.ContractOf(ctx, open)
		if err != nil {
			return err
		}
		if v.Record != nil && !v.Record.Closed {
			each(open, v.Record)
		}
	}
	return nil
}

func (s *supplierService) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		<-s.done
		s.stop, s.done, s.sub = nil, nil, nil
	}
	if s.sup != nil {
		s.sup.Stop()
	}
	return nil
}

// ErrSupplierOff: the supplier service is not running.
var ErrSupplierOff = errors.New("the supplier service is not running (`trustd services start supplier`)")

// SupplierContracts lists the supplier's contracts.
func (s *supplierService) SupplierContracts(context.Context) ([]p2p.SupplierContract, error) {
	s.mu.Lock()
	sup := s.sup
	s.mu.Unlock()
	if sup == nil {
		return nil, ErrSupplierOff
	}
	return sup.Contracts(), nil
}

// Quit leaves a contract (P-4): no more shards under it, a contract_close (quit) committed to
// the ledger, and only then its shards deleted.
func (s *supplierService) Quit(ctx context.Context, contract string) (p2p.SupplierContract, error) {
	var out p2p.SupplierContract
	var id ledger.ID
	if err := id.UnmarshalJSON([]byte(`"` + strings.TrimSpace(contract) + `"`)); err != nil {
		return out, fmt.Errorf("contract id %q: want 64 hex digits: %w", contract, err)
	}
	s.mu.Lock()
	sup, sub := s.sup, s.sub
	s.mu.Unlock()
	if sup == nil || sub == nil {
		return out, ErrSupplierOff
	}
	for _, c := range sup.Contracts() {
		if c.Open.ContractID == id {
			out = c
		}
	}
	closing, err := sup.Quit(id)
	if err != nil {
		return out, err
	}
	// The key's one submitter: a second would pick a sequence a receipt still in flight holds
	// (CI once saw replayed_tx here).
	if _, _, err := sub.SubmitAndWait(ctx, closing); err != nil {
		return out, fmt.Errorf("contract %s: the close did not reach the ledger; its shards stay, and no new ones are taken: %w", id, err)
	}
	out.Quitting = true
	return out, sup.Forget(id)
}
