package e2e

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/ledger"
)

// TestObjectiveAudits is issue 12 on a real node, through the CLI: a customer cannot frame an
// honest supplier (a valid answer presented as failing, or the old digest evidence, is refused
// and nobody's view of the supplier changes), while a supplier that really lost its bytes is
// proven so by its own signed commitment and answer, for every observer.
func TestObjectiveAudits(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "4")
	n.start()
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	keys := map[string]string{}
	for _, k := range []string{"alice", "bob", "carol"} {
		var ks struct {
			PublicKey string `json:"public_key"`
		}
		n.jsonCLI(&ks, "keys", "add", k)
		keys[k] = ks.PublicKey
		n.mustCLI("tx", "register", "--from", k)
	}
	for _, customer := range []string{"alice", "carol"} {
		open := []string{"--customer", customer, "--supplier", "bob", "--contract-id", "c-" + customer, "--bytes", "1000000", "--duration", "1000"}
		sig := strings.TrimSpace(n.mustCLI(append([]string{"sign", "contract-open", "--from", "bob"}, open...)...))
		n.mustCLI(append([]string{"tx", "contract-open", "--from", customer, "--countersig", sig}, open...)...)
	}
	// carol's good experience of bob: 25 passed audits.
	var passes []ledger.Event
	carol, _ := ledger.ParsePubKey(keys["carol"])
	bob, _ := ledger.ParsePubKey(keys["bob"])
	for i := 0; i < 25; i++ {
		cid, _ := ledger.ParseID(hexID("c-carol"))
		chd, _ := ledger.ParseID(hexID("carol-" + itoa(int64(i))))
		passes = append(passes, &ledger.AuditResult{ContractID: cid, Number: uint64(i + 1), Customer: carol, Supplier: bob, ChallengeDigest: chd, Passed: true})
	}
	n.mustCLI("tx", "batch", "--from", "carol", "--file", batchFile(t, dir, "passes.jsonl", passes...))
	carolView := func() trustScore {
		var s trustScore
		n.jsonCLI(&s, "trust", "score", "bob", "--observer", "carol", "--explain")
		return s
	}
	before := carolView()
	if !before.Score.Eligible {
		t.Fatalf("bob is not eligible for carol to begin with: %+v", before.Score)
	}

	// bob stores alice's shard (200 KiB) and commits to it; alice checks it against her copy.
	data := make([]byte, 200*1024+77)
	rand.Read(data)
	if err := os.WriteFile(file("shard"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	n.mustCLI("sign", "commitment", "--from", "bob", "--customer", "alice", "--contract-id", "c-alice", "--shard", file("shard"),
		"--output-file", file("commitment.json"))
	if out := n.mustCLI("audit", "check", "--commitment", file("commitment.json"), "--shard", file("shard")); !strings.Contains(out, "exactly your copy") {
		t.Fatalf("commitment check:\n%s", out)
	}
	audit := []string{"tx", "audit", "--from", "alice", "--customer", "alice", "--supplier", "bob", "--contract-id", "c-alice", "-o", "json"}
	challenge := func(name string) string {
		n.mustCLI("audit", "challenge", "--commitment", file("commitment.json"), "--output-file", file(name))
		return file(name)
	}
	answer := func(ch, name string) (string, string) {
		_, errOut, code := n.cli("sign", "audit-answer", "--from", "bob", "--commitment", file("commitment.json"), "--challenge-file", ch,
			"--shard", file("shard"), "--output-file", file(name))
		if code != 0 {
			t.Fatalf("sign audit-answer: exit %d %s", code, errOut)
		}
		return file(name), errOut
	}

	// An honest answer records a pass.
	ch1 := challenge("ch1.json")
	a1, _ := answer(ch1, "a1.json")
	n.mustCLI(append(audit, "--commitment", file("commitment.json"), "--challenge-file", ch1, "--answer", a1)...)

	// Framing: the CLI refuses to call a verifying answer a failure ...
	if _, errOut, code := n.cli(append(audit, "--result", "fail", "--commitment", file("commitment.json"), "--challenge-file", ch1, "--answer", a1)...); code == 0 || !strings.Contains(errOut, "the audit passed") {
		t.Fatalf("fail with an honest answer through the CLI: exit %d %q", code, errOut)
	}
	// ... and the ledger refuses it from a hand-made batch: bad_evidence, exit 2.
	var c ledger.StorageCommitment
	var a ledger.AuditAnswer
	readJSON(t, file("commitment.json"), &c)
	readJSON(t, a1, &a)
	var ch ledger.AuditChallenge
	readJSON(t, ch1, &ch)
	framed := &ledger.AuditResult{ContractID: c.ContractID, Number: ch.Number, Customer: c.Customer, Supplier: c.Supplier, ChallengeDigest: ch.Digest(),
		Evidence: ledger.NewAuditEvidence(&c, &a, 0)}
	if _, errOut, code := n.cli("tx", "batch", "--from", "alice", "--file", batchFile(t, dir, "framed.jsonl", framed)); code != 2 || !strings.Contains(errOut, "bad_evidence") || !strings.Contains(errOut, "proves no failure") {
		t.Fatalf("framed evidence: exit %d %q, want 2 and bad_evidence", code, errOut)
	}
	// The old evidence form (the sequence: digests of the customer's choosing).
	old := `{"kind":"audit_result","event":{"contract_id":"` + hexID("c-alice") + `","customer":"` + keys["alice"] + `","supplier":"` + keys["bob"] +
		`","challenge_digest":"` + hexID("ch-x") + `","passed":false,"evidence":{"answer_digest":"` + hexID("correct answer") +
		`","expected_digest":"` + hexID("made up") + `","supplier_sig":"` + strings.Repeat("00", 64) + `"}}}` + "\n"
	if err := os.WriteFile(file("old.jsonl"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := n.cli("tx", "batch", "--from", "alice", "--file", file("old.jsonl")); code == 0 || !strings.Contains(errOut, "format 1") || !strings.Contains(errOut, "no longer accepted") {
		t.Fatalf("old evidence form: exit %d %q", code, errOut)
	}
	if _, errOut, code := n.cli(append(audit, "--result", "fail", "--challenge", "ch-x", "--evidence-answer", hexID("x"))...); code == 0 || !strings.Contains(errOut, "unknown flag") {
		t.Fatalf("the old evidence flags: exit %d %q", code, errOut)
	}
	if after := carolView(); after.Score.Score != before.Score.Score || !after.Score.Eligible || after.Score.Proof != nil {
		t.Fatalf("carol's view of bob changed after the framing attempts: %+v, before %+v", after.Score, before.Score)
	}

	// bob really loses bytes (his disk flips them all); his own signed answer proves it.
	for i := range data {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(file("shard"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ch2 := challenge("ch2.json")
	a2, warning := answer(ch2, "a2.json")
	if !strings.Contains(warning, "no longer matches your commitment") {
		t.Errorf("bob was not warned that his answer proves the loss: %q", warning)
	}
	if _, errOut, code := n.cli("audit", "check", "--commitment", file("commitment.json"), "--challenge-file", ch2, "--answer", a2); code == 0 || !strings.Contains(errOut, "with proof") {
		t.Fatalf("audit check of the lost bytes: exit %d %q", code, errOut)
	}
	n.mustCLI(append(audit, "--commitment", file("commitment.json"), "--challenge-file", ch2, "--answer", a2)...)
	var rel struct {
		AboutB struct {
			Proven uint64 `json:"audits_failed_proven"`
			Passed uint64 `json:"audits_passed"`
		} `json:"about_b_from_a"`
	}
	n.jsonCLI(&rel, "query", "relation", "alice", "bob")
	if rel.AboutB.Proven != 1 || rel.AboutB.Passed != 1 {
		t.Fatalf("alice→bob: %+v, want one pass and one proven failure", rel.AboutB)
	}
	after := carolView()
	text := strings.Join(after.Explanation, "\n")
	if after.Score.Eligible || after.Score.Proof == nil || after.Score.Score != 0 || !strings.Contains(text, "proven") {
		t.Fatalf("carol's view of bob after the proof: %+v\n%s", after.Score, text)
	}

	// The signing journal: no second, different statement under one name, across processes.
	data[0] ^= 1
	if err := os.WriteFile(file("shard2"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := n.cli("sign", "commitment", "--from", "bob", "--customer", "alice", "--contract-id", "c-alice", "--shard", file("shard2"),
		"--shard-id", c.ShardID.String()); code == 0 || !strings.Contains(errOut, "already signed another storage commitment") {
		t.Fatalf("a second commitment to the same shard: exit %d %q", code, errOut)
	}
	if _, errOut, code := n.cli("sign", "audit-answer", "--from", "bob", "--commitment", file("commitment.json"), "--challenge-file", ch2,
		"--shard", file("shard2")); code == 0 || !strings.Contains(errOut, "already signed another audit answer") {
		t.Fatalf("a second answer to one challenge: exit %d %q", code, errOut)
	}
	receipt := func(byteSeconds string) []string {
		return []string{"sign", "receipt", "--from", "alice", "--customer", "alice", "--supplier", "bob", "--contract-id", "c-alice",
			"--number", "1", "--period-start", "100", "--period-end", "200", "--byte-seconds", byteSeconds}
	}
	first := n.mustCLI(receipt("1000")...)
	if again := n.mustCLI(receipt("1000")...); again != first {
		t.Errorf("the same receipt signed twice gives %q then %q", first, again)
	}
	if _, errOut, code := n.cli(receipt("999999")...); code == 0 || !strings.Contains(errOut, "already signed another receipt") {
		t.Fatalf("a second receipt under number 1: exit %d %q", code, errOut)
	}
	// A crash after the journal write and before the signature: nothing is printed, and the
	// journal still holds the name: another receipt 2 is refused, the same one signs.
	second := func(bs string) []string {
		r := receipt(bs)
		r[11] = "2"
		return r
	}
	if out, _, code := n.cliEnv("TRUSTD_TEST_EXIT_AFTER_JOURNAL=1", second("5")...); code != 3 || out != "" {
		t.Fatalf("crash hook: exit %d, printed %q", code, out)
	}
	if _, errOut, code := n.cli(second("6")...); code == 0 || !strings.Contains(errOut, "already signed another receipt") {
		t.Fatalf("after the crash, another receipt 2: exit %d %q", code, errOut)
	}
	if out := n.mustCLI(second("5")...); len(strings.TrimSpace(out)) != 128 {
		t.Fatalf("after the crash, the same receipt 2: %q", out)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// batchFile writes events as a `trustd tx batch` file.
func batchFile(t *testing.T, dir, name string, evs ...ledger.Event) string {
	t.Helper()
	var b strings.Builder
	for _, ev := range evs {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(struct {
			Kind  string          `json:"kind"`
			Event json.RawMessage `json:"event"`
		}{ev.Kind().String(), raw})
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
