package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustledger/trustledger/api"
)

// offlineScores is `trustd trust scores -o json`: per observer, every subject's score.
type offlineScores struct {
	Views []struct {
		Scores []struct {
			Subject string  `json:"subject"`
			Score   float64 `json:"score"`
		} `json:"scores"`
	} `json:"views"`
}

// trustScore is `trustd trust score -o json`: the node's answer and the explanation.
type trustScore struct {
	api.ScoreAnswer
	Explanation []string `json:"explanation"`
}

func hexID(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// TestTrustScores: a running node computes the observer's own scores as blocks commit; claims
// without history are ignored and said so; export + offline scoring gives the same numbers,
// byte-identical on reruns; a restart rebuilds the same scores from history.
func TestTrustScores(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "4")
	n.start()
	keys := map[string]string{}
	for _, k := range []string{"alice", "bob", "eve"} {
		keys[k] = strings.TrimSpace(n.mustCLI("keys", "add", k, "-o", "json"))
		var ks struct {
			PublicKey string `json:"public_key"`
		}
		_ = json.Unmarshal([]byte(keys[k]), &ks)
		keys[k] = ks.PublicKey
		n.mustCLI("tx", "register", "--from", k)
	}
	open := []string{"--customer", "alice", "--supplier", "bob", "--contract-id", "c-1", "--bytes", "100", "--duration", "100"}
	sig := strings.TrimSpace(n.mustCLI(append([]string{"sign", "contract-open", "--from", "bob"}, open...)...))
	n.mustCLI(append([]string{"tx", "contract-open", "--from", "alice", "--countersig", sig}, open...)...)

	var audits, reports strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&audits, `{"kind":"audit_result","event":{"contract_id":"%s","number":%d,"customer":"%s","supplier":"%s","challenge_digest":"%s","passed":true}}`+"\n",
			hexID("c-1"), i+1, keys["alice"], keys["bob"], hexID(fmt.Sprint("challenge", i)))
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&reports, `{"kind":"misbehavior_report","event":{"accused":"%s","misconduct":1,"evidence_digest":"%s"}}`+"\n", keys["bob"], hexID(fmt.Sprint(i)))
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The JSON result counts the ledger's events of the tx (issue 16: it said 1, CometBFT's count).
	var res struct {
		Events int `json:"events"`
	}
	n.jsonCLI(&res, "tx", "batch", "--from", "alice", "--file", write("audits.jsonl", audits.String()))
	if res.Events != 30 {
		t.Errorf("tx batch -o json says %d events, want 30", res.Events)
	}
	n.mustCLI("tx", "batch", "--from", "eve", "--file", write("reports.jsonl", reports.String()))
	if _, errOut, code := n.cli("tx", "batch", "--from", "eve", "--file", write("bad.jsonl", `{"kind":"audit_result","event":{"nope":1}}`)); code == 0 || !strings.Contains(errOut, "line 1") {
		t.Errorf("bad batch file: exit %d %q", code, errOut)
	}

	var s trustScore
	n.jsonCLI(&s, "trust", "score", "bob", "--observer", "alice", "--explain")
	text := strings.Join(s.Explanation, "\n")
	if !s.Score.Eligible || !s.Score.Vetted || s.Score.Rate < 0.99 {
		t.Fatalf("bob from alice's view: %+v\n%s", s.Score, text)
	}
	for _, want := range []string{"30 of your audits passed", "3 claims by eve carry no weight"} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
	var eveView trustScore
	n.jsonCLI(&eveView, "trust", "score", "bob", "--observer", "eve")
	// eve has no experience of her own (her reports carry no weight), so her view starts from
	// every node alike, the public's (specs/trust.md §3.1), and sees alice's experience of bob.
	if eveView.Score.PublicShare != 1 || eveView.Score.Recommendation == nil || eveView.Score.Recommendation.Rate < 0.99 {
		t.Errorf("eve's view of bob, with no experience of her own: %+v", eveView.Score)
	}
	if top := n.mustCLI("trust", "top", "--observer", "alice"); !strings.Contains(strings.Split(top, "\n")[1], "bob") {
		t.Errorf("bob is not alice's top node:\n%s", top)
	}

	export := filepath.Join(dir, "ledger.jsonl")
	n.mustCLI("export", "--output-file", export)
	offline := func() string {
		return n.mustCLI("trust", "scores", "--export", export, "--observer", "alice", "--observer", "eve", "-o", "json")
	}
	first := offline()
	if second := offline(); first != second {
		t.Fatal("offline scores differ between two runs over the same export")
	}
	var off offlineScores
	if err := json.Unmarshal([]byte(first), &off); err != nil {
		t.Fatal(err)
	}
	if len(off.Views) != 2 || off.Views[0].Scores[0].Subject != keys["bob"] || off.Views[0].Scores[0].Score != s.Score.Score ||
		s.Score.Subject.String() != keys["bob"] {
		t.Errorf("offline view of alice: %+v, node said %v", off.Views, s.Score.Score)
	}

	n.kill()
	n.start()
	var again trustScore
	n.jsonCLI(&again, "trust", "score", "bob", "--observer", "alice")
	if again.Score.Score != s.Score.Score {
		t.Errorf("score after restart %v, before %v", again.Score.Score, s.Score.Score)
	}
}
