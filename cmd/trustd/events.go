package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

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
	bind       func(f *pflag.FlagSet) func(ks keystore.Store, chainID string) (ledger.Event, error)
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

// readJSONFile decodes the JSON file named by a flag into v (- is standard input).
func readJSONFile(flag, path string, v any) error {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("--%s: %w", flag, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("--%s %s: %w", flag, path, err)
	}
	return nil
}

// parseTime reads a time given as Unix seconds or RFC 3339.
func parseTime(flag, s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("--%s is required", flag)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want Unix seconds or an RFC 3339 time (2026-12-01T10:00:00Z)", flag, s)
	}
	return t.Unix(), nil
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
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				ev := &ledger.RegisterNode{}
				f.StringVar(&ev.PeerID, "peer-id", "", "libp2p peer id of the node: that of the signing key (the default; R-REG-3)")
				f.Uint64Var(&ev.Capacity, "capacity", 0, "offered capacity in bytes")
				f.StringVar(&ev.Moniker, "moniker", "", "optional display name (any UTF-8)")
				return func(keystore.Store, string) (ledger.Event, error) { return ev, nil }
			}},
		{use: "contract-open", short: "Open a storage contract (countersigned by the other party)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				ev := &ledger.ContractOpen{}
				p := bindParties(f, "customer", "supplier")
				var id string
				f.StringVar(&id, "contract-id", "", "contract id: 64 hex digits, or any text (hashed) both parties agree on (required)")
				f.Uint64Var(&ev.Bytes, "bytes", 0, "bytes stored under the contract")
				f.Uint64Var(&ev.DurationSeconds, "duration", 0, "duration in seconds")
				f.Uint64Var(&ev.PricePerGiBMonth, "price", 0, "price per GiB-month, in the smallest unit")
				return func(ks keystore.Store, chainID string) (ledger.Event, error) {
					var err error
					if ev.ContractID, err = parseID("contract-id", id); err != nil {
						return nil, err
					}
					ev.Customer, ev.Supplier, err = p.resolve(ks, "customer", "supplier")
					return ev, err
				}
			}},
		{use: "contract-close", short: "Close a contract: expired (countersigned), fired (customer) or quit (supplier)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				ev := &ledger.ContractClose{}
				p := bindParties(f, "customer", "supplier")
				var id, reason string
				f.StringVar(&id, "contract-id", "", "contract id (required)")
				f.StringVar(&reason, "reason", "", "expired, fired or quit (required)")
				return func(ks keystore.Store, chainID string) (ledger.Event, error) {
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
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				p := bindParties(f, "customer", "supplier")
				var kind, contract string
				var number, byteSeconds, bytes uint64
				var start, end string
				f.StringVar(&kind, "kind", "storage", "storage or bandwidth")
				f.Uint64Var(&number, "number", 0, "the receipt's number in its contract, from 1; storage and bandwidth receipts are numbered apart (required)")
				f.StringVar(&contract, "contract-id", "", "contract id (required)")
				f.Uint64Var(&byteSeconds, "byte-seconds", 0, "storage: bytes kept times seconds")
				f.StringVar(&start, "period-start", "", "storage: period start, Unix seconds or RFC 3339 (after the contract opened, R-RCPT-3)")
				f.StringVar(&end, "period-end", "", "storage: period end, Unix seconds or RFC 3339 (not in the future)")
				f.Uint64Var(&bytes, "bytes", 0, "bandwidth: bytes transferred")
				return func(ks keystore.Store, chainID string) (ledger.Event, error) {
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
						ps, err := parseTime("period-start", start)
						if err != nil {
							return nil, err
						}
						pe, err := parseTime("period-end", end)
						if err != nil {
							return nil, err
						}
						return &ledger.StorageReceipt{ContractID: cid, Number: number, Customer: cust, Supplier: supp,
							PeriodStart: ps, PeriodEnd: pe, ByteSeconds: byteSeconds}, nil
					case "bandwidth":
						return &ledger.BandwidthReceipt{ContractID: cid, Number: number, Customer: cust, Supplier: supp, Bytes: bytes}, nil
					}
					return nil, fmt.Errorf("--kind %q: want storage or bandwidth", kind)
				}
			}},
		{use: "audit", short: "Record an audit of your supplier (customer only): passed, failed with proof, or failed as your claim",
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				p := bindParties(f, "customer", "supplier")
				var contract, challenge, result, commitment, challengeFile, answer string
				var number uint64
				f.StringVar(&contract, "contract-id", "", "contract id (required)")
				f.Uint64Var(&number, "number", 0, "the audit's number in its contract, from 1 (default: the challenge file's, else the next one, asked from the node; R-AUD-2)")
				f.StringVar(&result, "result", "", "pass or fail; with --answer, what the answer shows (default)")
				f.StringVar(&challenge, "challenge", "", "without a challenge file: the challenge, 64 hex digits or text (hashed)")
				f.StringVar(&challengeFile, "challenge-file", "", "the challenge you sent ('trustd audit challenge')")
				f.StringVar(&commitment, "commitment", "", "with --answer: the supplier's signed storage commitment ('trustd sign commitment')")
				f.StringVar(&answer, "answer", "", "the supplier's signed answer ('trustd sign audit-answer'): checked here; a leaf that fails "+
					"its commitment becomes proof (R-AUDIT-3), an answer that verifies records a pass")
				return func(ks keystore.Store, chainID string) (ledger.Event, error) {
					ev := &ledger.AuditResult{Number: number}
					var err error
					if ev.ContractID, err = parseID("contract-id", contract); err != nil {
						return nil, err
					}
					if ev.Customer, ev.Supplier, err = p.resolve(ks, "customer", "supplier"); err != nil {
						return nil, err
					}
					if result != "" && result != "pass" && result != "fail" {
						return nil, fmt.Errorf("--result %q: want pass or fail", result)
					}
					var ch *ledger.AuditChallenge
					if challengeFile != "" {
						ch = &ledger.AuditChallenge{}
						if err := readJSONFile("challenge-file", challengeFile, ch); err != nil {
							return nil, err
						}
						if number != 0 && number != ch.Number {
							return nil, fmt.Errorf("--number %d, but the challenge is audit %d of its contract", number, ch.Number)
						}
						ev.Number = ch.Number
						ev.ChallengeDigest = ch.Digest()
					} else if ev.ChallengeDigest, err = parseID("challenge", challenge); err != nil {
						return nil, fmt.Errorf("%w (or --challenge-file)", err)
					}
					if answer == "" {
						if result == "" {
							return nil, fmt.Errorf("--result is required without --answer")
						}
						ev.Passed = result == "pass"
						return ev, nil
					}
					if ch == nil || commitment == "" {
						return nil, fmt.Errorf("--answer needs --commitment and --challenge-file")
					}
					var c ledger.StorageCommitment
					var a ledger.AuditAnswer
					if err := readJSONFile("commitment", commitment, &c); err != nil {
						return nil, err
					}
					if err := readJSONFile("answer", answer, &a); err != nil {
						return nil, err
					}
					if c.ContractID != ev.ContractID || c.Customer != ev.Customer || c.Supplier != ev.Supplier {
						return nil, fmt.Errorf("--commitment is for contract %s between %s and %s, not this audit's", c.ContractID, c.Customer, c.Supplier)
					}
					failing, err := a.Check(chainID, &c, *ch)
					if err != nil {
						return nil, fmt.Errorf("--answer is not the supplier's answer to this challenge (%v): it proves nothing; "+
							"record the failure as your claim with --result fail and no --answer", err)
					}
					if failing < 0 {
						if result == "fail" {
							return nil, fmt.Errorf("every leaf of the answer verifies against the commitment: the audit passed")
						}
						ev.Passed = true
						return ev, nil
					}
					if result == "pass" {
						return nil, fmt.Errorf("leaf %d of the answer does not verify against the commitment: the audit failed", a.Proofs[failing].Index)
					}
					ev.Evidence = ledger.NewAuditEvidence(&c, &a, failing)
					return ev, nil
				}
			}},
		{use: "pay", short: "Record a payment (countersigned by the payee)", bilateral: true,
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				ev := &ledger.Payment{}
				p := bindParties(f, "payer", "payee")
				var id, ref string
				f.StringVar(&id, "payment-id", "", "payment id, unique forever (required)")
				f.Uint64Var(&ev.Amount, "amount", 0, "amount, in the smallest unit")
				f.StringVar(&ref, "reference", "", "what the payment is for: a contract id or text (hashed)")
				return func(ks keystore.Store, chainID string) (ledger.Event, error) {
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
			bind: func(f *pflag.FlagSet) func(keystore.Store, string) (ledger.Event, error) {
				var accused, kind, digest, file string
				f.StringVar(&accused, "accused", "", "the reported node: local key name or hex (required)")
				f.StringVar(&kind, "misconduct", "", "unavailable, data_lost, data_corrupted, protocol_violation or double_signed_receipt (required)")
				f.StringVar(&digest, "evidence-digest", "", "digest of evidence kept elsewhere: 64 hex digits or text (hashed)")
				f.StringVar(&file, "evidence-file", "", "attach this file as evidence (at most 4096 bytes; its digest is recorded too)")
				return func(ks keystore.Store, chainID string) (ledger.Event, error) {
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
