package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/p2p/stripe"
)

// StripeSize is the most plaintext one stripe of a file holds (16 MiB: a 4+2 stripe is then six
// shards of 4 MiB).
const StripeSize = 16 << 20

// ShardLeafSize is the leaf size of the shards' commitments (specs/audit.md): the stripes' too,
// so a stripe's hash of a shard is the root its supplier commits to (P-9).
const ShardLeafSize = stripe.LeafSize

// FileRecord is what a customer keeps of a file it backed up: its stripes, and for each shard
// where it is and the supplier's commitment to it (P-9). With the key it gives the file back.
type FileRecord struct {
	ID ledger.ID `json:"id"`
	// Name and Stored (unix seconds) are the customer's: the name it gave the file and when the
	// put ended. Sealed in the index like the rest, they never leave the device in clear.
	Name    string         `json:"name,omitempty"`
	Stored  int64          `json:"stored,omitempty"`
	Size    uint64         `json:"size"`
	Hash    ledger.ID      `json:"hash"` // SHA-256 of the plaintext, checked after a restore
	Stripes []StripeRecord `json:"stripes"`
}

// StripeRecord is one stripe of a file and where each of its shards went.
type StripeRecord struct {
	stripe.Stripe
	Shards []ledger.StorageCommitment `json:"shards"` // shard i's commitment (its contract and supplier)
}

// ErrFileLost: too few shards of a stripe could be read back.
var ErrFileLost = errors.New("too few shards of the file could be read back")

// shardID names shard i of stripe s of file f.
func shardID(file ledger.ID, s, i int) ledger.ID {
	buf := append([]byte("trustledger shard\x00"), file[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(s))
	buf = binary.BigEndian.AppendUint32(buf, uint32(i))
	return sha256.Sum256(buf)
}

// Spread is where a file's shards go: shard i of every stripe under Contracts[i], one contract
// per supplier, K data and M parity shards (K+M contracts, all distinct suppliers: no two shards
// of a stripe on one peer).
type Spread struct {
	Contracts []ledger.ID
	K, M      int
	// Spares are contracts with other suppliers that a shard goes to instead when its own
	// supplier fails or stalls (P-9: after twice the time the first K shards of its stripe
	// took, and at least StallAfter). A spare that takes over shard i holds it for the rest of
	// the file.
	Spares []ledger.ID
	// Size is the file's size when the caller knows it (0: unknown). The slow-supplier rule
	// (P-9) acts only on a file of SlowRuleMin bytes or more: on a smaller one, waiting for a
	// slow supplier costs seconds at most, and an honest supplier a little behind on a busy
	// machine would lose its place for nothing.
	Size uint64
}

// StallAfter is the least time a shard's put may take before it is retried on a spare, once K
// shards of its stripe are placed (Storj's long-tail rule: twice the first successes' time).
const StallAfter = 10 * time.Second

// A shard still in flight SlowFactor times as long as the K-th placed shard of its stripe took,
// and at least SlowAfter behind it, is on a slow supplier (P-9): it goes on in the background
// while the file goes on, and the next stripes' shards of that slot go to a spare. Twice, as in
// the stall rule (Storj's); only in files of SlowRuleMin or more (Spread.Size).
const (
	SlowFactor = 2
	SlowAfter  = 250 * time.Millisecond
	// SlowRuleMin is the least file size (Spread.Size) the rule acts on: four stripes.
	SlowRuleMin = 4 * StripeSize
)

// PutFile reads r to its end a stripe at a time, seals each stripe under key and places its
// shards as spread says, the shards of a stripe in parallel; progress, if set, is told the
// plaintext bytes placed so far after each stripe. Memory stays about one stripe whatever the
// file's size. It returns the file's record; nothing is recorded by the customer unless every
// shard was placed.
func (c *Customer) PutFile(ctx context.Context, key [32]byte, id ledger.ID, r io.Reader, spread Spread, progress func(uint64)) (FileRecord, error) {
	rec := FileRecord{ID: id}
	k, m := spread.K, spread.M
	if len(spread.Contracts) != k+m {
		return rec, fmt.Errorf("a %d+%d file needs %d contracts, not %d", k, m, k+m, len(spread.Contracts))
	}
	spread.Contracts, spread.Spares = slices.Clone(spread.Contracts), slices.Clone(spread.Spares)
	seen := map[ledger.PubKey]bool{}
	for _, cid := range append(slices.Clone(spread.Contracts), spread.Spares...) {
		cc, err := c.contract(cid)
		if err != nil {
			return rec, err
		}
		if seen[cc.open.Supplier] {
			return rec, fmt.Errorf("supplier %s holds two shards of each stripe: one per supplier", cc.open.Supplier)
		}
		seen[cc.open.Supplier] = true
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Stripes are read and sealed one ahead of the upload: the CPU seals the next while the
	// network carries this one (two stripes in memory at most, whatever the file's size).
	sealedCh := make(chan sealedStripe) // unbuffered: one stripe sealed while one is placed
	// The sealed stripes' buffers go round: one being placed, one sealed ahead, one being
	// sealed; a stripe's buffer comes back once putStripe is done with its shards (instead of a
	// new 24 MiB a stripe for the collector to find). They and the plaintext's buffer are
	// mapped outside the Go heap (bigbuf.go) and unmapped when PutFile returns, once the sealer
	// has stopped and every shard's put has ended (each stripe is closed on every path out).
	buffers := make(chan []byte, 3)
	sealedCap := stripe.SealedCap(StripeSize, k, m)
	mem := newStripeMemory(min(StripeSize+3*sealedCap, 4*stripe.MaxSize))
	for range 3 {
		if b := mem.carve(sealedCap); b != nil {
			buffers <- b
		}
	}
	sealerDone := make(chan struct{})
	defer func() {
		cancel()
		<-sealerDone
		mem.release()
	}()
	hash := sha256.New()
	go func() {
		defer close(sealerDone)
		defer close(sealedCh)
		buf := mem.carve(StripeSize) // Seal copies the plaintext: one buffer serves every stripe
		if buf == nil {
			buf = make([]byte, 0, StripeSize)
		}
		buf = buf[:StripeSize]
		for s := 0; ; s++ {
			n, err := io.ReadFull(r, buf)
			switch {
			case errors.Is(err, io.EOF) && s > 0:
				return // the file ended on a stripe's boundary
			case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
				select {
				case sealedCh <- sealedStripe{err: fmt.Errorf("reading stripe %d: %w", s, err)}:
				case <-ctx.Done():
				}
				return
			}
			hash.Write(buf[:n])
			var sealed []byte
			select {
			case sealed = <-buffers:
			default:
				sealed = make([]byte, 0, sealedCap)
			}
			st, shards, err := stripe.SealInto(sealed, key, stripeID(id, s), buf[:n], k, m)
			select {
			case sealedCh <- sealedStripe{st: st, shards: shards, buf: sealed, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil || n < StripeSize {
				return // the last stripe (or the only one, of an empty file)
			}
		}
	}()
	// Stripes whose shard on a slow supplier is still in flight (P-9): the file goes on without
	// waiting for it, and the put waits for them at the end. Each holds its stripe's buffer.
	var tails []*stripePut
	giveBack := func(buf []byte) {
		select {
		case buffers <- buf: // its stripe is placed: nothing reads its shards any more
		default:
		}
	}
	fail := func(err error) (FileRecord, error) {
		for _, sp := range tails {
			sp.close()
			rec.Stripes[sp.s] = sp.sr // what of it was placed goes too
		}
		return rec, c.abandon(rec, err)
	}
	for ss := range sealedCh {
		if ss.err != nil {
			return fail(ss.err)
		}
		sp := c.startStripe(ctx, id, len(rec.Stripes), ss, &spread)
		err := sp.wait(ctx, true)
		rec.Stripes = append(rec.Stripes, sp.sr)
		if err != nil {
			sp.close()
			rec.Stripes[sp.s] = sp.sr
			return fail(err)
		}
		if sp.pending > 0 {
			tails = append(tails, sp)
		} else {
			sp.close()
			giveBack(sp.ss.buf)
		}
		// The stripes left with a tail are looked at between stripes: one whose tail is placed
		// now gives its buffer back; one whose shard failed for good fails the put.
		left, failed := tails[:0], error(nil)
		for _, t := range tails {
			if t != sp {
				t.poll(ctx)
			}
			if t.pending > 0 {
				left = append(left, t)
				continue
			}
			t.close()
			rec.Stripes[t.s] = t.sr
			giveBack(t.ss.buf)
			if err := errors.Join(t.errs...); err != nil && failed == nil {
				failed = err
			}
		}
		tails = left
		if failed != nil {
			return fail(failed)
		}
		rec.Size += ss.st.Size
		if progress != nil {
			progress(rec.Size)
		}
	}
	// The rest of the file is placed: a shard still in flight on a slow supplier goes to the
	// spare its slot moved to, which takes it in a fraction of the time the slow one still needs.
	for _, sp := range tails {
		sp.moveTails(ctx)
	}
	for len(tails) > 0 {
		sp := tails[0]
		err := sp.wait(ctx, false)
		sp.close()
		rec.Stripes[sp.s] = sp.sr
		tails = tails[1:]
		if err != nil {
			return fail(err)
		}
	}
	copy(rec.Hash[:], hash.Sum(nil)) // the producer has closed the channel: it is done hashing
	return rec, c.Flush()
}

// abandon deletes the shards a failed put placed (best effort, within a minute even if the
// put's context has ended): a file is kept whole or not at all, and no supplier is left holding
// shards nobody will read or pay for. It returns err, with what could not be deleted.
func (c *Customer) abandon(rec FileRecord, err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var left []error
	for _, sr := range rec.Stripes {
		for _, cm := range sr.Shards {
			if cm.Size == 0 {
				continue // not placed
			}
			if derr := c.Delete(ctx, cm.ContractID, cm.ShardID); derr != nil && !isRefusal(derr, CodeNoShard) {
				left = append(left, derr)
			}
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("%w (and %d shards placed before it could not be deleted: %w)", err, len(left), errors.Join(left...))
	}
	return err
}

// sealedStripe is a stripe sealed and coded, ready to place.
type sealedStripe struct {
	st     stripe.Stripe
	shards [][]byte
	buf    []byte // the buffer the shards are cut from
	err    error
}

// putShardOf places shard i of stripe st, data, as shard id under contract: with the stripe's
// hash of it as the commitment's root when the stripe names its shards by their trees (it was
// computed when the stripe was sealed), else hashed again.
func (c *Customer) putShardOf(ctx context.Context, contract ledger.ID, st stripe.Stripe, i int, id ledger.ID, data []byte) (ledger.StorageCommitment, error) {
	if st.LeafSize == ShardLeafSize {
		return c.PutWithRoot(ctx, contract, id, bytes.NewReader(data), uint64(len(data)), ShardLeafSize, st.Hashes[i])
	}
	return c.Put(ctx, contract, id, bytes.NewReader(data), uint64(len(data)), ShardLeafSize)
}

// stripeID names stripe s of file id: the stripe's AEAD binds it, so stripes cannot be swapped.
func stripeID(id ledger.ID, s int) ledger.ID {
	return sha256.Sum256(binary.BigEndian.AppendUint32(append([]byte("trustledger stripe\x00"), id[:]...), uint32(s)))
}

// stripePut is the placing of one stripe's shards, in parallel (P-9). A shard whose supplier
// fails, or stalls once K shards are placed (twice their time, at least stallAfter), goes to a
// spare of spread, which then takes that shard's place for the rest of the file. A shard still
// in flight SlowFactor times the K-th's time (and SlowAfter behind it) is on a slow supplier: when
// a spare is left, the slot's next shards go to the spare while this one goes on where it is, in
// the background (a tail), until it is placed, the stall rule moves it, or the rest of the file
// is placed (then it goes to the spare too: PutFile never waits for a slow supplier).
type stripePut struct {
	c      *Customer
	id     ledger.ID
	s      int
	ss     sealedStripe
	spread *Spread
	sr     StripeRecord

	results chan stripeResult
	tries   []int                // the current attempt of each shard; older ones are ignored
	cancels []context.CancelFunc // each shard's current attempt
	onto    []ledger.ID          // the contract each shard's current attempt goes to
	tail    []bool               // left to finish on a slow supplier
	errs    []error
	wg      sync.WaitGroup

	placed, pending int
	start           time.Time
	kth             time.Duration // when the K-th shard was placed (0: not yet)
	stalled, slowed bool          // each rule acts once a stripe
}

type stripeResult struct {
	i, try int
	cm     ledger.StorageCommitment
	err    error
}

// startStripe launches the puts of stripe s's shards.
func (c *Customer) startStripe(ctx context.Context, id ledger.ID, s int, ss sealedStripe, spread *Spread) *stripePut {
	n := len(ss.shards)
	sp := &stripePut{c: c, id: id, s: s, ss: ss, spread: spread,
		sr:      StripeRecord{Stripe: ss.st, Shards: make([]ledger.StorageCommitment, n)},
		results: make(chan stripeResult, 4*n), tries: make([]int, n), cancels: make([]context.CancelFunc, n),
		onto: make([]ledger.ID, n), tail: make([]bool, n), errs: make([]error, n), pending: n, start: time.Now()}
	for i := range n {
		sp.launch(ctx, i)
	}
	return sp
}

func (sp *stripePut) launch(ctx context.Context, i int) {
	sctx, cancel := context.WithCancel(ctx)
	sp.cancels[i] = cancel
	try, contract, data := sp.tries[i], sp.spread.Contracts[i], sp.ss.shards[i]
	sp.onto[i] = contract
	sp.wg.Go(func() {
		cm, err := sp.c.putShardOf(sctx, contract, sp.ss.st, i, shardID(sp.id, sp.s, i), data)
		select {
		case sp.results <- stripeResult{i, try, cm, err}:
		case <-sctx.Done(): // given up on: nobody may read this any more
		}
	})
}

// retry gives shard i's place to the next spare (a tail goes to the spare its slot moved to
// already) and puts it there; false when no spare is left.
func (sp *stripePut) retry(ctx context.Context, i int) bool {
	if !sp.tail[i] {
		if len(sp.spread.Spares) == 0 {
			return false
		}
		sp.spread.Contracts[i], sp.spread.Spares = sp.spread.Spares[0], sp.spread.Spares[1:]
	}
	sp.tail[i] = false
	sp.cancels[i]()
	// The supplier given up on may have kept the shard anyway: it is asked to delete it, in the
	// background, so that it claims no storage the customer's records do not show.
	abandoned, c, shard := sp.onto[i], sp.c, shardID(sp.id, sp.s, i)
	go func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Delete(dctx, abandoned, shard)
	}()
	sp.tries[i]++
	sp.launch(ctx, i)
	return true
}

// wait takes the shards' results until every shard is placed or has failed for good, or, with
// tails allowed, until only shards left on slow suppliers are in flight.
func (sp *stripePut) wait(ctx context.Context, tails bool) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for sp.pending > 0 {
		if tails && sp.onlyTails() {
			return nil
		}
		// The next deadline: the stall rule's, and the slow rule's while tails are allowed.
		timer.Stop()
		if sp.kth > 0 && !sp.stalled {
			at := sp.kth + max(2*sp.kth, sp.c.stallAfter)
			if slow := max(SlowFactor*sp.kth, sp.kth+sp.c.slowAfter); tails && !sp.slowed && slow < at && sp.slowCandidates() {
				at = slow
			}
			timer.Reset(max(0, at-time.Since(sp.start)))
		}
		select {
		case r := <-sp.results:
			sp.take(ctx, r)
		case <-timer.C:
			if sp.stallDue() {
				sp.stall(ctx)
				continue
			}
			// Slow, not stalled: the slot's next shards go to a spare; this one goes on here.
			sp.slowed = true
			for i := range sp.ss.shards {
				if sp.inFlight(i) && !sp.tail[i] && len(sp.spread.Spares) > 0 {
					sp.spread.Contracts[i], sp.spread.Spares = sp.spread.Spares[0], sp.spread.Spares[1:]
					sp.tail[i] = true
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(sp.errs...)
}

// take records one put's result: a shard placed, or retried elsewhere, or failed for good.
func (sp *stripePut) take(ctx context.Context, r stripeResult) {
	if r.try != sp.tries[r.i] {
		return // an attempt given up on
	}
	if r.err != nil {
		if !sp.retry(ctx, r.i) {
			sp.errs[r.i] = fmt.Errorf("stripe %d shard %d: %w", sp.s, r.i, r.err)
			sp.pending--
		}
		return
	}
	sp.sr.Shards[r.i] = r.cm
	sp.tail[r.i] = false
	sp.placed++
	sp.pending--
	if sp.placed == sp.ss.st.K && sp.kth == 0 {
		sp.kth = time.Since(sp.start)
	}
}

// stallDue reports whether the stall rule is due and has not acted yet.
func (sp *stripePut) stallDue() bool {
	return sp.kth > 0 && !sp.stalled && time.Since(sp.start) >= sp.kth+max(2*sp.kth, sp.c.stallAfter)
}

// stall gives up on every shard in flight: each goes to a spare (a tail to its slot's).
func (sp *stripePut) stall(ctx context.Context) {
	sp.stalled = true
	for i := range sp.ss.shards {
		if sp.inFlight(i) && !sp.retry(ctx, i) {
			break // no spare left: wait for the slow ones
		}
	}
}

// poll takes the results already in, without waiting, and applies the stall rule if it is due:
// a stripe left with a tail is looked at between the next stripes, so a tail that is placed
// gives its stripe's buffer back early and one that fails goes elsewhere at once.
func (sp *stripePut) poll(ctx context.Context) {
	for sp.pending > 0 {
		select {
		case r := <-sp.results:
			sp.take(ctx, r)
			continue
		default:
		}
		if sp.stallDue() {
			sp.stall(ctx)
		}
		return
	}
}

// moveTails puts each shard left on a slow supplier on the spare its slot moved to.
func (sp *stripePut) moveTails(ctx context.Context) {
	for i := range sp.ss.shards {
		if sp.inFlight(i) && sp.tail[i] {
			sp.retry(ctx, i)
		}
	}
}

// inFlight reports whether shard i is neither placed nor failed for good.
func (sp *stripePut) inFlight(i int) bool { return sp.sr.Shards[i].Size == 0 && sp.errs[i] == nil }

// onlyTails reports whether every shard in flight is a tail.
func (sp *stripePut) onlyTails() bool {
	for i := range sp.ss.shards {
		if sp.inFlight(i) && !sp.tail[i] {
			return false
		}
	}
	return true
}

// slowCandidates reports whether the slow rule could move a shard: a file large enough, one
// shard in flight that is no tail yet, and a spare to move its slot to.
func (sp *stripePut) slowCandidates() bool {
	return sp.spread.Size >= sp.c.slowRuleMin && len(sp.spread.Spares) > 0 && !sp.onlyTails()
}

// close gives up on whatever is still in flight and waits until every put has returned: nothing
// writes to the record after it.
func (sp *stripePut) close() {
	for _, cancel := range sp.cancels {
		if cancel != nil {
			cancel() // a put that is done ignores it; one in flight returns
		}
	}
	sp.wg.Wait()
	// A put that ended as it was given up on may have placed its shard: recorded, it is deleted
	// with the rest when the file is abandoned, instead of left on the supplier.
	for {
		select {
		case r := <-sp.results:
			if r.err == nil && r.try == sp.tries[r.i] && sp.inFlight(r.i) {
				sp.sr.Shards[r.i] = r.cm
				sp.placed++
				sp.pending--
			}
		default:
			return
		}
	}
}

// GetFile writes a file back to w a stripe at a time: for each stripe it asks K+1 suppliers at
// once for their shards, keeps the first K that match their commitments and cancels the other
// (an unreachable supplier or a shard that does not match counts as lost, and the next shard is
// asked for), rebuilds and decrypts the stripe; progress, if set, is told the bytes written so
// far. Each stripe is authenticated before it is written, and the whole file's hash is checked
// at the end: what w received is the file only when GetFile returns nil. ErrFileLost says which
// stripe had too few shards.
//
// A stripe is decrypted, hashed and written while the next one's shards are read: two stripes'
// sealed bytes are held at a time, whatever the file's size. w and progress are called from one
// goroutine at a time, in the file's order, and never after GetFile returns.
func (c *Customer) GetFile(ctx context.Context, key [32]byte, rec FileRecord, w io.Writer, progress func(uint64)) error {
	hash := sha256.New()
	var written uint64
	// One set of buffers for the shards serves every stripe (each is done with once its stripe
	// is joined; getShardsInto returns only when every read it started has ended), and two for the
	// joined stripes go round: one being decrypted and written while the next is joined. They
	// are mapped outside the Go heap (bigbuf.go) and unmapped when GetFile returns, once
	// nothing reads or writes them: every return below waits for the last finish first.
	var bufs [][]byte
	var joined [2][]byte
	var shardMax, shardsMax, joinedMax uint64
	for _, sr := range rec.Stripes {
		shardsMax = max(shardsMax, uint64(len(sr.Shards)))
		for _, cm := range sr.Shards {
			shardMax = max(shardMax, cm.Size)
			joinedMax = max(joinedMax, uint64(sr.K)*cm.Size)
		}
	}
	if shardsMax*shardMax+2*joinedMax <= 4*stripe.MaxSize { // else the heap, as the record says
		mem := newStripeMemory(int(shardsMax*shardMax + 2*joinedMax))
		defer mem.release()
		bufs = make([][]byte, shardsMax)
		for i := range bufs {
			bufs[i] = mem.carve(int(shardMax))
		}
		joined[0], joined[1] = mem.carve(int(joinedMax)), mem.carve(int(joinedMax))
	}
	finished := make(chan error, 1)
	finished <- nil // no stripe before the first
	finish := func(s int, sr StripeRecord, sealed []byte) {
		plain, err := stripe.Decrypt(key, sr.Stripe, sealed)
		if err == nil {
			hash.Write(plain)
			_, err = w.Write(plain)
		}
		if err != nil {
			finished <- fmt.Errorf("stripe %d: %w", s, err)
			return
		}
		written += uint64(len(plain))
		if progress != nil {
			progress(written)
		}
		finished <- nil
	}
	for s, sr := range rec.Stripes {
		sealed, err := c.readStripe(ctx, sr, &bufs, joined[s%2])
		if prev := <-finished; prev != nil {
			return prev
		}
		if err != nil {
			return fmt.Errorf("file %s stripe %d: %w", rec.ID, s, err)
		}
		if cap(sealed) > cap(joined[s%2]) {
			joined[s%2] = sealed[:0]
		}
		go finish(s, sr, sealed)
	}
	if err := <-finished; err != nil {
		return err
	}
	if written != rec.Size || !bytes.Equal(hash.Sum(nil), rec.Hash[:]) {
		return fmt.Errorf("file %s: the bytes read back are not the file that was put", rec.ID)
	}
	return nil
}

// readStripe reads K intact shards of a stripe into bufs (made again when the stripe has another
// shape) and joins its sealed bytes, in joined when its capacity allows.
func (c *Customer) readStripe(ctx context.Context, sr StripeRecord, bufs *[][]byte, joined []byte) ([]byte, error) {
	if sr.K+sr.M != len(sr.Shards) {
		return nil, fmt.Errorf("%d shards recorded for a %d+%d stripe", len(sr.Shards), sr.K, sr.M)
	}
	shards, err := c.readShardsInto(ctx, sr, nil, bufs)
	if err != nil {
		return nil, err
	}
	return stripe.JoinChecked(joined, sr.Stripe, shards) // each matched its commitment
}

// readShardsInto is getShardsInto after giving every shard of sr a buffer in bufs with room for
// it (made again when the stripe has another shape, or a buffer is too small), those not read
// too: a shard not read comes back as its empty buffer, room for stripe.JoinChecked or
// stripe.Rebuild to rebuild it in instead of in new memory.
func (c *Customer) readShardsInto(ctx context.Context, sr StripeRecord, skip func(i int) bool, bufs *[][]byte) ([][]byte, error) {
	if len(*bufs) != len(sr.Shards) {
		*bufs = make([][]byte, len(sr.Shards))
	}
	for i, cm := range sr.Shards {
		if uint64(cap((*bufs)[i])) < cm.Size {
			(*bufs)[i] = make([]byte, 0, cm.Size)
		}
	}
	shards, err := c.getShardsInto(ctx, sr, skip, *bufs)
	if err != nil {
		return nil, err
	}
	for i, sh := range shards {
		if sh == nil {
			shards[i] = (*bufs)[i][:0]
		}
	}
	return shards, nil
}

// getShardsInto reads K intact shards of a stripe, shard i into bufs[i] when its capacity
// allows, K+1 requests in flight: the spare one covers a slow or failing supplier, and is
// cancelled once K have arrived. Never more than K+1 shards are read unless some fail; skip
// names shards not to ask for. It returns once every read it started has ended.
func (c *Customer) getShardsInto(ctx context.Context, sr StripeRecord, skip func(i int) bool, bufs [][]byte) ([][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type got struct {
		i    int
		data []byte
		err  error
	}
	results := make(chan got, len(sr.Shards))
	next, inFlight := 0, 0
	ask := func() {
		for skip != nil && next < len(sr.Shards) && skip(next) {
			next++ // not asked at all (a supplier being replaced)
		}
		if next == len(sr.Shards) {
			return
		}
		i := next
		next++
		inFlight++
		go func() {
			buf := bytes.NewBuffer(bufs[i][:0])
			buf.Grow(int(sr.Shards[i].Size))
			err := c.Get(ctx, sr.Shards[i], buf)
			results <- got{i, buf.Bytes(), err}
		}()
	}
	for next < len(sr.Shards) && next < sr.K+1 {
		ask()
	}
	shards := make([][]byte, len(sr.Shards))
	intact := 0
	var errs []error
	for inFlight > 0 {
		r := <-results
		inFlight--
		switch {
		case intact == sr.K:
			// a spare that finished after K others: not needed
		case r.err != nil:
			errs = append(errs, fmt.Errorf("shard %d: %w", r.i, r.err))
			if next < len(sr.Shards) {
				ask()
			}
		default:
			shards[r.i] = r.data
			if intact++; intact == sr.K {
				cancel() // the spare request ends now
			}
		}
	}
	if intact < sr.K {
		return nil, fmt.Errorf("%w: %d of %d shards read, %d needed: %w", ErrFileLost, intact, len(sr.Shards), sr.K, errors.Join(errs...))
	}
	return shards, nil
}
