package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// tamperingProxy forwards RPC to the node but flips the last byte of every /store query value
// (abci_query answers that carry a key), as a lying RPC endpoint would. Headers and commits
// pass through untouched.
func tamperingProxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(strings.Replace(target, "tcp://", "http://", 1))
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var msg map[string]any
		if json.Unmarshal(body, &msg) == nil {
			if r, ok := msg["result"].(map[string]any); ok {
				if q, ok := r["response"].(map[string]any); ok {
					if v, ok := q["value"].(string); ok && v != "" && q["key"] != nil {
						raw, _ := base64.StdEncoding.DecodeString(v)
						raw[len(raw)-1] ^= 0x01
						q["value"] = base64.StdEncoding.EncodeToString(raw)
						body, _ = json.Marshal(msg)
					}
				}
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

// TestProveRejectsTamperedAnswer: through a proxy that alters query values, `--prove` fails and
// never prints "verified"; through the honest endpoint it verifies.
func TestProveRejectsTamperedAnswer(t *testing.T) {
	n := newNode(t, "--pow-difficulty", "4")
	n.start()
	n.mustCLI("keys", "add", "alice")
	n.mustCLI("tx", "register", "--from", "alice", "--capacity", "77")

	if out := n.mustCLI("query", "node", "alice", "--prove"); !strings.Contains(out, "verified:") {
		t.Fatalf("honest endpoint: no verification line:\n%s", out)
	}
	proxy := tamperingProxy(t, n.rpcAddr)
	out, errOut, code := n.cli("--node", proxy.URL, "query", "node", "alice", "--prove")
	if code == 0 || strings.Contains(out, "verified") || !strings.Contains(errOut, "proof does not verify") {
		t.Fatalf("tampered answer: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}
