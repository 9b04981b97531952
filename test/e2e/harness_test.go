package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/trustledger/trustledger/node/nodetest"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// trustdBin returns the binary under test: $TRUSTD_BIN, or one built once for this test run.
func trustdBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("TRUSTD_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trustd-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "trustd")
		out, err := exec.Command("go", "build", "-tags", "badgerdb", "-o", builtBin, "github.com/trustledger/trustledger/cmd/trustd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build trustd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freePort asks the kernel for an unused loopback port.
func freePort(t *testing.T) int { return nodetest.FreePort(t) }

// node is one trustd process and its home.
type node struct {
	t       *testing.T
	bin     string
	home    string
	rpcAddr string
	metrics string
	// explorer is the explorer's host:port.
	explorer string
	cmd      *exec.Cmd
	done     chan error
	logs     int
}

func newNode(t *testing.T, initArgs ...string) *node {
	t.Helper()
	n := &node{t: t, bin: trustdBin(t), home: t.TempDir()}
	n.rpcAddr = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	n.metrics = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	n.explorer = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"init", "--chain-id", "e2e-chain", "--rpc.laddr", n.rpcAddr,
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--instrumentation.prometheus_listen_addr", n.metrics, "--explorer.laddr", n.explorer}, initArgs...)
	n.mustCLI(args...)
	t.Cleanup(func() { n.kill() })
	return n
}

// start launches the node with extra environment and waits until it has committed a block.
func (n *node) start(env ...string) {
	n.t.Helper()
	n.launch(env...)
	n.waitHeight(1, 60*time.Second)
}

// launch starts the node process without waiting.
func (n *node) launch(env ...string) {
	n.t.Helper()
	n.logs++
	logPath := filepath.Join(n.home, fmt.Sprintf("node-%d.log", n.logs))
	logFile, err := os.Create(logPath)
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd = exec.Command(n.bin, "start", "--home", n.home)
	// CometBFT's every step in the test's node log (a new home logs quietly), for tailLog.
	n.cmd.Env = append(append(os.Environ(), "TRUSTD_LOG_LEVEL=info"), env...)
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait(); logFile.Close() }()
}

func (n *node) rpc() *rpchttp.HTTP {
	c, err := rpchttp.NewWithTimeout(n.rpcAddr, "/websocket", 5)
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// height returns the latest committed height, or -1 if the node does not answer.
func (n *node) height() int64 {
	st, err := n.rpc().Status(context.Background())
	if err != nil {
		return -1
	}
	return st.SyncInfo.LatestBlockHeight
}

func (n *node) waitHeight(h int64, within time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-n.done:
			n.t.Fatalf("node exited while waiting for height %d: %v\n%s", h, err, n.tailLog())
		default:
		}
		if n.height() >= h {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.t.Fatalf("node did not reach height %d within %s\n%s", h, within, n.tailLog())
}

// appHashAt returns the app hash committed by height h, from header h+1.
func (n *node) appHashAt(h int64) string {
	n.t.Helper()
	n.waitHeight(h+1, 30*time.Second)
	h1 := h + 1
	c, err := n.rpc().Commit(context.Background(), &h1)
	if err != nil {
		n.t.Fatal(err)
	}
	return c.Header.AppHash.String()
}

func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
		}
		n.cmd = nil
	}
}

// waitExit waits for the node to exit by itself and returns its exit code.
func (n *node) waitExit(within time.Duration) int {
	n.t.Helper()
	select {
	case err := <-n.done:
		n.cmd = nil
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			n.t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		n.t.Fatalf("node did not exit within %s\n%s", within, n.tailLog())
	}
	return -1
}

func (n *node) tailLog() string {
	b, _ := os.ReadFile(filepath.Join(n.home, fmt.Sprintf("node-%d.log", n.logs)))
	lines := strings.Split(string(b), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// cli runs trustd against this node; it returns stdout, stderr and the exit code.
func (n *node) cli(args ...string) (string, string, int) {
	n.t.Helper()
	return n.cliEnv("", args...)
}

// cliEnv is cli with one extra environment variable (NAME=value), or none if env is empty.
func (n *node) cliEnv(env string, args ...string) (string, string, int) {
	n.t.Helper()
	full := append([]string{"--home", n.home, "--node", n.rpcAddr}, args...) // a later --node wins
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, full...)
	cmd.Env = append(os.Environ(), "TRUSTD_PASSPHRASE=e2e passphrase")
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("run trustd %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (n *node) mustCLI(args ...string) string {
	n.t.Helper()
	out, errOut, code := n.cli(args...)
	if code != 0 {
		n.t.Fatalf("trustd %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// jsonCLI runs a command with -o json and decodes its output.
func (n *node) jsonCLI(v any, args ...string) {
	n.t.Helper()
	out := n.mustCLI(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		n.t.Fatalf("trustd %v: output is not JSON: %v\n%s", args, err, out)
	}
}
