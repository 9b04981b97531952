package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/journal"
)

// ProtocolReceipt is how a supplier asks its customer to countersign a storage or bandwidth
// receipt of their contract (P-8); customers serve it.
const ProtocolReceipt = protocol.ID("/trustledger/receipt/1.0.0")

// ReceiptRequest is a supplier's receipt, without the countersignature: kind is
// "storage_receipt" or "bandwidth_receipt", event its JSON (specs/events.md).
type ReceiptRequest struct {
	ChainID string          `json:"chain_id"`
	Kind    string          `json:"kind"`
	Event   json.RawMessage `json:"event"`
}

// Customer is the customer's side of the exchange on a host: it offers contracts, places,
// reads and deletes shards, remembers what it agreed to, placed and received, and countersigns
// a supplier's receipts only when its own records say they are true (P-8). Its records live in
// memory unless a recorder keeps them (SetRecorder): without one, after a restart it
// countersigns nothing of what came before, which is safe (it never signs what it cannot
// check).
type Customer struct {
	h           *Host
	chainID     string
	journal     Journal
	now         func() time.Time
	stallAfter  time.Duration // StallAfter; tests shorten it
	slowAfter   time.Duration // SlowAfter; tests shorten it
	slowRuleMin uint64        // SlowRuleMin; tests lower it

	mu        sync.Mutex
	contracts map[ledger.ID]*customerContract
	index     *FileRecord // where the index last saved or restored is (P-10)

	saveMu sync.Mutex // orders saves: the last one holds the newest records
	save   func(CustomerRecords) error
	dirty  bool // placements not saved yet (c.mu)
	// paymentDue is signalled when a storage receipt is countersigned: a payment may be owed.
	paymentDue chan struct{}
}

type customerContract struct {
	open      ledger.ContractOpen
	placed    []placement
	received  uint64 // bytes read back from the supplier and verified
	receipted uint64 // of which covered by bandwidth receipts countersigned
	// periodEnd is the end of the last storage period countersigned: periods do not overlap.
	periodEnd int64
	signed    map[[2]uint64][32]byte // (kind, number) → digest of the receipt countersigned
	// byteSeconds is the storage its countersigned storage receipts cover; paid what the
	// customer paid for it, in payments payments; pending the payment under way (P-13).
	byteSeconds, paid, payments uint64
	pending                     *ledger.Payment
}

// placement is one shard the supplier held for the customer, from when the put was acknowledged
// until the delete was (0: still held), in unix seconds.
type placement struct {
	shard    ledger.ID
	size     uint64
	from, to int64
}

// NewCustomer returns the customer side of h on chainID; j journals each receipt before it is
// countersigned (R-EVID-3). It serves receipt requests once ServeReceipts is called.
func NewCustomer(h *Host, chainID string, j Journal) *Customer {
	return &Customer{h: h, chainID: chainID, journal: j, now: time.Now, stallAfter: StallAfter, slowAfter: SlowAfter, slowRuleMin: SlowRuleMin, contracts: map[ledger.ID]*customerContract{},
		paymentDue: make(chan struct{}, 1)}
}

// ServeReceipts answers suppliers' receipt requests until StopReceipts.
func (c *Customer) ServeReceipts() { c.h.handle(ProtocolReceipt, c.countersign) }

// StopReceipts ends answering receipt requests.
func (c *Customer) StopReceipts() { c.h.h.RemoveStreamHandler(ProtocolReceipt) }

// Offer is Host.OfferContract, and records the contract.
func (c *Customer) Offer(ctx context.Context, to peer.ID, open ledger.ContractOpen) (ledger.ContractOpen, error) {
	signed, err := c.h.OfferContract(ctx, to, c.chainID, open)
	if err != nil {
		return signed, err
	}
	c.mu.Lock()
	if _, ok := c.contracts[signed.ContractID]; !ok {
		c.contracts[signed.ContractID] = &customerContract{open: signed, signed: map[[2]uint64][32]byte{}}
	}
	c.mu.Unlock()
	return signed, c.record()
}

func (c *Customer) contract(id ledger.ID) (*customerContract, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.contracts[id]
	if !ok {
		return nil, fmt.Errorf("contract %s was not offered through this customer", id)
	}
	return cc, nil
}

// Put is Host.PutShard under one of the customer's contracts, and records the placement.
func (c *Customer) Put(ctx context.Context, contract, id ledger.ID, data io.ReaderAt, size uint64, leafSize uint32) (ledger.StorageCommitment, error) {
	root, err := shardRoot(data, size, leafSize)
	if err != nil {
		return ledger.StorageCommitment{}, err
	}
	return c.PutWithRoot(ctx, contract, id, data, size, leafSize, root)
}

// PutWithRoot is Put for a shard whose tree root is known already (Host.PutShardWithRoot).
func (c *Customer) PutWithRoot(ctx context.Context, contract, id ledger.ID, data io.ReaderAt, size uint64, leafSize uint32, root ledger.ID) (ledger.StorageCommitment, error) {
	cc, err := c.contract(contract)
	if err != nil {
		return ledger.StorageCommitment{}, err
	}
	to, err := PeerID(cc.open.Supplier)
	if err != nil {
		return ledger.StorageCommitment{}, err
	}
	cm, err := c.h.PutShardWithRoot(ctx, to, c.chainID, contract, id, data, size, leafSize, root)
	if err != nil {
		return cm, err
	}
	c.mu.Lock()
	cc.placed = append(cc.placed, placement{shard: id, size: size, from: c.now().Unix()})
	c.dirty = true // saved by the next Flush or record: a placement not saved is only countersigned less
	c.mu.Unlock()
	return cm, nil
}

// placedAgain records a placement of shard id under contract that the customer's records may
// have lost (a put acknowledged just before a crash), unless they show it held already.
func (c *Customer) placedAgain(contract, id ledger.ID, size uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc := c.contracts[contract]
	if cc == nil {
		return
	}
	for _, p := range cc.placed {
		if p.shard == id && p.to == 0 {
			return
		}
	}
	cc.placed = append(cc.placed, placement{shard: id, size: size, from: c.now().Unix()})
	c.dirty = true
}

// Get is Host.GetShard from the contract's supplier; verified bytes count as received.
func (c *Customer) Get(ctx context.Context, cm ledger.StorageCommitment, w io.Writer) error {
	cc, err := c.contract(cm.ContractID)
	if err != nil {
		return err
	}
	to, err := PeerID(cc.open.Supplier)
	if err != nil {
		return err
	}
	if err := c.h.GetShard(ctx, to, cm, w); err != nil {
		return err
	}
	c.mu.Lock()
	cc.received += cm.Size
	c.mu.Unlock()
	return nil
}

// Delete is Host.DeleteShard. The placement ends, in the customer's records, before the
// request is sent: whatever the supplier answers, the customer never attests to holding what
// it asked to delete.
func (c *Customer) Delete(ctx context.Context, contract, id ledger.ID) error {
	cc, err := c.contract(contract)
	if err != nil {
		return err
	}
	to, err := PeerID(cc.open.Supplier)
	if err != nil {
		return err
	}
	c.mu.Lock()
	for i := range cc.placed {
		if cc.placed[i].shard == id && cc.placed[i].to == 0 {
			cc.placed[i].to = c.now().Unix()
		}
	}
	c.mu.Unlock()
	if err := c.record(); err != nil {
		return err
	}
	return c.h.DeleteShard(ctx, to, contract, id)
}

// placementSlack is how many seconds before the customer saw a put acknowledged it allows the
// supplier to count it held: the supplier finishes the put before the acknowledgement arrives.
const placementSlack = 2

// heldByteSeconds is what the supplier held for the customer over [start, end), by the
// customer's own records.
func (cc *customerContract) heldByteSeconds(start, end, now int64) uint64 {
	var total uint64
	for _, p := range cc.placed {
		to := p.to
		if to == 0 {
			to = now
		}
		if from, until := max(p.from-placementSlack, start), min(to, end); until > from {
			total += p.size * uint64(until-from)
		}
	}
	return total
}

// countersign answers a supplier's receipt request (P-8).
func (c *Customer) countersign(_ context.Context, from ledger.PubKey, st network.Stream) Reply {
	var req ReceiptRequest
	if err := readMsg(st, &req); err != nil {
		return refuse(CodeBadRequest, "receipt request: %v", err)
	}
	if req.ChainID != c.chainID {
		return refuse(CodeBadRequest, "the receipt is for chain %q; this customer is on %q", req.ChainID, c.chainID)
	}
	if req.Kind != ledger.KindStorageReceipt.String() && req.Kind != ledger.KindBandwidthReceipt.String() {
		return refuse(CodeBadRequest, "%q is not a receipt kind (storage_receipt, bandwidth_receipt)", req.Kind)
	}
	ev, err := ledger.DecodeEventJSON(req.Kind, req.Event)
	if err != nil {
		return refuse(CodeBadRequest, "%v", err)
	}
	if reply, ok := c.admitReceipt(from, ev); !ok {
		return reply
	}
	if err := c.record(); err != nil {
		return refuse(CodeFailed, "%v", err)
	}
	return accept(CountersigReply{Countersig: ledger.Countersign(c.h.priv, c.chainID, ev)})
}

// admitReceipt checks a receipt against the customer's records and, if they bear it out,
// journals it and notes it countersigned (ok); otherwise it returns the refusal.
func (c *Customer) admitReceipt(from ledger.PubKey, ev ledger.Event) (Reply, bool) {
	contract, number, _ := ledger.ReceiptSlot(ev) // countersign admits receipts only
	receipt := ev.(ledger.Bilateral)              // both receipt kinds are
	customer, supplier := receipt.Parties()
	if sig, _ := receipt.Countersignature(); sig != (ledger.Sig{}) {
		return refuse(CodeBadRequest, "the receipt carries a countersignature already; the customer makes it"), false
	}
	if customer != c.h.key || supplier != from {
		return refuse(CodeNoContract, "a receipt between %s and %s is not for this customer to countersign when %s asks", supplier, customer, from), false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.contracts[contract]
	if !ok || cc.open.Supplier != from {
		return refuse(CodeNoContract, "no contract %s with %s here", contract, from), false
	}
	digest := sha256.Sum256(ledger.CountersignBytes(c.chainID, ev))
	slot := [2]uint64{uint64(ev.Kind()), number}
	if prev, ok := cc.signed[slot]; ok {
		if prev != digest {
			return refuse(CodeDuplicate, "%s number %d of contract %s was countersigned already, with other figures", ev.Kind(), number, contract), false
		}
		return Reply{}, true // the same receipt again
	}
	now := c.now().Unix()
	switch r := ev.(type) {
	case *ledger.StorageReceipt:
		held := cc.heldByteSeconds(r.PeriodStart, r.PeriodEnd, now)
		switch {
		case r.PeriodStart < cc.periodEnd:
			return refuse(CodeBadRequest, "the period starts at %d, before the end %d of one already countersigned", r.PeriodStart, cc.periodEnd), false
		case r.PeriodEnd > now+60:
			return refuse(CodeBadRequest, "the period ends at %d, in the future (now %d)", r.PeriodEnd, now), false
		case r.ByteSeconds > held:
			return refuse(CodeBadRequest, "%d byte-seconds claimed; this customer's records show %d held over the period", r.ByteSeconds, held), false
		}
	case *ledger.BandwidthReceipt:
		if left := cc.received - cc.receipted; r.Bytes > left {
			return refuse(CodeBadRequest, "%d bytes claimed; this customer received %d not yet receipted", r.Bytes, left), false
		}
	}
	st1, err := journal.Receipt(c.chainID, ev)
	if err != nil {
		return refuse(CodeBadRequest, "%v", err), false
	}
	if err := c.journal.Record(c.h.key, st1); err != nil {
		return refuse(CodeFailed, "journal: %v", err), false
	}
	cc.signed[slot] = digest
	switch r := ev.(type) {
	case *ledger.StorageReceipt:
		cc.periodEnd = r.PeriodEnd
		cc.byteSeconds = satAdd(cc.byteSeconds, r.ByteSeconds)
		select {
		case c.paymentDue <- struct{}{}:
		default:
		}
	case *ledger.BandwidthReceipt:
		cc.receipted += r.Bytes
	}
	return Reply{}, true
}

// RequestReceipt asks the customer at to to countersign a receipt (a *ledger.StorageReceipt or
// *ledger.BandwidthReceipt this host's key supplies) and returns it countersigned, checked, to
// submit. A refusal is a *RefusedError with the customer's reason.
func (h *Host) RequestReceipt(ctx context.Context, to peer.ID, chainID string, ev ledger.Event) error {
	cs, ok := ev.(ledger.Bilateral)
	if !ok || (ev.Kind() != ledger.KindStorageReceipt && ev.Kind() != ledger.KindBandwidthReceipt) {
		return fmt.Errorf("%s is not a receipt", ev.Kind())
	}
	customer, supplier := cs.Parties()
	if k, err := KeyOf(to); err != nil || k != customer || supplier != h.key {
		return fmt.Errorf("receipt: %s is not the customer %s of this host's (%s) receipt", to, customer, h.key)
	}
	cs.SetCountersignature(ledger.Sig{})
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	var ans CountersigReply
	if err := h.request(ctx, to, ProtocolReceipt, ReceiptRequest{ChainID: chainID, Kind: ev.Kind().String(), Event: raw}, &ans); err != nil {
		return err
	}
	if !ed25519.Verify(customer[:], ledger.CountersignBytes(chainID, ev), ans.Countersig[:]) {
		return fmt.Errorf("receipt from %s: %w", to, ErrBadCountersig)
	}
	cs.SetCountersignature(ans.Countersig)
	return nil
}
