package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/trustledger/trustledger/api"
	"github.com/trustledger/trustledger/client"
	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/atomicfile"
	"github.com/trustledger/trustledger/node/journal"
	"github.com/trustledger/trustledger/p2p"
	"github.com/trustledger/trustledger/p2p/stripe"
	"github.com/trustledger/trustledger/reputation"
)

// Errors of the backups, for errors.Is.
var (
	// ErrCustomerOff: the customer service is not running.
	ErrCustomerOff = errors.New("the customer service is not running (`trustd services start customer`)")
	// ErrNoSuchBackup: no file of the catalogue has that id (or the prefix names none).
	ErrNoSuchBackup = errors.New("no backed-up file with that id")
	// ErrAmbiguousID: the id prefix names more than one file.
	ErrAmbiguousID = errors.New("the id prefix names more than one file")
	// ErrTooFewSuppliers: fewer suppliers than a stripe needs took a contract.
	ErrTooFewSuppliers = errors.New("too few suppliers took a contract")
	// ErrExists: the output path of a get exists already.
	ErrExists = errors.New("the output path exists already")
)

// customerService keeps the node's backups on other nodes ([customer], specs/p2p.md P-9,
// P-10): it hires suppliers among the registered nodes by the node's own trust view, places
// files as encrypted, erasure-coded stripes, reads them back, audits its suppliers and
// countersigns their receipts. Its catalogue (the index of files) and its records are local
// files under data/customer; the index also lives sealed on its suppliers, so that the key
// alone brings everything back.
type customerService struct {
	host    func() *p2p.Host
	key     ed25519.PrivateKey
	chainID string
	conf    CustomerSection
	space   uint64 // conf.ContractSpace in bytes
	audits  time.Duration
	ledger  *client.Client
	trust   *TrustService
	signer  *keySubmitter // the node key's submitter, shared with the supplier service
	dir     string
	journal *journal.Journal
	logger  log.Logger
	// policy reads trust.toml's [manager] table at each start (the audit schedule).
	policy func() (ManagerPolicy, error)

	op sync.Mutex // one backup operation at a time: puts, gets and removes do not interleave

	mu    sync.Mutex
	cust  *p2p.Customer
	sub   *client.Submitter
	cat   catalogue
	ctx   context.Context // ends when the service stops: operations in flight end with it
	stop  context.CancelFunc
	done  chan struct{}
	audit map[ledger.ID]uint64 // the next audit number to use, per contract
	// audited is when (unix nanoseconds) each shard, by commitment digest, was last audited;
	// auditInterval how long apart the schedule wants two audits of one shard.
	audited       map[ledger.ID]int64
	auditInterval time.Duration
	auditStart    time.Time // when the service started
}

// catalogue is the customer's local state: what its index holds, where the index is, and the
// supplier slots it has filled (reputation.View.Choose's counter).
type catalogue struct {
	Index       p2p.Index       `json:"index"`
	IndexRecord *p2p.FileRecord `json:"index_record,omitempty"`
	Slots       uint64          `json:"slots"`
}

func newCustomerService(home Home, chainID string, sec CustomerSection, host func() *p2p.Host, key ed25519.PrivateKey, c *client.Client, trust *TrustService, logger log.Logger) (*customerService, error) {
	space, err := sec.Bytes()
	if err != nil {
		return nil, err
	}
	period, err := sec.AuditEveryDuration()
	if err != nil {
		return nil, err
	}
	return &customerService{host: host, key: key, chainID: chainID, conf: sec, space: space, audits: period, ledger: c, trust: trust,
		dir: filepath.Join(home.DataDir(), "customer"), journal: journal.Open(home.JournalDir()), logger: logger}, nil
}

func (s *customerService) cataloguePath() string { return filepath.Join(s.dir, "catalogue.json") }
func (s *customerService) recordsPath() string   { return filepath.Join(s.dir, "records.json") }

func readJSONFile(path string, v any) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSONFile(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, raw, 0o600)
}

func (s *customerService) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cust != nil {
		return nil
	}
	h := s.host()
	if h == nil {
		return errors.New("the p2p host is not running")
	}
	policy, err := s.policy()
	if err != nil {
		return err
	}
	interval := policy.AuditInterval(auditLeaves)
	if s.audits > interval {
		return fmt.Errorf("[customer] audit_every %s is longer than the audit schedule allows: trust.toml's [manager] (audit_loss %v within %s at %v) wants every shard audited every %s; "+
			"shorten audit_every or lengthen audit_window", s.audits, policy.AuditLoss, durationText(policy.AuditWindow), policy.AuditConfidence, interval.Round(time.Second))
	}
	audited, err := s.loadAudited()
	if err != nil {
		return fmt.Errorf("customer audits: %w", err)
	}
	var cat catalogue
	if err := readJSONFile(s.cataloguePath(), &cat); err != nil {
		return fmt.Errorf("customer catalogue: %w", err)
	}
	var recs p2p.CustomerRecords
	if err := readJSONFile(s.recordsPath(), &recs); err != nil {
		return fmt.Errorf("customer records: %w", err)
	}
	cust := p2p.NewCustomer(h, s.chainID, s.journal)
	if err := cust.LoadRecords(recs); err != nil {
		return fmt.Errorf("customer records: %w", err)
	}
	cust.SetIndexRecord(cat.IndexRecord)
	// The contracts the ledger has open with this customer: those its records lack (lost with
	// a disk) are adopted, so that their shards can be read again.
	opens, err := s.openContracts(ctx, h.Key())
	if err != nil {
		return fmt.Errorf("customer: reading its contracts from the ledger: %w", err)
	}
	for _, open := range opens {
		if err := cust.Adopt(open); err != nil {
			return err
		}
	}
	path := s.recordsPath()
	cust.SetRecorder(func(r p2p.CustomerRecords) error { return writeJSONFile(path, r) })
	if err := writeJSONFile(path, cust.Records()); err != nil {
		return fmt.Errorf("customer records: %w", err)
	}
	sub, err := s.signer.acquire()
	if err != nil {
		return err
	}
	for _, open := range cust.Contracts() {
		if id, err := p2p.PeerID(open.Supplier); err == nil {
			h.Protect(id, "supplier") // hired suppliers keep their connections (the manager trims others)
		}
	}
	cust.ServeReceipts()
	loop, cancel := context.WithCancel(context.Background())
	s.cust, s.sub, s.cat, s.ctx, s.stop, s.done = cust, sub, cat, loop, cancel, make(chan struct{})
	s.audit, s.audited, s.auditInterval, s.auditStart = map[ledger.ID]uint64{}, audited, interval, time.Now()
	auditDone, payDone := make(chan struct{}), make(chan struct{})
	go s.auditLoop(loop, auditDone)
	go func() { defer close(payDone); s.payLoop(loop, cust) }()
	allDone := s.done
	go func() { <-auditDone; <-payDone; close(allDone) }() // Stop waits for both
	go s.resumeLoop(loop)                                  // a fire a crash interrupted is finished first
	s.logger.Info("customer ready", "files", len(cat.Index.Files), "contracts", len(cust.Contracts()))
	return nil
}

func (s *customerService) Stop() error {
	s.mu.Lock()
	cust, stop, done := s.cust, s.stop, s.done
	s.mu.Unlock()
	if cust == nil {
		return nil
	}
	stop() // operations in flight end now
	<-done
	s.op.Lock() // and have ended
	defer s.op.Unlock()
	cust.StopReceipts()
	s.signer.release()
	s.mu.Lock()
	s.cust, s.sub = nil, nil
	s.mu.Unlock()
	return cust.Flush()
}

// running returns the customer, its host and a context that ends with the request or the
// service.
func (s *customerService) running(ctx context.Context) (*p2p.Customer, *p2p.Host, context.Context, context.CancelFunc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cust == nil {
		return nil, nil, nil, nil, ErrCustomerOff
	}
	h := s.host()
	if h == nil {
		return nil, nil, nil, nil, errors.New("the p2p host is not running")
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return s.cust, h, ctx, func() { stop(); cancel() }, nil
}

// exclusive is running for an operation that changes the catalogue: one at a time (puts and
// removes do not interleave); done releases it.
func (s *customerService) exclusive(ctx context.Context) (*p2p.Customer, *p2p.Host, context.Context, context.CancelFunc, error) {
	cust, h, ctx, done, err := s.running(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	s.op.Lock()
	return cust, h, ctx, func() { s.op.Unlock(); done() }, nil
}

// openContracts lists the contracts the ledger has open with key as their customer.
func (s *customerService) openContracts(ctx context.Context, key ledger.PubKey) ([]ledger.ContractOpen, error) {
	var out []ledger.ContractOpen
	err := ledgerOpenContracts(ctx, s.ledger, key, func(open *ledger.ContractOpen, _ *ledger.ContractRecord) {
		if open.Customer == key {
			out = append(out, *open)
		}
	})
	return out, err
}

func (s *customerService) saveCatalogue() error {
	s.mu.Lock()
	cat := s.cat
	s.mu.Unlock()
	if err := writeJSONFile(s.cataloguePath(), cat); err != nil {
		return fmt.Errorf("customer catalogue: %w", err)
	}
	return nil
}

// BackupFile is one file of the catalogue.
type BackupFile struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Size   uint64    `json:"size"`
	Stored time.Time `json:"stored"`
	SHA256 string    `json:"sha256"`
	// Stripes is how many stripes the file has, each of K data and M parity shards on K+M
	// suppliers.
	Stripes int `json:"stripes"`
	K       int `json:"k"`
	M       int `json:"m"`
}

func backupFile(r p2p.FileRecord) BackupFile {
	f := BackupFile{ID: r.ID.String(), Name: r.Name, Size: r.Size, Stored: time.Unix(r.Stored, 0).UTC(), SHA256: r.Hash.String(), Stripes: len(r.Stripes)}
	if len(r.Stripes) > 0 {
		f.K, f.M = r.Stripes[0].K, r.Stripes[0].M
	}
	return f
}

// BackupProgress is how far an operation is: bytes done of the total, and the file at hand.
type BackupProgress struct {
	File  string `json:"file"`
	Done  uint64 `json:"done"`
	Total uint64 `json:"total"`
}

// BackupPutResult is what a put stored.
type BackupPutResult struct {
	Files []BackupFile `json:"files"`
	// Suppliers are the keys of the suppliers that hold the files' shards.
	Suppliers []string `json:"suppliers"`
	Hired     []string `json:"hired,omitempty"` // contracts opened for this put
	Seconds   float64  `json:"seconds"`
}

// toPut is one file a put reads.
type toPut struct {
	path, name string
	size       uint64
}

// collect lists the regular files of paths (a directory's, recursively, named by their path
// from the directory's parent). Anything else is an error that names it: nothing is put unless
// everything can be.
func collect(paths []string) ([]toPut, error) {
	var out []toPut
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			out = append(out, toPut{path: abs, name: filepath.Base(abs), size: uint64(fi.Size())})
			continue
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is neither a regular file nor a directory", abs)
		}
		parent := filepath.Dir(abs)
		err = filepath.WalkDir(abs, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file (symbolic links, devices and sockets are not backed up)", path)
			}
			rel, err := filepath.Rel(parent, path)
			if err != nil {
				return err
			}
			out = append(out, toPut{path: path, name: filepath.ToSlash(rel), size: uint64(info.Size())})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to back up: no regular file in the paths given")
	}
	return out, nil
}

// Put backs up the files at paths (files, or directories whose files are all put), then saves
// the index on the suppliers. Each file is read once, a stripe at a time.
func (s *customerService) Put(ctx context.Context, paths []string, progress func(BackupProgress)) (BackupPutResult, error) {
	var res BackupPutResult
	started := time.Now()
	files, err := collect(paths)
	if err != nil {
		return res, err
	}
	cust, _, ctx, done, err := s.exclusive(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	var total, need uint64
	for _, f := range files {
		total += f.size
		need += p2p.FileShardBytes(f.size, s.conf.DataShards)
	}
	spread, hired, err := s.spread(ctx, cust, need+s.indexNeed())
	if err != nil {
		return res, err
	}
	res.Hired = hired
	key, err := stripe.Key(s.key)
	if err != nil {
		return res, err
	}
	var before uint64
	for _, f := range files {
		r, err := os.Open(f.path)
		if err != nil {
			return res, err
		}
		var id ledger.ID
		_, _ = rand.Read(id[:])
		tell := func(n uint64) {
			if progress != nil {
				progress(BackupProgress{File: f.name, Done: before + n, Total: total})
			}
		}
		sp := spread
		sp.Size = f.size // the slow-supplier rule acts on large files only (specs/p2p.md P-9)
		rec, err := cust.PutFile(ctx, key, id, r, sp, tell)
		r.Close()
		if err != nil {
			return res, fmt.Errorf("%s: %w", f.path, err)
		}
		rec.Name, rec.Stored = f.name, time.Now().Unix()
		for _, sr := range rec.Stripes {
			for _, cm := range sr.Shards {
				if sup := cm.Supplier.String(); !slices.Contains(res.Suppliers, sup) {
					res.Suppliers = append(res.Suppliers, sup)
				}
			}
		}
		before += rec.Size
		s.mu.Lock()
		s.cat.Index.Files = append(s.cat.Index.Files, rec)
		s.mu.Unlock()
		if err := s.saveCatalogue(); err != nil {
			return res, err
		}
		res.Files = append(res.Files, backupFile(rec))
	}
	if err := s.saveIndex(ctx, cust, key, spread); err != nil {
		return res, err
	}
	res.Seconds = time.Since(started).Seconds()
	return res, nil
}

// indexNeed is what each supplier of the index holds of it (its shards and its header), with
// room for the files a put adds.
func (s *customerService) indexNeed() uint64 {
	s.mu.Lock()
	n := len(s.cat.Index.Files)
	s.mu.Unlock()
	guess := uint64(4096 + 2048*(n+64)) // JSON of a file record with a few stripes, generously
	return p2p.FileShardBytes(guess, s.conf.DataShards) + guess
}

// saveIndex saves the catalogue's index, one version up, on spread's suppliers.
func (s *customerService) saveIndex(ctx context.Context, cust *p2p.Customer, key [32]byte, spread p2p.Spread) error {
	s.mu.Lock()
	s.cat.Index.Version++
	idx := s.cat.Index
	s.mu.Unlock()
	err := cust.SaveIndex(ctx, key, idx, spread)
	s.mu.Lock()
	s.cat.IndexRecord = cust.IndexRecord()
	s.mu.Unlock()
	if serr := s.saveCatalogue(); serr != nil {
		return errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("the index on the suppliers is not up to date (a restore from the key alone would find the previous one until the next put or rm succeeds): %w", err)
	}
	return nil
}

// spread finds K+M contracts on distinct suppliers with need bytes free each, hiring suppliers
// by the node's own trust view when the known contracts do not suffice. It returns the contracts
// it opened.
func (s *customerService) spread(ctx context.Context, cust *p2p.Customer, need uint64) (p2p.Spread, []string, error) {
	k, m := s.conf.DataShards, s.conf.ParityShards
	sp := p2p.Spread{K: k, M: m}
	h := s.host()
	if h == nil {
		return sp, nil, errors.New("the p2p host is not running")
	}
	now := time.Now().Unix()
	best := map[ledger.PubKey]ledger.ID{} // supplier → its contract with the most room
	room := map[ledger.ID]uint64{}
	for _, open := range cust.Contracts() {
		free, err := cust.Free(open.ContractID)
		if err != nil || free < need {
			continue
		}
		v, err := s.ledger.ContractOf(ctx, &open)
		if err != nil || v.Record == nil || v.Record.Closed || uint64(v.Record.OpenedTime)+open.DurationSeconds < uint64(now)+3600 {
			continue // not in the ledger (yet), closed, or ending within the hour
		}
		if s.reach(ctx, h, open.Supplier) != nil { // last: it may take seconds
			continue
		}
		if cur, ok := best[open.Supplier]; !ok || free > room[cur] {
			best[open.Supplier] = open.ContractID
		}
		room[open.ContractID] = free
	}
	var suppliers []ledger.PubKey
	for sup := range best {
		suppliers = append(suppliers, sup)
	}
	// The known suppliers, most trusted first (ties by key): a put goes to the same ones as the
	// last, so their contracts fill up before new ones open; the next ones are its spares.
	slices.SortFunc(suppliers, func(a, b ledger.PubKey) int { return compareKeys(a, b) })
	ranked := s.rank(cust, suppliers)
	used := ranked[:min(len(ranked), k+m)]
	for _, sup := range used {
		sp.Contracts = append(sp.Contracts, best[sup])
	}
	for _, sup := range ranked[len(used):min(len(ranked), k+m+maxSpares)] {
		sp.Spares = append(sp.Spares, best[sup])
	}
	var hired []string
	if len(sp.Contracts) < k+m {
		// Hire what is missing and one spare more, if someone takes it.
		missing := k + m - len(sp.Contracts)
		opened, err := s.hire(ctx, cust, h, ranked, missing, missing+1, need)
		for i, open := range opened {
			if i < missing {
				sp.Contracts = append(sp.Contracts, open.ContractID)
			} else {
				sp.Spares = append(sp.Spares, open.ContractID)
			}
			hired = append(hired, open.ContractID.String())
		}
		if err != nil {
			return sp, hired, err
		}
	}
	return sp, hired, nil
}

// maxSpares is how many spare suppliers a put keeps at hand for shards whose supplier fails or
// stalls (p2p.Spread).
const maxSpares = 2

// reach connects to a node unless it is connected already, within a few seconds: at the
// addresses the peerstore has, or those the DHT finds.
func (s *customerService) reach(ctx context.Context, h *p2p.Host, node ledger.PubKey) error {
	to, err := p2p.PeerID(node)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return h.Reach(ctx, to)
}

func compareKeys(a, b ledger.PubKey) int { return bytes.Compare(a[:], b[:]) }

// rank orders suppliers by this node's trust in them, highest first (ties by key).
func (s *customerService) rank(cust *p2p.Customer, suppliers []ledger.PubKey) []ledger.PubKey {
	observer := s.host().Key()
	score := map[ledger.PubKey]float64{}
	for _, sup := range suppliers {
		if a, err := s.trust.Score(observer, sup); err == nil {
			score[sup] = a.Score.Score
		}
	}
	out := slices.Clone(suppliers)
	slices.SortStableFunc(out, func(a, b ledger.PubKey) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return compareKeys(a, b)
	})
	return out
}

// hire opens up to n contracts (and at least atLeast, or fails) of need bytes or more with
// suppliers not in taken, chosen among the registered peers the host can reach by this node's
// trust view (reputation.View.Choose, with its newcomer share and diversity rule). A supplier
// that refuses is passed over for the next choice; the contracts the suppliers signed are
// committed to the ledger in one transaction.
func (s *customerService) hire(ctx context.Context, cust *p2p.Customer, h *p2p.Host, taken []ledger.PubKey, atLeast, n int, need uint64) ([]ledger.ContractOpen, error) {
	candidates, err := s.candidates(ctx, h, taken)
	if err != nil {
		return nil, err
	}
	space := max(s.space, need)
	var opened []ledger.ContractOpen
	var chosen []reputation.Choice // why each was hired
	var refusals []string
	for len(opened) < n && len(candidates) > 0 {
		s.mu.Lock()
		slot := s.cat.Slots
		s.mu.Unlock()
		choices, err := s.trust.Choose(h.Key(), candidates, n-len(opened), slot)
		if err != nil {
			return opened, fmt.Errorf("choosing suppliers: %w", err)
		}
		if len(choices) == 0 {
			break
		}
		for _, ch := range choices {
			candidates = slices.DeleteFunc(candidates, func(c reputation.Candidate) bool { return c.Node == ch.Node })
			var id ledger.ID
			_, _ = rand.Read(id[:])
			offer := ledger.ContractOpen{ContractID: id, Customer: h.Key(), Supplier: ch.Node, Bytes: space,
				DurationSeconds: s.conf.ContractDays * 86400, PricePerGiBMonth: s.conf.PricePerGiBMonth}
			to, err := p2p.PeerID(ch.Node)
			if err != nil {
				return opened, err
			}
			if err := s.reach(ctx, h, ch.Node); err != nil {
				refusals = append(refusals, fmt.Sprintf("%s: unreachable: %v", ch.Node, err))
				continue
			}
			signed, err := cust.Offer(ctx, to, offer)
			if err != nil {
				refusals = append(refusals, fmt.Sprintf("%s: %v", ch.Node, err))
				continue
			}
			opened = append(opened, signed)
			chosen = append(chosen, ch)
			h.Protect(to, "supplier")
		}
		s.mu.Lock()
		s.cat.Slots += uint64(len(choices))
		s.mu.Unlock()
	}
	if len(opened) > 0 {
		evs := make([]ledger.Event, len(opened))
		for i := range opened {
			evs[i] = &opened[i]
		}
		if _, _, err := s.sub.SubmitAndWait(ctx, evs...); err != nil {
			return nil, fmt.Errorf("committing %d contracts: %w", len(opened), err)
		}
		for i, open := range opened {
			why := fmt.Sprintf("chosen by this node's trust view (score %.3f)", chosen[i].Score)
			if chosen[i].Explored {
				why = fmt.Sprintf("chosen through the newcomer share of this node's trust view (score %.3f)", chosen[i].Score)
			}
			if err := s.decide(SupplierDecision{Time: time.Now().UTC(), Action: "hire", Supplier: open.Supplier.String(),
				Contract: open.ContractID.String(), Reason: why, Score: chosen[i].Score, Explored: chosen[i].Explored}); err != nil {
				return opened, fmt.Errorf("history: %w", err)
			}
		}
	}
	if err := s.saveCatalogue(); err != nil {
		return opened, err
	}
	if len(opened) < atLeast {
		if len(refusals) == 0 {
			refusals = []string{"none"}
		}
		// The candidates left are the ones this node's view does not hire now: newcomers beyond
		// its newcomer share, or nodes others report below its hire threshold (specs/trust.md §5).
		return opened, fmt.Errorf("%w: %d more needed; %d more reachable registered peers that this node's trust view does not hire now (newcomers beyond its newcomer share, or below its hire threshold: `trustd trust score PEER` says which); refusals: %s", ErrTooFewSuppliers,
			atLeast-len(opened), len(candidates), strings.Join(refusals, "; "))
	}
	return opened, nil
}

// maxCandidates bounds the registered nodes one hire considers.
const maxCandidates = 10_000

// candidates are the registered nodes (from the ledger, at most maxCandidates) other than this
// one and those in taken, with the network group the host knows of each: suppliers to choose
// among. Whether one is reachable is found out only if it is chosen.
func (s *customerService) candidates(ctx context.Context, h *p2p.Host, taken []ledger.PubKey) ([]reputation.Candidate, error) {
	known := map[ledger.PubKey]p2p.PeerInfo{}
	for _, p := range h.Peers() {
		known[p.Key] = p
	}
	var out []reputation.Candidate
	seen := map[ledger.PubKey]bool{h.Key(): true}
	for _, k := range taken {
		seen[k] = true
	}
	for rec, err := range s.ledger.AllEvents(ctx, api.EventsRequest{Kind: ledger.KindRegisterNode.String(), Limit: api.MaxPageSize}) {
		if errors.Is(err, api.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing registered nodes: %w", err)
		}
		if seen[rec.Subject] {
			continue
		}
		seen[rec.Subject] = true
		out = append(out, reputation.Candidate{Node: rec.Subject, Network: known[rec.Subject].Network})
		if len(out) == maxCandidates {
			break
		}
	}
	slices.SortFunc(out, func(a, b reputation.Candidate) int { return compareKeys(a.Node, b.Node) })
	return out, nil
}

// find returns the catalogue's file whose id starts with prefix (hex, at least 4 digits).
func (s *customerService) find(prefix string) (p2p.FileRecord, error) {
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	if len(prefix) < 4 {
		return p2p.FileRecord{}, fmt.Errorf("id %q: give at least 4 hex digits of it (`trustd backup ls`)", prefix)
	}
	if _, err := hex.DecodeString(prefix[:len(prefix)&^1]); err != nil {
		return p2p.FileRecord{}, fmt.Errorf("id %q is not hex: %w", prefix, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []p2p.FileRecord
	for _, f := range s.cat.Index.Files {
		if strings.HasPrefix(f.ID.String(), prefix) {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return p2p.FileRecord{}, fmt.Errorf("%w: %s", ErrNoSuchBackup, prefix)
	case 1:
		return found[0], nil
	}
	return p2p.FileRecord{}, fmt.Errorf("%w: %s names %d files; give more digits", ErrAmbiguousID, prefix, len(found))
}

// List returns the catalogue, oldest first.
func (s *customerService) List(context.Context) ([]BackupFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cust == nil {
		return nil, ErrCustomerOff
	}
	out := []BackupFile{}
	for _, f := range s.cat.Index.Files {
		out = append(out, backupFile(f))
	}
	return out, nil
}

// Get writes file id (an id prefix) to out (a path that does not exist, or a directory to write
// the file into under its base name), verified: the bytes are written to a temporary file
// beside it, synced, and renamed only once the whole file's hash matches. It returns the path
// written.
func (s *customerService) Get(ctx context.Context, id, out string, progress func(BackupProgress)) (string, error) {
	cust, _, ctx, done, err := s.running(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	rec, err := s.find(id)
	if err != nil {
		return "", err
	}
	key, err := stripe.Key(s.key)
	if err != nil {
		return "", err
	}
	return getTo(ctx, cust, key, rec, out, progress)
}

// getTo is Get's work, also a restore's.
func getTo(ctx context.Context, cust *p2p.Customer, key [32]byte, rec p2p.FileRecord, out string, progress func(BackupProgress)) (string, error) {
	out, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(out); err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %s (remove it or name another)", ErrExists, out)
		}
		out = filepath.Join(out, filepath.Base(filepath.FromSlash(rec.Name)))
		if _, err := os.Lstat(out); err == nil {
			return "", fmt.Errorf("%w: %s (remove it or name another)", ErrExists, out)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; a failed get leaves nothing
	tell := func(n uint64) {
		if progress != nil {
			progress(BackupProgress{File: rec.Name, Done: n, Total: rec.Size})
		}
	}
	err = cust.GetFile(ctx, key, rec, tmp, tell)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("file %s (%s): %w", rec.ID, rec.Name, err)
	}
	if _, err := os.Lstat(out); err == nil {
		return "", fmt.Errorf("%w: %s appeared while the file was read back", ErrExists, out)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// BackupRemoveResult is what a remove did.
type BackupRemoveResult struct {
	File BackupFile `json:"file"`
	// Left are the shards the suppliers did not confirm deleting (unreachable, say): the
	// customer counts them deleted and pays for them no more; the supplier drops them when the
	// contract ends.
	Left []string `json:"left,omitempty"`
}

// Remove takes file id out of the catalogue and the index, and once the index on the suppliers
// no longer lists it, deletes its shards. If the index cannot be saved, nothing is removed.
func (s *customerService) Remove(ctx context.Context, id string) (BackupRemoveResult, error) {
	var res BackupRemoveResult
	cust, _, ctx, done, err := s.exclusive(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	rec, err := s.find(id)
	if err != nil {
		return res, err
	}
	res.File = backupFile(rec)
	key, err := stripe.Key(s.key)
	if err != nil {
		return res, err
	}
	s.mu.Lock()
	kept := s.cat.Index.Files
	s.cat.Index.Files = slices.DeleteFunc(slices.Clone(kept), func(f p2p.FileRecord) bool { return f.ID == rec.ID })
	s.mu.Unlock()
	spread, _, err := s.spread(ctx, cust, s.indexNeed())
	if err == nil {
		err = s.saveIndex(ctx, cust, key, spread)
	}
	if err != nil {
		s.mu.Lock()
		s.cat.Index.Files = kept
		s.mu.Unlock()
		return res, errors.Join(fmt.Errorf("nothing removed: %w", err), s.saveCatalogue())
	}
	for si, sr := range rec.Stripes {
		for i, cm := range sr.Shards {
			if err := cust.Delete(ctx, cm.ContractID, cm.ShardID); err != nil {
				res.Left = append(res.Left, fmt.Sprintf("stripe %d shard %d: %v", si, i, err))
			}
		}
	}
	return res, nil
}

// BackupRestoreResult is what a restore found and wrote.
type BackupRestoreResult struct {
	IndexVersion uint64       `json:"index_version"`
	Files        []BackupFile `json:"files"`
	Written      []string     `json:"written,omitempty"` // the paths written, with a target directory
	Failed       []string     `json:"failed,omitempty"`  // the ids of the files that could not be
}

// Restore finds the newest index on the suppliers of the ledger's open contracts of this
// customer, opened with the key alone, and makes it the catalogue; with to, it also writes
// every file under that directory, by its name.
func (s *customerService) Restore(ctx context.Context, to string, progress func(BackupProgress)) (BackupRestoreResult, error) {
	var res BackupRestoreResult
	cust, h, ctx, done, err := s.exclusive(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	opens, err := s.openContracts(ctx, h.Key())
	if err != nil {
		return res, err
	}
	var ids []ledger.ID
	for _, open := range opens {
		if err := cust.Adopt(open); err != nil {
			return res, err
		}
		ids = append(ids, open.ContractID)
	}
	if len(ids) == 0 {
		return res, fmt.Errorf("%w: the ledger holds no open contract of %s", p2p.ErrNoIndex, h.Key())
	}
	key, err := stripe.Key(s.key)
	if err != nil {
		return res, err
	}
	idx, err := cust.RestoreIndex(ctx, key, ids)
	if err != nil {
		return res, err
	}
	s.mu.Lock()
	if idx.Version >= s.cat.Index.Version || len(s.cat.Index.Files) == 0 {
		s.cat.Index = idx
		s.cat.IndexRecord = cust.IndexRecord()
	}
	s.mu.Unlock()
	if err := s.saveCatalogue(); err != nil {
		return res, err
	}
	res.IndexVersion = idx.Version
	var total, before uint64
	var failed []error
	for _, f := range idx.Files {
		res.Files = append(res.Files, backupFile(f))
		total += f.Size
	}
	if to == "" {
		return res, nil
	}
	for _, f := range idx.Files {
		name := filepath.FromSlash(f.Name)
		if f.Name == "" || filepath.IsAbs(name) || !filepath.IsLocal(name) {
			return res, fmt.Errorf("file %s: its name %q is not a relative path inside the target", f.ID, f.Name)
		}
		target := filepath.Join(to, name)
		if _, err := os.Lstat(target); err == nil {
			target = fmt.Sprintf("%s.%s", target, f.ID.String()[:8]) // two versions of one name
		}
		tell := func(p BackupProgress) {
			if progress != nil {
				progress(BackupProgress{File: f.Name, Done: before + p.Done, Total: total})
			}
		}
		written, err := getTo(ctx, cust, key, f, target, tell)
		before += f.Size
		if err != nil {
			if ctx.Err() != nil {
				return res, err
			}
			failed = append(failed, err) // the others are still worth having
			res.Failed = append(res.Failed, f.ID.String())
			continue
		}
		res.Written = append(res.Written, written)
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%d of %d files could not be restored: %w", len(failed), len(idx.Files), errors.Join(failed...))
	}
	return res, nil
}

// Backups are the customer service's operations, the same for a caller in the node's process
// (Node.Backups) and for another process through the control socket (Control). Progress, if
// set, is told how far a put, get or restore is.
type Backups interface {
	Put(ctx context.Context, paths []string, progress func(BackupProgress)) (BackupPutResult, error)
	List(ctx context.Context) ([]BackupFile, error)
	Get(ctx context.Context, id, out string, progress func(BackupProgress)) (string, error)
	Remove(ctx context.Context, id string) (BackupRemoveResult, error)
	Status(ctx context.Context) (BackupStatus, error)
	Audit(ctx context.Context) (BackupAuditResult, error)
	Restore(ctx context.Context, to string, progress func(BackupProgress)) (BackupRestoreResult, error)
	// Suppliers, Fire and History are the customer's suppliers (`trustd suppliers`).
	Suppliers(ctx context.Context) ([]HiredSupplier, error)
	Fire(ctx context.Context, supplier, reason string) (FireResult, error)
	History(ctx context.Context) ([]SupplierDecision, error)
}

var (
	_ Backups = (*customerService)(nil)
	_ Backups = (*Control)(nil)
)
