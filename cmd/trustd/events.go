package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/trustledger/trustledger/ledger"
	"github.com/trustledger/trustledger/node/keystore"
)

// eventSpec describes one event kind on the command line. bind registers its flags and returns
// the builder that reads them; `trustd tx KIND` and `trustd sign KIND` share it, so both parties
// of a bilateral event encode exactly the same fields.
type eventSpec struct {
	use, short string
	bilateral  bool
	bind       func(f *pflag.FlagSet) func(ks keystore.Store) (ledger.Event, error)
}

// parseID reads an id: 64 hex digits are taken as they are; any other text is hashed with
// SHA-256, so "receipt-2026-11-25-1" works as an id both parties can type.
func parseID(flag, s string) (ledger.ID, error) {
	if s == "" {
		return ledger.ID{}, fmt.Errorf("--%s is required", flag)
	}
	if len(s) == 64 {
		if id, err := ledger.ParseID(s); err == nil {
			return id, nil
		}
	}
	return sha256.Sum256([]byte(s)), nil
}

// randomID returns 32 random bytes as hex, for ids the submitter alone chooses.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// readSigArg reads a signature given as hex or as @file holding hex.
func readSigArg(flag, s string) (ledger.Sig, error) {
	if strings.HasPrefix(s, "@") {
		b, err := os.ReadFile(s[1:])
		if err != nil {
			return ledger.Sig{}, fmt.Errorf("--%s: %w", flag, err)
		}
		s = strings.TrimSpace(string(b))
	}
	sig, err := ledger.ParseSig(s)
	if err != nil {
		return ledger.Sig{}, fmt.Errorf("--%s: %w", flag, err)
	}
	return sig, nil
}

type partyFlags struct{ a, b string }

func bindParties(f *pflag.FlagSet, aName, bName string) *partyFlags {
	p := &partyFlags{}
	f.StringVar(&p.a, aName, "", aName+": local key name or hex node key (required)")
	f.StringVar(&p.b, bName, "", bName+": local key name or hex node key (required)")
	return p
}

func (p *partyFlags) resolve(ks keystore.Store, aName, bName string) (ledger.PubKey, ledger.PubKey, error) {
	if p.a == "" || p.b == "" {
		return ledger.PubKey{}, ledger.PubKey{}, fmt.Errorf("--%s and --%s are required", aName, bName)
	}
	a, err := ks.Resolve(p.a)
	if err != nil {
		return a, a, fmt.Errorf("--%s: %w", aName, err)
	}
	b, err := ks.Resolve(p.b)
	if err != nil {
		return a, b, fmt.Errorf("--%s: %w", bName, err)
	}
	return a, b, nil
}

func eventSpecs() []eventSpec {
	return []eventSpec{
		{use: "register", short: "Register the signing key as a node (solves the genesis proof of work)",
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				ev := &ledger.RegisterNode{}
				f.StringVar(&ev.PeerID, "peer-id", "", "libp2p peer id of the node (required)")
				f.Uint64Var(&ev.Capacity, "capacity", 0, "offered capacity in bytes")
				f.StringVar(&ev.Moniker, "moniker", "", "optional display name (any UTF-8)")
				return func(keystore.Store) (ledger.Event, error) {
					if ev.PeerID == "" {
						return nil, fmt.Errorf("--peer-id is required")
					}
					return ev, nil
				}
			}},
		{use: "contract-open", short: "Open a storage contract (countersigned by the other party)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				ev := &ledger.ContractOpen{}
				p := bindParties(f, "customer", "supplier")
				var id string
				f.StringVar(&id, "contract-id", "", "contract id: 64 hex digits, or any text (hashed) both parties agree on (required)")
				f.Uint64Var(&ev.Bytes, "bytes", 0, "bytes stored under the contract")
				f.Uint64Var(&ev.DurationSeconds, "duration", 0, "duration in seconds")
				f.Uint64Var(&ev.PricePerGiBMonth, "price", 0, "price per GiB-month, in the smallest unit")
				return func(ks keystore.Store) (ledger.Event, error) {
					var err error
					if ev.ContractID, err = parseID("contract-id", id); err != nil {
						return nil, err
					}
					ev.Customer, ev.Supplier, err = p.resolve(ks, "customer", "supplier")
					return ev, err
				}
			}},
		{use: "contract-close", short: "Close a contract: expired (countersigned), fired (customer) or quit (supplier)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				ev := &ledger.ContractClose{}
				p := bindParties(f, "customer", "supplier")
				var id, reason string
				f.StringVar(&id, "contract-id", "", "contract id (required)")
				f.StringVar(&reason, "reason", "", "expired, fired or quit (required)")
				return func(ks keystore.Store) (ledger.Event, error) {
					var err error
					if ev.ContractID, err = parseID("contract-id", id); err != nil {
						return nil, err
					}
					if ev.Reason, err = ledger.ParseCloseReason(reason); err != nil {
						return nil, err
					}
					ev.Customer, ev.Supplier, err = p.resolve(ks, "customer", "supplier")
					return ev, err
				}
			}},
		{use: "receipt", short: "Record a storage or bandwidth receipt (countersigned by the other party)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				p := bindParties(f, "customer", "supplier")
				var kind, contract string
				var number, byteSeconds, bytes uint64
				var start, end int64
				f.StringVar(&kind, "kind", "storage", "storage or bandwidth")
				f.Uint64Var(&number, "number", 0, "the receipt's number in its contract, from 1; storage and bandwidth receipts are numbered apart (required)")
				f.StringVar(&contract, "contract-id", "", "contract id (required)")
				f.Uint64Var(&byteSeconds, "byte-seconds", 0, "storage: bytes kept times seconds")
				f.Int64Var(&start, "period-start", 0, "storage: period start, Unix seconds")
				f.Int64Var(&end, "period-end", 0, "storage: period end, Unix seconds")
				f.Uint64Var(&bytes, "bytes", 0, "bandwidth: bytes transferred")
				return func(ks keystore.Store) (ledger.Event, error) {
					if number == 0 {
						return nil, fmt.Errorf("--number is required: the receipt's number in its contract, from 1")
					}
					cid, err := parseID("contract-id", contract)
					if err != nil {
						return nil, err
					}
					cust, supp, err := p.resolve(ks, "customer", "supplier")
					if err != nil {
						return nil, err
					}
					switch kind {
					case "storage":
						return &ledger.StorageReceipt{ContractID: cid, Number: number, Customer: cust, Supplier: supp,
							PeriodStart: start, PeriodEnd: end, ByteSeconds: byteSeconds}, nil
					case "bandwidth":
						return &ledger.BandwidthReceipt{ContractID: cid, Number: number, Customer: cust, Supplier: supp, Bytes: bytes}, nil
					}
					return nil, fmt.Errorf("--kind %q: want storage or bandwidth", kind)
				}
			}},
		{use: "audit", short: "Record an audit of your supplier (customer only)",
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				p := bindParties(f, "customer", "supplier")
				var contract, challenge, result, answer, expected, sig string
				f.StringVar(&contract, "contract-id", "", "contract id (required)")
				f.StringVar(&challenge, "challenge", "", "challenge digest: 64 hex digits or text (hashed) (required)")
				f.StringVar(&result, "result", "", "pass or fail (required)")
				f.StringVar(&answer, "evidence-answer", "", "fail with proof: the supplier's answer digest")
				f.StringVar(&expected, "evidence-expected", "", "fail with proof: the expected answer digest")
				f.StringVar(&sig, "evidence-sig", "", "fail with proof: the supplier's signature over its answer (hex or @file)")
				return func(ks keystore.Store) (ledger.Event, error) {
					ev := &ledger.AuditResult{}
					var err error
					if ev.ContractID, err = parseID("contract-id", contract); err != nil {
						return nil, err
					}
					if ev.ChallengeDigest, err = parseID("challenge", challenge); err != nil {
						return nil, err
					}
					switch result {
					case "pass":
						ev.Passed = true
					case "fail":
					default:
						return nil, fmt.Errorf("--result %q: want pass or fail", result)
					}
					if sig != "" {
						e := &ledger.AuditEvidence{}
						if e.AnswerDigest, err = parseID("evidence-answer", answer); err != nil {
							return nil, err
						}
						if e.ExpectedDigest, err = parseID("evidence-expected", expected); err != nil {
							return nil, err
						}
						if e.SupplierSig, err = readSigArg("evidence-sig", sig); err != nil {
							return nil, err
						}
						ev.Evidence = e
					}
					ev.Customer, ev.Supplier, err = p.resolve(ks, "customer", "supplier")
					return ev, err
				}
			}},
		{use: "pay", short: "Record a payment (countersigned by the payee)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				ev := &ledger.Payment{}
				p := bindParties(f, "payer", "payee")
				var id, ref string
				f.StringVar(&id, "payment-id", "", "payment id, unique forever (required)")
				f.Uint64Var(&ev.Amount, "amount", 0, "amount, in the smallest unit")
				f.StringVar(&ref, "reference", "", "what the payment is for: a contract id or text (hashed)")
				return func(ks keystore.Store) (ledger.Event, error) {
					var err error
					if ev.PaymentID, err = parseID("payment-id", id); err != nil {
						return nil, err
					}
					if ref != "" {
						if ev.Reference, err = parseID("reference", ref); err != nil {
							return nil, err
						}
					}
					ev.Payer, ev.Payee, err = p.resolve(ks, "payer", "payee")
					return ev, err
				}
			}},
		{use: "report", short: "Report a node's misbehaviour (your word; weighed by your own standing)",
			bind: func(f *pflag.FlagSet) func(keystore.Store) (ledger.Event, error) {
				var accused, kind, digest, file string
				f.StringVar(&accused, "accused", "", "the reported node: local key name or hex (required)")
				f.StringVar(&kind, "misconduct", "", "unavailable, data_lost, data_corrupted, protocol_violation or double_signed_receipt (required)")
				f.StringVar(&digest, "evidence-digest", "", "digest of evidence kept elsewhere: 64 hex digits or text (hashed)")
				f.StringVar(&file, "evidence-file", "", "attach this file as evidence (at most 4096 bytes; its digest is recorded too)")
				return func(ks keystore.Store) (ledger.Event, error) {
					ev := &ledger.MisbehaviorReport{}
					var err error
					if accused == "" {
						return nil, fmt.Errorf("--accused is required")
					}
					if ev.Accused, err = ks.Resolve(accused); err != nil {
						return nil, fmt.Errorf("--accused: %w", err)
					}
					if ev.Misconduct, err = ledger.ParseMisconduct(kind); err != nil {
						return nil, err
					}
					if digest != "" {
						if ev.EvidenceDigest, err = parseID("evidence-digest", digest); err != nil {
							return nil, err
						}
					}
					if file != "" {
						b, err := os.ReadFile(file)
						if err != nil {
							return nil, fmt.Errorf("--evidence-file: %w", err)
						}
						if len(b) > ledger.MaxEvidenceBytes {
							return nil, fmt.Errorf("--evidence-file is %d bytes, more than %d; record its digest with --evidence-digest instead", len(b), ledger.MaxEvidenceBytes)
						}
						ev.Evidence = b
						if digest == "" {
							ev.EvidenceDigest = sha256.Sum256(b)
						}
					}
					return ev, nil
				}
			}},
	}
}
