package node_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustledger/trustledger/node"
	"github.com/trustledger/trustledger/node/keystore"
	"github.com/trustledger/trustledger/node/nodetest"
)

// TestExplorerService: the explorer is a service of its own (issue 15): it answers at its
// address, its port closes when it is stopped and opens when it starts again, and with the
// trust service stopped its trust pages say so (503) while the rest answer.
func TestExplorerService(t *testing.T) {
	n := nodetest.New(t, nodetest.Options{})
	alice := nodetest.Key("alice")
	nodetest.Register(t, n.Client(), alice)
	url := n.ExplorerURL()
	if url == "" {
		t.Fatal("the explorer service is not running")
	}
	get := func(path string) (int, string) {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(url + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "Registered nodes") {
		t.Fatalf("home page: %d %.200s", code, body)
	}
	ctx := context.Background()
	if _, err := n.Services().Stop(node.ServiceExplorer, false); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/"); code != 0 || n.ExplorerURL() != "" {
		t.Fatalf("a stopped explorer answered %d (url %q)", code, n.ExplorerURL())
	}
	if _, err := n.Services().Start(ctx, node.ServiceExplorer, false); err != nil {
		t.Fatal(err)
	}
	url = n.ExplorerURL()
	if code, _ := get("/"); code != 200 {
		t.Fatalf("after a start: %d", code)
	}
	if _, err := n.Services().Stop(node.ServiceTrust, false); err != nil {
		t.Fatal(err)
	}
	key := keystore.PubKey(alice).String()
	if code, body := get("/trust/" + key); code != 503 || !strings.Contains(body, "stopped") {
		t.Fatalf("trust page with the trust service stopped: %d %.300s", code, body)
	}
	if code, _ := get("/node/" + key); code != 200 {
		t.Fatalf("node page with the trust service stopped: %d", code)
	}
}
