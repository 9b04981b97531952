package reputation

import (
	"crypto/sha256"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// node derives a node key from a name.
func node(name string) ledger.PubKey { return sha256.Sum256([]byte("node " + name)) }

// history builds committed event records directly (the engine trusts the ledger's checks).
type history struct {
	t      *testing.T
	recs   []ledger.EventRecord
	height int64
}

func (h *history) add(subject, cp, signer ledger.PubKey, ev ledger.Event) {
	h.height++
	h.recs = append(h.recs, ledger.EventRecord{Height: h.height, Signer: signer, Subject: subject, Counterparty: cp,
		Kind: ev.Kind(), KindName: ev.Kind().String(), Event: ev})
}

func (h *history) contract(customer, supplier ledger.PubKey) {
	h.add(supplier, customer, customer, &ledger.ContractOpen{Customer: customer, Supplier: supplier, Bytes: 1, DurationSeconds: 1})
}

func (h *history) audit(customer, supplier ledger.PubKey, pass bool) {
	h.add(supplier, customer, customer, &ledger.AuditResult{Customer: customer, Supplier: supplier, Passed: pass})
}

func (h *history) provenFailure(customer, supplier ledger.PubKey) {
	h.add(supplier, customer, customer, &ledger.AuditResult{Customer: customer, Supplier: supplier,
		Evidence: &ledger.AuditEvidence{}}) // the engine trusts the ledger's check of the evidence
}

func (h *history) receipt(customer, supplier ledger.PubKey) {
	h.add(supplier, customer, supplier, &ledger.StorageReceipt{Customer: customer, Supplier: supplier, PeriodEnd: 1})
}

// payment: payer paid payee, who countersigned it (a fact about the payer).
func (h *history) payment(payer, payee ledger.PubKey) {
	h.add(payer, payee, payer, &ledger.Payment{Payer: payer, Payee: payee, Amount: 1})
}

func (h *history) report(reporter, accused ledger.PubKey) {
	h.add(accused, reporter, reporter, &ledger.MisbehaviorReport{Accused: accused, Misconduct: ledger.MisconductUnavailable})
}

// serve is a customer's good experience of a supplier: a contract and passed audits.
func (h *history) serve(customer, supplier ledger.PubKey, audits int) {
	h.contract(customer, supplier)
	for i := 0; i < audits; i++ {
		h.audit(customer, supplier, true)
	}
}

// feed applies the records built since the last feed (or since engine) to e, and forgets them.
func (h *history) feed(e *Engine) {
	h.t.Helper()
	for i := range h.recs {
		if err := e.Apply(&h.recs[i]); err != nil {
			h.t.Fatal(err)
		}
	}
	h.recs = h.recs[:0]
}

func (h *history) engine(p Policy) *Engine {
	h.t.Helper()
	e, err := NewEngine(p)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range h.recs {
		if err := e.Apply(&h.recs[i]); err != nil {
			h.t.Fatal(err)
		}
	}
	return e
}

// The view's answers, failing the test on an error (a fresh view has none).
func scoreOf(t testing.TB, v *View, x ledger.PubKey) Score {
	t.Helper()
	s, err := v.Score(x)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func allOf(t testing.TB, v *View) []Score {
	t.Helper()
	s, err := v.All()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func chooseOf(t testing.TB, v *View, cands []Candidate, n int, placement uint64) []Choice {
	t.Helper()
	c, err := v.Choose(cands, n, placement)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dropOf(t testing.TB, v *View, x ledger.PubKey) Drop {
	t.Helper()
	d, err := v.ShouldDrop(x)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
