package api

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/reputation"
)

// EncodingBinary is TrustViewRequest.Encoding for an answer in binary (EncodeTrustView): the
// explorer's trust page asks for it, since decoding the JSON of forty explained scores and a
// graph was a sixth of its node's CPU under load (BENCHMARKS.md, issue 15). Without it the
// answer is JSON, for any other caller.
const EncodingBinary = "binary"

// trustViewVersion is the first byte of EncodeTrustView's bytes; a decoder refuses any other.
const trustViewVersion = 2 // 2: Score.Avoided after Eligible

// EncodeTrustView is a /trust/view answer in binary: a version byte, then every field in
// declaration order (integers as uvarints, floats as their IEEE 754 bits, big-endian, strings
// and lists with their lengths first, optional parts behind a presence byte; the policy as
// JSON). DecodeTrustView reads it back exactly (TestTrustViewCodec fills every field).
func EncodeTrustView(a TrustViewAnswer) []byte {
	w := &binWriter{b: make([]byte, 0, trustViewSize(&a))}
	w.byte(trustViewVersion)
	w.varint(a.Height)
	w.key(a.Observer)
	w.varint(int64(a.Total))
	for _, list := range [][]reputation.Score{a.Most, a.Least} {
		w.uvarint(uint64(len(list)))
		for i := range list {
			w.score(&list[i])
		}
	}
	g := &a.Graph
	w.key(g.Center)
	w.uvarint(uint64(len(g.Nodes)))
	for _, n := range g.Nodes {
		w.key(n.Node)
		w.varint(int64(n.Hop))
	}
	w.uvarint(uint64(len(g.Edges)))
	for i := range g.Edges {
		e := &g.Edges[i]
		w.key(e.From)
		w.key(e.To)
		w.float(e.Weight)
		w.counts(&e.Counts)
	}
	w.bool(g.Capped)
	pol, _ := json.Marshal(a.Policy) // a struct of numbers: it always encodes
	w.bytes(pol)
	return w.b
}

// trustViewSize is about the size of a's encoding, a little more rather than less: grown from a
// guess, the buffer was the trust page's largest allocation.
func trustViewSize(a *TrustViewAnswer) int {
	n := 1024 // header and policy
	for _, list := range [][]reputation.Score{a.Most, a.Least} {
		for i := range list {
			s := &list[i]
			n += 256 + len(s.Status) + len(s.Reason) + 96*len(s.Recommenders) + 48*len(s.Ignored)
			if s.Proof != nil {
				n += 32 + len(s.Proof.Kind) + len(s.Proof.By)
			}
		}
	}
	return n + 40*len(a.Graph.Nodes) + 112*len(a.Graph.Edges)
}

// DecodeTrustView parses EncodeTrustView's bytes; a short, long or malformed input is an error
// that says where.
func DecodeTrustView(b []byte) (TrustViewAnswer, error) {
	r := &binReader{b: b}
	var a TrustViewAnswer
	if v := r.byte(); r.err == nil && v != trustViewVersion {
		return a, fmt.Errorf("trust view: encoding version %d, want %d", v, trustViewVersion)
	}
	a.Height = r.varint()
	a.Observer = r.key()
	a.Total = int(r.varint())
	for _, list := range []*[]reputation.Score{&a.Most, &a.Least} {
		n := r.count(1)
		*list = make([]reputation.Score, n)
		for i := range *list {
			r.score(&(*list)[i])
		}
	}
	g := &a.Graph
	g.Center = r.key()
	g.Nodes = make([]reputation.GraphNode, r.count(pubKeySize+1))
	for i := range g.Nodes {
		g.Nodes[i] = reputation.GraphNode{Node: r.key(), Hop: int(r.varint())}
	}
	g.Edges = make([]reputation.Edge, r.count(2*pubKeySize+8))
	for i := range g.Edges {
		e := &g.Edges[i]
		e.From, e.To, e.Weight = r.key(), r.key(), r.float()
		r.counts(&e.Counts)
	}
	g.Capped = r.bool()
	pol := r.bytes()
	if r.err == nil {
		if err := json.Unmarshal(pol, &a.Policy); err != nil {
			r.fail("policy: %v", err)
		}
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return TrustViewAnswer{}, fmt.Errorf("trust view: %w", r.err)
	}
	return a, nil
}

type binWriter struct{ b []byte }

func (w *binWriter) byte(v byte)         { w.b = append(w.b, v) }
func (w *binWriter) uvarint(v uint64)    { w.b = binary.AppendUvarint(w.b, v) }
func (w *binWriter) varint(v int64)      { w.b = binary.AppendVarint(w.b, v) }
func (w *binWriter) float(v float64)     { w.b = binary.BigEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *binWriter) key(k ledger.PubKey) { w.b = append(w.b, k[:]...) }
func (w *binWriter) bytes(v []byte)      { w.uvarint(uint64(len(v))); w.b = append(w.b, v...) }
func (w *binWriter) string(v string)     { w.uvarint(uint64(len(v))); w.b = append(w.b, v...) }

func (w *binWriter) bool(v bool) {
	if v {
		w.byte(1)
	} else {
		w.byte(0)
	}
}

func (w *binWriter) counts(c *reputation.Counts) {
	for _, v := range [...]uint64{c.AuditsPassed, c.AuditsFailed, c.Receipts, c.ContractsOpened, c.Expired, c.Quit, c.Fired, c.Payments, c.Reports, c.Ignored} {
		w.uvarint(v)
	}
}

func (w *binWriter) score(s *reputation.Score) {
	w.key(s.Subject)
	w.float(s.Score)
	w.float(s.Confidence)
	w.float(s.Rate)
	w.string(s.Status)
	w.bool(s.Vetted)
	w.bool(s.Eligible)
	w.bool(s.Avoided)
	w.string(s.Reason)
	w.bool(s.Proof != nil)
	if p := s.Proof; p != nil {
		w.varint(p.Height)
		w.string(p.Kind)
		w.string(p.By)
	}
	w.float(s.Trust)
	w.float(s.PublicShare)
	w.bool(s.Direct != nil)
	if d := s.Direct; d != nil {
		w.float(d.DropEvidence)
		w.bool(d.Dropped)
		w.float(d.Rate)
		w.float(d.Evidence)
		w.counts(&d.Counts)
	}
	w.bool(s.Recommendation != nil)
	if r := s.Recommendation; r != nil {
		w.float(r.Rate)
		w.float(r.Mass)
	}
	w.uvarint(uint64(len(s.Recommenders)))
	for i := range s.Recommenders {
		r := &s.Recommenders[i]
		w.key(r.Node)
		w.float(r.Weight)
		w.float(r.Rate)
		w.float(r.Evidence)
		w.counts(&r.Counts)
		w.bool(r.Dropped)
		w.float(r.DropEvidence)
		w.float(r.Conflicts)
	}
	w.uvarint(uint64(len(s.Ignored)))
	for _, c := range s.Ignored {
		w.key(c.Node)
		w.uvarint(c.Claims)
	}
}

// binReader reads binWriter's bytes; the first error sticks, and every read after it returns
// zero values.
type binReader struct {
	b   []byte
	err error
}

var errShort = errors.New("cut short")

func (r *binReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *binReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *binReader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *binReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("malformed number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("malformed number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a list's length, refusing one that the bytes left cannot hold at minSize bytes
// an item (a forged length never makes a large allocation).
func (r *binReader) count(minSize int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)/minSize) {
		r.fail("a list of %d items in %d bytes", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *binReader) float() float64 {
	if v := r.take(8); v != nil {
		return math.Float64frombits(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *binReader) key() ledger.PubKey {
	var k ledger.PubKey
	copy(k[:], r.take(pubKeySize))
	return k
}

func (r *binReader) bytes() []byte { return r.take(r.count(1)) }

func (r *binReader) string() string { return string(r.bytes()) }

func (r *binReader) bool() bool {
	switch v := r.byte(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("a flag of %d", v)
		return false
	}
}

func (r *binReader) counts(c *reputation.Counts) {
	for _, p := range [...]*uint64{&c.AuditsPassed, &c.AuditsFailed, &c.Receipts, &c.ContractsOpened, &c.Expired, &c.Quit, &c.Fired, &c.Payments, &c.Reports, &c.Ignored} {
		*p = r.uvarint()
	}
}

func (r *binReader) score(s *reputation.Score) {
	s.Subject = r.key()
	s.Score, s.Confidence, s.Rate = r.float(), r.float(), r.float()
	s.Status = r.string()
	s.Vetted, s.Eligible, s.Avoided = r.bool(), r.bool(), r.bool()
	s.Reason = r.string()
	if r.bool() {
		s.Proof = &reputation.Proof{Height: r.varint(), Kind: r.string(), By: r.string()}
	}
	s.Trust, s.PublicShare = r.float(), r.float()
	if r.bool() {
		d := &reputation.Direct{DropEvidence: r.float(), Dropped: r.bool(), Rate: r.float(), Evidence: r.float()}
		r.counts(&d.Counts)
		s.Direct = d
	}
	if r.bool() {
		s.Recommendation = &reputation.Recommended{Rate: r.float(), Mass: r.float()}
	}
	if n := r.count(pubKeySize + 8); n > 0 {
		s.Recommenders = make([]reputation.Recommender, n)
		for i := range s.Recommenders {
			x := &s.Recommenders[i]
			x.Node, x.Weight, x.Rate, x.Evidence = r.key(), r.float(), r.float(), r.float()
			r.counts(&x.Counts)
			x.Dropped, x.DropEvidence, x.Conflicts = r.bool(), r.float(), r.float()
		}
	}
	if n := r.count(pubKeySize + 1); n > 0 {
		s.Ignored = make([]reputation.IgnoredClaim, n)
		for i := range s.Ignored {
			s.Ignored[i] = reputation.IgnoredClaim{Node: r.key(), Claims: r.uvarint()}
		}
	}
}

// pubKeySize is a node key's length in the encoding.
const pubKeySize = len(ledger.PubKey{})
